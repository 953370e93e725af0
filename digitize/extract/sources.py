"""Candidate fields from each source: QR payload, MRZ, printed text.

Each candidate is a `Field` carrying the checks its own source allows; merging and
cross-field checks come after (`merge.py`).
"""

from __future__ import annotations

import re

from digitize.extract.dates import parse_date
from digitize.extract.digits import count_digits, repair_digits
from digitize.extract.idnumber import (
    check_cmnd,
    check_pin,
    check_tax_code,
    find_number,
)
from digitize.extract.lexicon import repair_name
from digitize.extract.mrz import MrzData
from digitize.extract.names import fold, nfc, strip_foreign_marks
from digitize.extract.printed import PrintedValue, read_sex
from digitize.extract.qr import QrData
from digitize.records import Field, FieldSource

__all__ = ["is_hard_failure", "mrz_fields", "ocr_fields", "qr_fields"]

Checks = tuple[list[str], list[str]]  # names of the checks passed, failed

_QR_CONF = 0.95  # the decode is exact; the content is only shape-checked
_MRZ_CONF = 0.97  # a field under a passing check digit
_MRZ_REPAIRED_CONF = 0.93
_MRZ_UNCHECKED_CONF = 0.85  # name, sex, nationality: no check digit of their own
# LIMITATION: printed text has no checksum -> a field read only from print is never
# verified unless another source, field or card side confirms it.
_OCR_MAX_CONF = 0.85
_FAILED_CONF = 0.4  # a hard check failed: shape, check digit, calendar date
_CHECK_DIGIT_CONF = 0.93  # printed, but under a check digit that holds
_MIN_REREAD_CONF = 40.0  # a crop read worse than this is ignored
_NUMBERS = frozenset({"id_number", "old_id_number"})
# The end of a label caught at the left edge of a crop: `ú: `, `: `, `\\: `.
_LEADING_JUNK = re.compile(r"^\W*\w?\W*[:;]\s*|^[^\w(]+")
# Fields whose two readings must agree: numbers, dates, sex.
_CHECKED_BY_REREAD = frozenset(
    {"id_number", "old_id_number", "date_of_birth", "issue_date", "expiry_date", "sex"}
)
_SOFT_FAILED_CONF = 0.7  # a consistency check failed: more often OCR than the card
_NATIONALITIES = {"VNM": "Việt Nam", "VIET NAM": "Việt Nam", "VIETNAM": "Việt Nam"}
_LA = re.compile(r"(?<!\w)[l1|]a(?= [A-ZĐ])")  # `la Dom`, `1a Dom`: Ia Dom
_SEXES = {"NAM": "M", "NU": "F", "MALE": "M", "FEMALE": "F", "M": "M", "F": "F"}


def _field(
    name: str, value: str, raw: str, source: FieldSource, *, conf: float, checks: Checks
) -> Field:
    passed, failed = checks
    if failed:
        conf = min(conf, _FAILED_CONF if is_hard_failure(failed) else _SOFT_FAILED_CONF)
    return Field(name, value, raw, source, conf, list(passed), list(failed))


def is_hard_failure(failed: list[str]) -> bool:
    """True when a failed check proves the value wrong rather than doubtful."""
    hard = (
        "pin.shape",
        "cmnd.shape",
        "date.valid",
        "sex.valid",
        "name.shape",
        "mst.shape",
        "mst.check_digit",
    )
    return any(c in hard or c.startswith("mrz.check.") for c in failed)


def _date_checks(iso: str | None) -> Checks:
    return (["date.valid"], []) if iso else ([], ["date.valid"])


def qr_fields(qr: QrData) -> dict[str, Field]:
    """Candidates from a parsed QR payload; `raw` is the payload part read."""
    out: dict[str, Field] = {}
    checks: dict[str, Checks] = {
        "id_number": check_pin(qr.id_number or ""),
        "old_id_number": check_cmnd(qr.old_id_number or ""),
        "date_of_birth": _date_checks(qr.date_of_birth),
        "issue_date": _date_checks(qr.issue_date),
        "sex": (["sex.valid"], []),
    }
    for name, raw in qr.parts.items():
        value = getattr(qr, name)
        if value:
            found = checks.get(name, ([], []))
            out[name] = _field(name, value, raw, "qr", conf=_QR_CONF, checks=found)
    return out


