"""ICAO 9303 TD1 machine-readable zone as Vietnamese ID cards fill it.

Line 1 carries the last 9 digits of the personal ID number as document number and the
full 12-digit number in the optional data (positions 16-27) with its own check digit at
position 30; see shared/reference/identity-papers.md section 3. `parse_td1` repairs
OCR confusions position by position, then lets the check digits pick among look-alikes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

from digitize.extract.dates import parse_yymmdd
from digitize.extract.lexicon import is_known_folded
from digitize.extract.names import fold_mrz_name

__all__ = [
    "MrzData",
    "check_digit",
    "clean_mrz_line",
    "compose_td1",
    "fit_td1_lines",
    "parse_td1",
]

_WEIGHTS = (7, 3, 1)
_WIDTH = 30
_MIN_LINE = 5  # shorter OCR lines are noise; a short name line (`LY<<AN`) is not

# What each position holds: N digit, A letter, S sex, F filler `<`, X any.
_TEMPLATE_L1 = "AAAAA" + "N" * 9 + "N" + "N" * 12 + "FF" + "N"
_TEMPLATE_L2 = "NNNNNN" + "N" + "S" + "NNNNNN" + "N" + "AAA" + "F" * 11 + "N"
# OCR confusions by the kind of position (identity-papers.md section 5).
_AS_DIGIT = str.maketrans("OQDUILZSGBAT", "000011256847")
_AS_LETTER = str.maketrans("01256848", "OIZSGBAB")
_SPLIT_O = re.compile(r"[OQ]?0[OQ0]*")
# OCR-B letters Tesseract takes for one another in names.
_NAME_LOOKALIKES = {
    "T": "I", "I": "TL", "L": "I", "O": "DQ", "D": "O",
    "H": "N", "N": "HM", "M": "N", "U": "V", "V": "U",
}  # fmt: skip
_PIN_AT_END = re.compile(r"([0-9]{12})<{1,3}([0-9])<*$")
_Q_WITHOUT_U = re.compile(r"QO|OQ(?!U)")  # Vietnamese writes Q only before U
_FILLER_LOOKALIKES = "«\u2039(KC[{£"
# Digits OCR-B digits are mistaken for, tried one at a time against a check digit.
_DIGIT_NEIGHBOURS = {
    "0": "869",
    "1": "74",
    "2": "7",
    "3": "85",
    "4": "1",
    "5": "63",
    "6": "580",
    "7": "12",
    "8": "0369",
    "9": "80",
}
# (name, line, data slice, check-digit index) of the four field check digits.
_FIELDS = (
    ("docno", 0, slice(5, 14), 14),
    ("pin", 0, slice(15, 27), 29),
    ("dob", 1, slice(0, 6), 6),
    ("expiry", 1, slice(8, 14), 14),
)


@dataclass(frozen=True)
class MrzData:
    """What a Vietnamese TD1 MRZ says, after repair, with the checks it passed."""

    lines: tuple[str, str, str]
    document_number: str
    pin: str
    date_of_birth: str | None
    sex: str | None
    expiry_date: str | None
    nationality: str
    name: str
    checks_passed: tuple[str, ...]
    checks_failed: tuple[str, ...]
    repairs: int

    def passed(self, check: str) -> bool:
        """True when check `check` (e.g. `mrz.check.pin`) passed."""
        return check in self.checks_passed

    @property
    def any_check_digit_passed(self) -> bool:
        """True when at least one check digit holds: the lines are a real MRZ."""
        return any(c.startswith("mrz.check.") for c in self.checks_passed)


def _char_value(char: str) -> int:
    if char.isdigit():
        return int(char)
    if "A" <= char <= "Z":
        return ord(char) - ord("A") + 10
    if char == "<":
        return 0
    raise ValueError(f"character {char!r} is not allowed in an MRZ")


def check_digit(data: str) -> str:
    """ICAO 7-3-1 check digit of `data` as a one-character string."""
    total = sum(_char_value(c) * _WEIGHTS[i % 3] for i, c in enumerate(data))
    return str(total % 10)


def _pad(text: str, width: int = _WIDTH) -> str:
    return (text + "<" * width)[:width]


def compose_td1(
    *,
    id_number: str,
    dob_yymmdd: str,
    sex: str,
    expiry_yymmdd: str,
    name_mrz: str,
) -> list[str]:
    """The three 30-character lines of a Vietnamese chip card's MRZ.

    `name_mrz` is the folded name already in MRZ form, e.g. `NGUYEN<<VAN<A`.
    """
    doc = id_number[3:]
    line1 = _pad(f"IDVNM{doc}{check_digit(doc)}{id_number}<<{check_digit(id_number)}")
    line2 = (
        f"{dob_yymmdd}{check_digit(dob_yymmdd)}{sex}"
        f"{expiry_yymmdd}{check_digit(expiry_yymmdd)}VNM"
    )
    line2 = _pad(line2, 29)
    line2 += check_digit(_composite_data(line1, line2))
    return [line1, line2, _pad(name_mrz)]


def _composite_data(line1: str, line2: str) -> str:
    return line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29]


def clean_mrz_line(text: str) -> str:
    """Upper-case OCR text of one MRZ line with only `A-Z 0-9 <` left.

    Tesseract often reads `<<` as one `«`: guillemets become `<<` while the line is
    short of 30 characters, `<` after that.
    """
    text = re.sub("[^A-Z0-9<«\u2039]", "", text.upper()).replace("\u2039", "<")
    short = _WIDTH - len(text)
    while short > 0 and "«" in text:
        text = text.replace("«", "<<", 1)
        short -= 1
    return text.replace("«", "<")


def parse_td1(lines: list[str]) -> MrzData | None:
    """Parse, repair and check a Vietnamese TD1 MRZ read by OCR.

    Returns None when the lines do not look like one (fewer than two lines, or line 1
    does not open with `IDVNM` even after repair).
    """
    fitted = fit_td1_lines(lines)
    if fitted is None:
        return None
    raw = (fitted[0], fitted[1], fitted[2])
    read = [_pad(c) for c in map(clean_mrz_line, lines) if len(c) >= _MIN_LINE][:3]
    read += [_pad("")] * (3 - len(read))
    fixed = [
        _repair_by_template(raw[0], _TEMPLATE_L1),
        _repair_by_template(raw[1], _TEMPLATE_L2),
        _repair_name_line(raw[2]),
    ]
    _repair_pin_pair(fixed)
    for _, line, data, check in _FIELDS:
        _repair_field(fixed, line, data, check)
    _repair_composite(fixed)
    # Characters of lines 1-2 changed from what OCR read (the name line has no check
    # digit to vouch for a repair; a shifted line counts every shift).
    pairs = zip("".join(read[:2]), "".join(fixed[:2]), strict=True)
    repairs = sum(a != b for a, b in pairs)
    return _read_fields((fixed[0], fixed[1], fixed[2]), repairs)


def fit_td1_lines(lines: list[str]) -> list[str] | None:
    """OCR lines cleaned and fitted to 30 characters along the TD1 layout.

    OCR often reads a run of fillers with too many or too few `<`: a line of the
    wrong length keeps its data fields and its final check digit and gets the
    fillers it should have. None when there are fewer than two lines or line 1 does
    not open with `IDVNM`, even after repair.
    """
    cleaned = [clean_mrz_line(line) for line in lines]
    cleaned = [line for line in cleaned if len(line) >= _MIN_LINE]
    if len(cleaned) < 2:
        return None
    line1 = _align_line1(cleaned[0])
    if line1 is None:
        return None
    line1 = _rebuild_line1(line1) or _fit_fillers(line1, 27, 2)
    line2 = _fit_fillers(cleaned[1], 18, 11)
    line3 = cleaned[2] if len(cleaned) > 2 else ""
    end = line3.find("<<<")  # names hold `<<` and `<` but never three in a row
    return [line1, line2, _pad(line3[:end] if end >= 0 else line3)]


def _rebuild_line1(line: str) -> str | None:
    """Line 1 rebuilt from its full PIN when a character slipped in or out before it.

    The PIN with its own check digit at the end of the line, and its last nine
    digits with their check digit standing before it as the document number (one
    character off at most), fix every position of line 1. None unless the line is
    misaligned and both hold.
    """
    if len(line) == _WIDTH and _passes([line], 0, slice(15, 27), 29):
        return None
    found = _PIN_AT_END.search(line)
    if not found:
        return None
    pin, check = found.groups()
    docno = pin[3:]
    expected = docno + check_digit(docno)
    between = line[5 : found.start()]  # the document number as read, one slip off
    if check_digit(pin) != check or Levenshtein.distance(between, expected) > 1:
        return None
    return f"IDVNM{expected}{pin}<<{check}"


def _align_line1(line: str) -> str | None:
    """Line 1 shifted so that `VNM` sits at positions 3-5, or None when absent."""
    head = line[:8].translate(_AS_LETTER)
    found = head.find("VNM")
    if found < 0:
        found = next((i for i in range(1, 4) if head[i : i + 2] == "VN"), -1)
    if found < 0:
        return None
    return "IDVNM" + line[found + 3 :]


def _fit_fillers(line: str, start: int, count: int) -> str:
    """`count` fillers from `start`, then the check digit, when the run was misread."""
    middle = line[start:-1]
    if len(line) == _WIDTH or len(line) <= start or not middle:
        return _pad(line)
    if all(c == "<" or c in _FILLER_LOOKALIKES for c in middle):
        return line[:start] + "<" * count + line[-1]
    return _pad(line)


def _repair_by_template(line: str, template: str) -> str:
    out = []
    for char, kind in zip(line, template, strict=True):
        if kind == "N":
            char = char.translate(_AS_DIGIT)
        elif kind == "A":
            char = char.translate(_AS_LETTER)
        elif (kind == "F" and char in _FILLER_LOOKALIKES) or (
            kind == "S" and char not in "MF"
        ):
            char = "<"
        out.append(char)
    return "".join(out)


def _repair_name_line(line: str) -> str:
    """Digits to letters; filler look-alikes to `<` after the last name part."""
    # Tesseract splits a bold O into `O0` or `0Q`; Vietnamese names hold neither
    # `OO` nor a `Q` without `U`, so such a run is one O.
    line = _pad(_SPLIT_O.sub("O", line)).translate(_AS_LETTER)
    line = _Q_WITHOUT_U.sub("O", line)
    last_word = max((m.end() for m in re.finditer(r"[A-Z]{2,}", line)), default=0)
    head, tail = line[:last_word], line[last_word:]
    tail = "".join("<" if c in _FILLER_LOOKALIKES else c for c in tail)
    return head + tail


def _passes(lines: list[str], line: int, data: slice, check: int) -> bool:
    text = lines[line]
    return _is_checkable(text[data]) and check_digit(text[data]) == text[check]


def _is_checkable(text: str) -> bool:
    return re.fullmatch(r"[A-Z0-9<]*", text) is not None


def _replace(line: str, start: int, text: str) -> str:
    return line[:start] + text + line[start + len(text) :]


def _repair_pin_pair(lines: list[str]) -> None:
    """The document number is PIN digits 4-12: the half that checks fixes the other."""
    docno_ok = _passes(lines, 0, slice(5, 14), 14)
    pin_ok = _passes(lines, 0, slice(15, 27), 29)
    line = lines[0]
    if docno_ok and not pin_ok:
        candidate = _replace(line, 18, line[5:14])
        if _passes([candidate], 0, slice(15, 27), 29):
            lines[0] = candidate
        # Otherwise the error may sit in the province digits, which only the PIN has.
    elif pin_ok and not docno_ok:
        candidate = _replace(line, 5, line[18:27])
        if _passes([candidate], 0, slice(5, 14), 14):
            lines[0] = candidate
        elif line[18:27] == line[5:14]:
            lines[0] = _replace(line, 14, check_digit(line[5:14]))


def _repair_field(lines: list[str], line: int, data: slice, check: int) -> None:
    """Try every one-character look-alike; keep the repair only when it is unique."""
    if _passes(lines, line, data, check):
        return
    text = lines[line]
    fixes = []
    for pos in [*range(data.start, data.stop), check]:
        for alt in _DIGIT_NEIGHBOURS.get(text[pos], ""):
            candidate = _replace(text, pos, alt)
            if _passes([candidate], 0, data, check):
                fixes.append(candidate)
    if len(fixes) > 1:
        fixes = [c for c in fixes if _composite_ok(_with(lines, line, c))]
    # LIMITATION: a slip that several look-alikes would mend is left alone -> the
    # field fails its check digit and goes to review.
    if len(fixes) == 1:
        lines[line] = fixes[0]


def _with(lines: list[str], index: int, text: str) -> list[str]:
    return [text if i == index else line for i, line in enumerate(lines)]


def _composite_ok(lines: list[str]) -> bool:
    data = _composite_data(lines[0], lines[1])
    return _is_checkable(data) and check_digit(data) == lines[1][29]


def _repair_composite(lines: list[str]) -> None:
    """When every field checks but the composite does not, try a blank optional area."""
    if _composite_ok(lines) or not all(_passes(lines, *f[1:]) for f in _FIELDS):
        return
    blank = _replace(lines[1], 18, "<" * 11)
    if _composite_ok(_with(lines, 1, blank)):
        lines[1] = blank


def _read_fields(lines: tuple[str, str, str], repairs: int) -> MrzData:
    line1, line2, line3 = lines
    pin = line1[15:27]
    checks = {
        f"mrz.check.{name}": _passes(list(lines), line, data, check)
        for name, line, data, check in _FIELDS
    }
    checks["mrz.check.composite"] = _composite_ok(list(lines))
    checks["mrz.docno_vs_pin"] = line1[5:14] == pin[3:]
    expiry = parse_yymmdd(line2[8:14], 2000)
    pin_ok = checks["mrz.check.pin"] or checks["mrz.check.docno"]
    century = _birth_century(pin if pin_ok else "", line2[0:2], expiry)
    return MrzData(
        lines=lines,
        document_number=line1[5:14],
        pin=pin,
        date_of_birth=parse_yymmdd(line2[0:6], century),
        sex=line2[7] if line2[7] in "MF" else None,
        expiry_date=expiry,
        nationality=line2[15:18],
        name=_read_name(line3),
        checks_passed=tuple(k for k, ok in checks.items() if ok),
        checks_failed=tuple(k for k, ok in checks.items() if not ok),
        repairs=repairs,
    )


def _birth_century(pin: str, yy: str, expiry: str | None) -> int:
    """Century of the birth year: from PIN digit 4 when it gives 1900 or 2000.

    A PIN that says 2100 or later cannot belong to a living holder (the reference
    example `123456789012` does), and one whose check digits fail (given as "") may
    be shifted: then the latest century putting the birth before the expiry date
    wins, and the PIN/birth-year check flags any disagreement.
    """
    if len(pin) > 3 and pin[3].isdigit() and int(pin[3]) < 4:
        return 1900 + 100 * (int(pin[3]) // 2)
    if expiry and yy.isdigit() and 2000 + int(yy) < int(expiry[:4]):
        return 2000
    return 1900


def _read_name(line3: str) -> str:
    surname, _, given = line3.partition("<<")
    words = f"{fold_mrz_name(surname)} {fold_mrz_name(given)}".split()
    return " ".join(_mend_name_word(w, first=i == 0) for i, w in enumerate(words))


def _mend_name_word(word: str, *, first: bool) -> str:
    """One OCR-B look-alike (`THAT` for `THAI`) mended when one known name fits.

    The name line has no check digit; a word that is not a known name syllable but
    becomes exactly one by swapping one look-alike letter is taken to be that one.
    """
    if is_known_folded(word, first=first):
        return word
    fits = {
        word[:i] + alt + word[i + 1 :]
        for i, char in enumerate(word)
        for alt in _NAME_LOOKALIKES.get(char, "")
        if is_known_folded(word[:i] + alt + word[i + 1 :], first=first)
    }
    return fits.pop() if len(fits) == 1 else word
