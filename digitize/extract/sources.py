"""Candidate fields from each source: QR payload, MRZ, printed text.

Each candidate is a `Field` carrying the checks its own source allows; merging and
cross-field checks come after (`merge.py`).
"""

from __future__ import annotations

import re

from digitize.extract.dates import parse_date
from digitize.extract.digits import repair_digits
from digitize.extract.idnumber import check_cmnd, check_pin, find_number
from digitize.extract.mrz import MrzData
from digitize.extract.names import fold, nfc
from digitize.extract.printed import PrintedValue
from digitize.extract.qr import QrData
from digitize.records import Field

__all__ = ["is_hard_failure", "mrz_fields", "ocr_fields", "qr_fields"]

_QR_CONF = 0.95  # the decode is exact; the content is only shape-checked
_MRZ_CONF = 0.97  # a field under a passing check digit
_MRZ_REPAIRED_CONF = 0.93
_MRZ_UNCHECKED_CONF = 0.85  # name, sex, nationality: no check digit of their own
_OCR_MAX_CONF = 0.85  # printed text alone is never verified
_FAILED_CONF = 0.4  # a hard check failed: shape, check digit, calendar date
_SOFT_FAILED_CONF = 0.7  # a consistency check failed: more often OCR than the card
_NATIONALITIES = {"VNM": "Việt Nam", "VIET NAM": "Việt Nam", "VIETNAM": "Việt Nam"}
_LA = re.compile(r"(?<!\w)la(?= [A-ZĐ])")
_SEXES = {"NAM": "M", "NU": "F", "MALE": "M", "FEMALE": "F", "M": "M", "F": "F"}


def _field(
    name: str,
    value: str,
    raw: str,
    source: str,
    conf: float,
    checks: tuple[list[str], list[str]],
) -> Field:
    passed, failed = checks
    if failed:
        conf = min(conf, _FAILED_CONF if is_hard_failure(failed) else _SOFT_FAILED_CONF)
    return Field(name, value, raw, source, conf, list(passed), list(failed))  # type: ignore[arg-type]


def is_hard_failure(failed: list[str]) -> bool:
    """True when a failed check proves the value wrong rather than doubtful."""
    hard = ("pin.shape", "cmnd.shape", "date.valid", "sex.valid", "name.shape")
    return any(c in hard or c.startswith("mrz.check.") for c in failed)


def _date_checks(iso: str | None) -> tuple[list[str], list[str]]:
    return (["date.valid"], []) if iso else ([], ["date.valid"])


def qr_fields(qr: QrData) -> dict[str, Field]:
    """Candidates from a parsed QR payload."""
    out: dict[str, Field] = {}
    if qr.id_number:
        out["id_number"] = _field(
            "id_number", qr.id_number, qr.raw, "qr", _QR_CONF, check_pin(qr.id_number)
        )
    if qr.old_id_number:
        checks = check_cmnd(qr.old_id_number)
        out["old_id_number"] = _field(
            "old_id_number", qr.old_id_number, qr.old_id_number, "qr", _QR_CONF, checks
        )
    for name in ("full_name", "residence"):
        text = getattr(qr, name)
        if text:
            out[name] = _field(name, nfc(text), text, "qr", _QR_CONF, ([], []))
    for name in ("date_of_birth", "issue_date"):
        iso = getattr(qr, name)
        if iso:
            out[name] = _field(name, iso, iso, "qr", _QR_CONF, _date_checks(iso))
    if qr.sex:
        out["sex"] = _field("sex", qr.sex, qr.sex, "qr", _QR_CONF, (["sex.valid"], []))
    return out


