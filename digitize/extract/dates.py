"""Dates as printed, in QR payloads and in MRZs, to ISO strings that keep precision.

A result is `YYYY-MM-DD` (day known), `YYYY-MM` (month) or `YYYY` (year only); only
real calendar dates between 1880 and 2199 are accepted.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from digitize.extract.digits import DIGITISH, count_digits, repair_digits
from digitize.extract.names import fold, nfc

__all__ = [
    "Precision",
    "date_precision",
    "make_iso",
    "parse_date",
    "parse_date_words",
    "parse_ddmmyyyy",
    "parse_yymmdd",
]

Precision = Literal["day", "month", "year"]

_MIN_YEAR, _MAX_YEAR = 1880, 2199
_D = DIGITISH
# `/` read as `I`, `l`, `|` or `i` is a separator too when digits stand either side.
_SEP = r"\s*[/\-.,Il|i]\s*"
# dd/mm/yyyy with / - . or , between parts; letters stand for digits inside them.
_SEPARATED = re.compile(
    rf"(?<![0-9])({_D}{{1,2}}){_SEP}({_D}{{1,2}}){_SEP}({_D}{{4}})(?![0-9])"
)
_SPACED = re.compile(r"(?<![0-9])(\d{1,2})\s+(\d{1,2})\s+(\d{4})(?![0-9])")
# Slashes read as 1, l, I or |: 01l01l1990.
_SLASH_AS_ONE = re.compile(
    r"(?<![0-9])(\d\d)[1lI|](\d\d)[1lI|]((?:19|20)\d\d)(?![0-9])"
)
_COMPACT = re.compile(r"(?<![0-9])(\d{2})(\d{2})(\d{4})(?![0-9])")
# Nine digits: one of the two slashes read as `1`, the other lost (`130412022`).
_ONE_SLASH_AS_ONE = re.compile(r"(?<![0-9])(\d{9})(?![0-9])")
_MONTH_YEAR = re.compile(rf"(?<![0-9])({_D}{{1,2}}){_SEP}((?:19|20)\d\d)(?![0-9])")
_YEAR = re.compile(r"(?<![0-9])((?:19|20)\d\d)(?![0-9])")
_F = "[0-9OIDQZSGBL]"  # digit look-alikes once the text is folded to upper case
_WORDS = re.compile(
    rf"(?:NGAY\s+({_F}{{1,2}})\s+)?THANG\s+({_F}{{1,2}})\s+NAM\s+({_F}{{4}})\b"
)


def make_iso(year: int, month: int | None = None, day: int | None = None) -> str | None:
    """ISO string of a real date with the precision given, or None."""
    if not _MIN_YEAR <= year <= _MAX_YEAR:
        return None
    if month is None:
        return f"{year:04d}"
    if not 1 <= month <= 12:
        return None
    if day is None:
        return f"{year:04d}-{month:02d}"
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def date_precision(iso: str) -> Precision:
    """Precision of an ISO string made here: day, month or year."""
    return {10: "day", 7: "month"}.get(len(iso), "year")  # type: ignore[return-value]


def parse_ddmmyyyy(text: str) -> str | None:
    """Eight digits `ddmmyyyy` (QR payloads) to an ISO date."""
    text = text.strip()
    if not re.fullmatch(r"\d{8}", text):
        return None
    return make_iso(int(text[4:]), int(text[2:4]), int(text[:2]))


def parse_yymmdd(text: str, century: int) -> str | None:
    """Six digits `YYMMDD` (MRZ) to an ISO date in `century` (e.g. 1900)."""
    if not re.fullmatch(r"\d{6}", text):
        return None
    return make_iso(century + int(text[:2]), int(text[2:4]), int(text[4:]))


def parse_date(text: str) -> str | None:
    """The first date in printed text, in any form seen on Vietnamese papers.

    Tries `dd/mm/yyyy` (also `-`, `.`, spaces, OCR look-alike letters inside the
    numbers, slashes read as `1`), `ngày … tháng … năm …`, `ddmmyyyy`, `mm/yyyy`
    and a bare year, in that order.
    """
    found = _find_day_month_year(text) or _find_in_words(text)
    if found or _SEPARATED.search(text) or _WORDS.search(fold(text)):
        return found  # A full date that is not a real one is no date, not a year.
    return _find_partial(text)


def _find_day_month_year(text: str) -> str | None:
    for match in _SEPARATED.finditer(text):
        if count_digits(match.group(0)) >= 4:
            found = _from_groups(match.groups())
            if found:
                return found
    for pattern in (_SPACED, _SLASH_AS_ONE, _COMPACT):
        for match in pattern.finditer(text):
            found = _from_groups(match.groups())
            if found:
                return found
    for match in _ONE_SLASH_AS_ONE.finditer(text):
        found = _from_nine_digits(match.group(1))
        if found:
            return found
    return None


def _from_nine_digits(run: str) -> str | None:
    """`dd1mmyyyy` or `ddmm1yyyy`; None unless exactly one reading is a date."""
    readings = set()
    if run[2] == "1":
        readings.add(_from_groups((run[:2], run[3:5], run[5:])))
    if run[4] == "1":
        readings.add(_from_groups((run[:2], run[2:4], run[5:])))
    readings.discard(None)
    # LIMITATION: a nine-digit run that reads as two dates is left unread -> the
    # field is missing and the paper warns.
    return readings.pop() if len(readings) == 1 else None


def _find_in_words(text: str) -> str | None:
    match = _WORDS.search(fold(text))
    if not match:
        return None
    day, month, year = (repair_digits(g) if g else None for g in match.groups())
    if not (month and year and month.isdigit() and year.isdigit()):
        return None
    if day is not None and not day.isdigit():
        return None
    return make_iso(int(year), int(month), int(day) if day else None)


def _find_partial(text: str) -> str | None:
    match = _MONTH_YEAR.search(text)
    if match:
        month = repair_digits(match.group(1))
        if month.isdigit():
            return make_iso(int(match.group(2)), int(month))
    match = _YEAR.search(text)
    return make_iso(int(match.group(1))) if match else None


def _from_groups(groups: tuple[str | None, ...]) -> str | None:
    day, month, year = (repair_digits(g or "") for g in groups)
    if not (day.isdigit() and month.isdigit() and year.isdigit()):
        return None
    return make_iso(int(year), int(month), int(day))


# Vietnamese number words (NFC, lower case) and what they add (identity-papers.md 1.6:
# a birth certificate writes the birth date in digits and in words).
_DIGIT_WORDS = {
    "không": 0, "một": 1, "mốt": 1, "hai": 2, "ba": 3, "bốn": 4, "tư": 4, "năm": 5,
    "lăm": 5, "nhăm": 5, "sáu": 6, "bảy": 7, "bẩy": 7, "tám": 8, "chín": 9,
}  # fmt: skip
_SKIPPED = frozenset({"linh", "lẻ"})


def parse_date_words(text: str) -> str | None:
    """`ngày mười hai, tháng năm, năm hai nghìn không trăm mười chín` to an ISO date."""
    parts: dict[str, int] = {}
    for segment in nfc(text).lower().replace(".", ",").split(","):
        words = segment.split()
        if len(words) >= 2 and words[0] in ("ngày", "tháng", "năm"):
            value = _number_from_words(words[1:])
            if value is None:
                return None
            parts[words[0]] = value
    if len(parts) != 3:
        return None
    return make_iso(parts["năm"], parts["tháng"], parts["ngày"])


def _number_from_words(words: list[str]) -> int | None:
    """Value of Vietnamese number words, e.g. `hai nghìn không trăm linh năm`."""
    total = group = last = 0
    for word in words:
        if word in _DIGIT_WORDS:
            last = _DIGIT_WORDS[word]
        elif word == "mười":
            group += 10
        elif word == "mươi":
            group, last = group + last * 10, 0
        elif word == "trăm":
            group, last = group + last * 100, 0
        elif word in ("nghìn", "ngàn"):
            total, group, last = total + (group + last) * 1000, 0, 0
        elif word not in _SKIPPED:
            return None
    return total + group + last