def mrz_fields(mrz: MrzData) -> dict[str, Field]:
    """Candidates from a parsed MRZ; each carries the check digits that cover it."""
    line1, line2, line3 = mrz.lines
    checked = _MRZ_REPAIRED_CONF if mrz.repairs else _MRZ_CONF
    nationality = _NATIONALITIES.get(mrz.nationality, mrz.nationality)
    pin_checks = ("mrz.check.pin", "mrz.check.docno", "mrz.docno_vs_pin")
    specs = [
        ("id_number", mrz.pin, line1, checked, pin_checks),
        ("date_of_birth", mrz.date_of_birth, line2[0:7], checked, ("mrz.check.dob",)),
        ("expiry_date", mrz.expiry_date, line2[8:15], checked, ("mrz.check.expiry",)),
        ("sex", mrz.sex, line2[7], _MRZ_UNCHECKED_CONF, ()),
        ("nationality", nationality, line2[15:18], _MRZ_UNCHECKED_CONF, ()),
        ("full_name", mrz.name, line3, _MRZ_UNCHECKED_CONF, ()),
    ]
    out = {}
    for name, value, raw, conf, names in specs:
        if value or names:  # a date that checks but is no date still shows up
            out[name] = _mrz_field(mrz, name, value or "", raw, conf=conf, names=names)
    passed, failed = check_pin(mrz.pin)
    out["id_number"].checks_passed[:0] = passed
    out["id_number"].checks_failed[:0] = failed
    for name in ("date_of_birth", "expiry_date"):
        if not out[name].value:
            out[name].checks_failed.append("date.valid")
            out[name].confidence = _FAILED_CONF
    return out


def _mrz_field(
    mrz: MrzData,
    name: str,
    value: str,
    raw: str,
    *,
    conf: float,
    names: tuple[str, ...],
) -> Field:
    """A field under check digits `names` and the composite (unless it has none)."""
    if names:
        names = (*names, "mrz.check.composite")
    passed = [c for c in names if mrz.passed(c)]
    failed = [c for c in names if not mrz.passed(c)]
    return _field(name, value, raw, "mrz", conf=conf, checks=(passed, failed))


def ocr_fields(
    printed: dict[str, PrintedValue],
    paper_type: str,
    rereads: dict[str, tuple[str, float]] | None = None,
) -> dict[str, Field]:
    """Candidates from printed values; a CMND's number is its old 9-digit number.

    `rereads` are the values read again from their crops (`PageEvidence.field_reads`);
    a field takes the better of its two readings, and two readings of a number or a
    date that disagree leave it unverified (`ocr.reread` failed).
    """
    out: dict[str, Field] = {}
    for name, found in printed.items():
        if name == "expiry_date" and "KHONG THOI HAN" in fold(found.text):
            continue  # cards issued from age 58 or 60 have no expiry date
        conf = min(found.conf, _OCR_MAX_CONF)
        if name == "id_number" and paper_type.startswith("cmnd"):
            name = "old_id_number"
        alt = _reread_of(name, found, rereads or {})
        field = _read_twice(name, found.text, conf, alt)
        out.setdefault(field.name, field)
    return out


def _reread_of(
    name: str, found: PrintedValue, rereads: dict[str, tuple[str, float]]
) -> tuple[str, float] | None:
    """The crop reading of a value, when every line of it was read again.

    A number's reading counts whatever Tesseract's confidence (a label glued to it
    drags that down): its shape and checks decide. Text needs some confidence.
    """
    reads = [rereads.get(box) for box in found.boxes]
    least = 0.0 if name in _NUMBERS else _MIN_REREAD_CONF
    if not reads or any(r is None or r[1] < least for r in reads):
        return None
    texts = [_LEADING_JUNK.sub("", r[0]) for r in reads if r]
    return " ".join(texts), min(r[1] for r in reads if r) / 100


def _is_better(name: str, crop: Field, page: Field) -> bool:
    """Full dates first; for numbers, fewer look-alike letters; else the crop."""
    if name in _NUMBERS:
        return count_digits(crop.raw) >= count_digits(page.raw)
    return len(crop.value) >= len(page.value)


def _read_twice(
    name: str, text: str, conf: float, alt: tuple[str, float] | None
) -> Field:
    """The field from the page reading and, if there is one, the crop reading."""
    if alt is None:
        return _ocr_field(name, text, conf)
    alt_text, alt_conf = alt
    if name == "full_name":
        return _ocr_name(text, conf, (alt_text,))
    page = _ocr_field(name, text, conf)
    crop = _ocr_field(name, alt_text, min(conf, alt_conf) if conf else alt_conf)
    if is_hard_failure(crop.checks_failed) or page.value == crop.value:
        if page.value == crop.value:
            page.checks_passed.append("ocr.reread")
        return page
    if is_hard_failure(page.checks_failed):
        return crop
    if name not in _CHECKED_BY_REREAD:
        return crop if alt_conf > conf else page
    chosen = crop if _is_better(name, crop, page) else page
    chosen.checks_failed.append("ocr.reread")
    chosen.confidence = min(chosen.confidence, _SOFT_FAILED_CONF)
    return chosen


