"""Normalisation of Vietnamese text for display (`nfc`) and for matching (`fold`).

Tone marks follow one convention, the traditional placement printed on identity
papers: in an open syllable ending in `oa`, `oe` or `uy` the mark sits on the first
vowel (`HÒA`, `KHỎE`, `THỦY`), never on the last (`HOÀ`, `KHOẺ`, `THUỶ`).
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["fold", "fold_mrz_name", "nfc", "strip_foreign_marks"]

# The five Vietnamese tone marks as combining characters (NFD).
_TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")
# Last two vowels of an open syllable whose tone moves to the first of them.
_MOVABLE_PAIRS = frozenset({"oa", "oe", "uy"})
# Marks of Vietnamese letters: tones, circumflex, breve, horn.
_VIETNAMESE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323\u0302\u0306\u031b")
_SPACES = re.compile(r"\s+")
_NOT_KEY = re.compile(r"[^A-Z0-9]+")
_TAIL = re.compile(r"^(.*?)(\W*)$", re.DOTALL)


def nfc(text: str) -> str:
    """Display form: NFC, NBSP and other blanks to one space, traditional tone marks."""
    text = unicodedata.normalize("NFC", text).replace("\u00a0", " ")
    text = _SPACES.sub(" ", text).strip()
    return " ".join(_place_tone(word) for word in text.split(" "))


def strip_foreign_marks(text: str) -> str:
    """Drop marks Vietnamese never writes (`Ÿ` -> `Y`, `ö` -> `o`), NFC."""
    decomposed = unicodedata.normalize("NFD", text)
    kept = (
        c for c in decomposed if not unicodedata.combining(c) or c in _VIETNAMESE_MARKS
    )
    return unicodedata.normalize("NFC", "".join(kept))


def fold(text: str) -> str:
    """Matching key: no marks, `Đ` to `D`, upper case, only A-Z 0-9 and spaces."""
    decomposed = unicodedata.normalize("NFD", text)
    bare = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    bare = bare.replace("đ", "d").replace("Đ", "D").upper()
    return _NOT_KEY.sub(" ", bare).strip()


def fold_mrz_name(text: str) -> str:
    """Fold an MRZ name (`NGUYEN<<VAN<A`) to `NGUYEN VAN A`."""
    return fold(text.replace("<", " "))


def _place_tone(word: str) -> str:
    """Move the tone mark of `word` to the first vowel of a final `oa`/`oe`/`uy`."""
    core, tail = _TAIL.match(word).groups()  # type: ignore[union-attr]
    letters = _split_letters(unicodedata.normalize("NFD", core))
    if len(letters) < 2:
        return word
    (last_base, last_marks), (prev_base, prev_marks) = letters[-1], letters[-2]
    tone = [m for m in last_marks if m in _TONES]
    pair = (prev_base + last_base).lower()
    if not tone or pair not in _MOVABLE_PAIRS or prev_marks or len(last_marks) > 1:
        return word
    if pair == "uy" and len(letters) > 2 and letters[-3][0].lower() == "q":
        return word  # In `quy` the `u` belongs to the consonant `qu`: `QUÝ` stays.
    letters[-1] = (last_base, "")
    letters[-2] = (prev_base, tone[0])
    rebuilt = "".join(base + marks for base, marks in letters)
    return unicodedata.normalize("NFC", rebuilt) + tail


def _split_letters(decomposed: str) -> list[tuple[str, str]]:
    """Pairs of (base character, its combining marks) of an NFD string."""
    letters: list[tuple[str, str]] = []
    for char in decomposed:
        if unicodedata.combining(char) and letters:
            base, marks = letters[-1]
            letters[-1] = (base, marks + char)
        else:
            letters.append((char, ""))
    return letters