def mrz_fields(mrz: MrzData) -> dict[str, Field]:
    """Candidates from a parsed MRZ; each carries the check digits that cover it."""
    raw = "\n".join(mrz.lines)
    conf = _MRZ_REPAIRED_CONF if mrz.repairs else _MRZ_CONF
    pin_checks = ("mrz.check.pin", "mrz.check.docno", "mrz.docno_vs_pin")
    out = {
        "id_number": _mrz_field(mrz, "id_number", mrz.pin, raw, conf, pin_checks),
        "nationality": _mrz_field(
            mrz,
            "nationality",
            _NATIONALITIES.get(mrz.nationality, mrz.nationality),
            raw,
            _MRZ_UNCHECKED_CONF,
            (),
        ),
    }
    shape = check_pin(mrz.pin)
    out["id_number"].checks_passed[:0] = shape[0]
    out["id_number"].checks_failed[:0] = shape[1]
    if mrz.name:
        out["full_name"] = _mrz_field(
            mrz, "full_name", mrz.name, raw, _MRZ_UNCHECKED_CONF, ()
        )
    if mrz.sex:
        out["sex"] = _mrz_field(mrz, "sex", mrz.sex, raw, _MRZ_UNCHECKED_CONF, ())
    for name, value, check in (
        ("date_of_birth", mrz.date_of_birth, "mrz.check.dob"),
        ("expiry_date", mrz.expiry_date, "mrz.check.expiry"),
    ):
        out[name] = _mrz_field(mrz, name, value or "", raw, conf, (check,))
        if not value:
            out[name].checks_failed.append("date.valid")
            out[name].confidence = _FAILED_CONF
    return out


def _mrz_field(
    mrz: MrzData, name: str, value: str, raw: str, conf: float, checks: tuple[str, ...]
) -> Field:
    """A field under `checks` and the composite check digit (except unchecked ones)."""
    if checks:
        checks = (*checks, "mrz.check.composite")
    passed = [c for c in checks if mrz.passed(c)]
    failed = [c for c in checks if not mrz.passed(c)]
    return _field(name, value, raw, "mrz", conf, (passed, failed))


def ocr_fields(printed: dict[str, PrintedValue], paper_type: str) -> dict[str, Field]:
    """Candidates from printed values; a CMND's number is its old 9-digit number."""
    out: dict[str, Field] = {}
    for name, found in printed.items():
        conf = min(found.conf, _OCR_MAX_CONF)
        field = _ocr_field(name, found.text, conf)
        if field.name == "id_number" and paper_type.startswith("cmnd"):
            field = _ocr_field("old_id_number", found.text, conf)
        out.setdefault(field.name, field)
    return out


def _ocr_field(name: str, text: str, conf: float) -> Field:
    if name in ("id_number", "old_id_number"):
        return _ocr_number(name, text, conf)
    if name in ("date_of_birth", "issue_date", "expiry_date"):
        iso = parse_date(text)
        return _field(name, iso or "", text, "ocr", conf, _date_checks(iso))
    if name == "sex":
        sex = _SEXES.get(next(iter(fold(text).split()), ""), "")
        checks = (["sex.valid"], []) if sex else ([], ["sex.valid"])
        return _field(name, sex, text, "ocr", conf, checks)
    if name == "nationality":
        value = _NATIONALITIES.get(fold(text), nfc(text))
        return _field(name, value, text, "ocr", conf, ([], []))
    if name == "full_name":
        return _ocr_name(text, conf)
    return _field(name, _fix_place(nfc(text)), text, "ocr", conf, ([], []))


def _fix_place(text: str) -> str:
    """Undo Tesseract's `la` for the `Ia` of Central Highlands names (Ia Dom, Ia Kla)."""
    return _LA.sub("Ia", text)


def _ocr_number(name: str, text: str, conf: float) -> Field:
    """A PIN (12 digits) or CMND (9); a 9-digit number under a PIN label is a CMND."""
    pin = find_number(text, 12)
    cmnd = find_number(text, 9)
    if pin and name == "id_number":
        return _field(name, pin, text, "ocr", conf, check_pin(pin))
    if cmnd or pin:
        number = cmnd or pin or ""
        checks = check_cmnd(number) if cmnd else (["cmnd.shape"], [])
        return _field("old_id_number", number, text, "ocr", conf, checks)
    digits = re.sub(r"\D", "", repair_digits(text))
    failed = "pin.shape" if name == "id_number" else "cmnd.shape"
    return _field(name, digits, text, "ocr", conf, ([], [failed]))


def _ocr_name(text: str, conf: float) -> Field:
    """Letters and spaces only; a name needs two words."""
    value = nfc(re.sub(r"[^\w\s]|[\d_]", " ", text))
    checks = (["name.shape"], []) if len(value.split()) >= 2 else ([], ["name.shape"])
    return _field("full_name", value, text, "ocr", conf, checks)