def _ocr_field(name: str, text: str, conf: float) -> Field:
    if name in ("id_number", "old_id_number"):
        return _ocr_number(name, text, conf)
    if name in ("date_of_birth", "issue_date", "expiry_date"):
        iso = parse_date(text)
        return _field(name, iso or "", text, "ocr", conf=conf, checks=_date_checks(iso))
    if name == "sex":
        sex = read_sex(text)
        checks = (["sex.valid"], []) if sex else ([], ["sex.valid"])
        return _field(name, sex, text, "ocr", conf=conf, checks=checks)
    if name == "nationality":
        value = _NATIONALITIES.get(fold(text), nfc(text))
        return _field(name, value, text, "ocr", conf=conf, checks=([], []))
    if name == "full_name":
        return _ocr_name(text, conf)
    if name == "enterprise_code":
        return _ocr_tax_code(text, conf)
    return _field(name, _fix_place(nfc(text)), text, "ocr", conf=conf, checks=([], []))


def _fix_place(text: str) -> str:
    """Undo Tesseract's `la` for the `Ia` of Central Highlands names (Ia Dom).

    Also: `;` between address parts is a misread `,`, and marks Vietnamese never
    uses (`Ÿ`, `ö`) are dropped.
    """
    return _LA.sub("Ia", strip_foreign_marks(text).replace(";", ","))


# LIMITATION: a digit misread the same way in both readings of a printed-only number
# is not mended (the PIN has no check digit) -> it stays unverified, and fails
# `pin.province` or `pin.century_sex` when the slip touches those digits.
def _ocr_number(name: str, text: str, conf: float) -> Field:
    """A PIN (12 digits) or CMND (9); a 9-digit number under a PIN label is a CMND."""
    pin = find_number(text, 12)
    cmnd = find_number(text, 9)
    if pin and name == "id_number":
        return _field(name, pin, text, "ocr", conf=conf, checks=check_pin(pin))
    if cmnd or pin:
        number = cmnd or pin or ""
        checks = check_cmnd(number) if cmnd else (["cmnd.shape"], [])
        return _field("old_id_number", number, text, "ocr", conf=conf, checks=checks)
    digits = re.sub(r"\D", "", repair_digits(text))
    failed = "pin.shape" if name == "id_number" else "cmnd.shape"
    return _field(name, digits, text, "ocr", conf=conf, checks=([], [failed]))


def _ocr_tax_code(text: str, conf: float) -> Field:
    """An enterprise code: its check digit makes a printed value trustworthy."""
    match = re.search(r"(?<![0-9])([0-9]{10})(?:\s*-\s*([0-9]{3}))?(?![0-9])", text)
    code = (
        (match.group(1) + (f"-{match.group(2)}" if match.group(2) else ""))
        if match
        else ""
    )
    passed, failed = check_tax_code(code)
    if not failed:
        conf = max(conf, _CHECK_DIGIT_CONF)
    return _field(
        "enterprise_code", code, text, "ocr", conf=conf, checks=(passed, failed)
    )


def _ocr_name(text: str, conf: float, alternatives: tuple[str, ...] = ()) -> Field:
    """Letters and spaces only; a name needs two words.

    A name printed in capitals is mended word by word against known Vietnamese name
    syllables (`lexicon.repair_name`), using other readings of the same print.
    """
    value = _name_letters(text)
    known = False
    if _is_capitals(value):
        readings = [value, *(_name_letters(a) for a in alternatives)]
        readings = [
            r.replace("l", "I").upper() for r in readings if len(r.split()) >= 2
        ]
        # Each reading in turn leads, the others fill in; the crop reading first.
        mended = [
            repair_name(r, tuple(o for o in readings if o != r)) for r in readings
        ]
        mended = mended[1:] + mended[:1]
        value, known = next(
            (m for m in mended if m[1]), mended[0] if mended else (value, False)
        )
    checks: Checks = (
        (["name.shape"], []) if len(value.split()) >= 2 else ([], ["name.shape"])
    )
    checks[0].extend(["name.known"] if known else [])
    return _field("full_name", value, text, "ocr", conf=conf, checks=checks)


def _name_letters(text: str) -> str:
    return nfc(re.sub(r"[^\w\s]|[\d_]", " ", strip_foreign_marks(text)))


def _is_capitals(text: str) -> bool:
    """Mostly upper-case letters: a name as cards and forms print it."""
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(c.isupper() for c in letters) >= 0.8 * len(letters)
