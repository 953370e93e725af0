"""Text accuracy measures shared by the tests and the benchmarks."""

from __future__ import annotations

import unicodedata

from rapidfuzz.distance import Levenshtein

__all__ = ["char_error_rate", "normalise_for_cer"]


def normalise_for_cer(text: str) -> str:
    """NFC with every run of whitespace made one space: layout is not an OCR error."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def char_error_rate(truth: str, read: str) -> float:
    """Levenshtein distance over the truth's length, after `normalise_for_cer`."""
    ref, hyp = normalise_for_cer(truth), normalise_for_cer(read)
    if not ref:
        return 0.0 if not hyp else 1.0
    return Levenshtein.distance(ref, hyp) / len(ref)
