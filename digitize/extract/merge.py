"""Merge candidates from QR, MRZ and print into one field each, then cross-check.

Machine layers win (QR, then MRZ); printed text fills the rest. Every other source
holding the same field is compared with the chosen value: agreement is recorded as a
passed `a.vs.b` check, disagreement as a failed one with lower confidence and a
warning. Warnings name fields and checks only, never values (they may be logged).
"""

from __future__ import annotations

from dataclasses import replace

from rapidfuzz import fuzz

from digitize.extract.idnumber import check_pin, pin_birth_year, pin_sex
from digitize.extract.names import fold, nfc
from digitize.extract.sources import is_hard_failure
from digitize.records import Field, Paper

__all__ = ["cross_check_sides", "merge_fields"]

_PRIORITY = {"qr": 0, "mrz": 1, "ocr": 2}
_CORROBORATED_CONF = 0.95
_DISAGREED_CONF = 0.6
_SOFT_FAILED_CONF = 0.7
_ADDRESSES = frozenset({"residence", "place_of_origin", "place_of_birth"})
# Card renewal ages: Circular 06/2021 (25, 40, 60), Law 26/2023 art. 21 (14 too).
_RENEWAL_AGES = frozenset({14, 25, 40, 60})
_MRZ_NAME_MAX = 30  # a name filling line 3 may be truncated


def merge_fields(groups: list[dict[str, Field]]) -> tuple[dict[str, Field], list[str]]:
    """One field per name from candidate groups, with cross-source checks."""
    by_name: dict[str, list[Field]] = {}
    for group in groups:
        for name, candidate in group.items():
            by_name.setdefault(name, []).append(candidate)
    warnings: list[str] = []
    fields = {name: _merge_one(found, warnings) for name, found in by_name.items()}
    _check_consistency(fields, warnings)
    for field in fields.values():
        _settle_confidence(field)
    return fields, warnings


def _merge_one(candidates: list[Field], warnings: list[str]) -> Field:
    ordered = sorted(candidates, key=lambda f: _PRIORITY[f.source])
    chosen = next((f for f in ordered if not is_hard_failure(f.checks_failed)), None)
    chosen = chosen or ordered[0]
    merged = replace(
        chosen,
        checks_passed=list(chosen.checks_passed),
        checks_failed=list(chosen.checks_failed),
    )
    warnings += [f"{merged.name}: {check} failed" for check in merged.checks_failed]
    for other in ordered:
        if other is chosen or is_hard_failure(other.checks_failed):
            continue
        _compare_with(merged, other, warnings)
    return merged


def _compare_with(merged: Field, other: Field, warnings: list[str]) -> None:
    first, second = sorted((merged.source, other.source), key=_PRIORITY.__getitem__)
    check = f"{first}.vs.{second}"
    verdict = _compare(merged.name, merged.value, other.value)
    if verdict == "agree":
        merged.checks_passed.append(check)
        if merged.name == "full_name" and merged.source == "mrz":
            # The MRZ has no diacritics: show the printed name it confirms.
            merged.value, merged.raw, merged.source = other.value, other.raw, "ocr"
    elif verdict == "differ":
        merged.checks_failed.append(check)
        merged.confidence = min(merged.confidence, _DISAGREED_CONF)
        warnings.append(f"{merged.name}: {first} and {second} disagree")


def _compare(name: str, a: str, b: str) -> str:
    """`agree`, `near` (OCR noise, neither confirms nor contradicts) or `differ`."""
    if name == "full_name":
        verdict = _compare_names(fold(a), fold(b))
        if verdict == "agree" and _has_marks(a) and _has_marks(b) and nfc(a) != nfc(b):
            return "near"  # same letters, other marks: neither confirms the other
        return verdict
    if name in _ADDRESSES:
        score = fuzz.ratio(fold(a), fold(b))
        return "agree" if score >= 90 else "near" if score >= 70 else "differ"
    if name == "nationality":
        return "agree" if fold(a) == fold(b) else "differ"
    if a == b or (len(a) != len(b) and (a.startswith(b) or b.startswith(a))):
        return "agree"  # equal, or a date known to the month within a full date
    return "differ"


def _has_marks(name: str) -> bool:
    """True for a name written with Vietnamese marks (not an MRZ name)."""
    return fold(name) != name.upper().strip()


def _compare_names(a: str, b: str) -> str:
    if a == b:
        return "agree"
    shorter, longer = sorted((a, b), key=len)
    if len(shorter) >= _MRZ_NAME_MAX - 5 and longer.startswith(shorter):
        return "agree"  # truncated in the MRZ
    return "near" if fuzz.ratio(a, b) >= 85 else "differ"


def _check_consistency(fields: dict[str, Field], warnings: list[str]) -> None:
    """Checks between fields: PIN digits vs birth year and sex, card dates vs birth."""
    pin, dob, sex = (fields.get(n) for n in ("id_number", "date_of_birth", "sex"))
    dob_iso = dob.value if dob and dob.value else None
    if pin and not is_hard_failure(pin.checks_failed):
        passed, failed = check_pin(
            pin.value, dob=dob_iso, sex=sex.value if sex else None
        )
        _record(pin, "pin.century_sex", passed, failed, warnings)
        if dob_iso:
            ok = int(dob_iso[:4]) == pin_birth_year(pin.value)
            _record_one(dob, "pin.birth_year", ok, warnings)
        if sex and sex.value:
            _record_one(sex, "sex.vs.pin", sex.value == pin_sex(pin.value), warnings)
    expiry, issue = fields.get("expiry_date"), fields.get("issue_date")
    if dob_iso and expiry and len(expiry.value) == 10:
        _record_one(
            expiry,
            "expiry.vs.dob",
            _is_renewal_birthday(dob_iso, expiry.value),
            warnings,
        )
    if dob_iso and issue and issue.value:
        _record_one(issue, "issue.after_dob", issue.value > dob_iso, warnings)


def _is_renewal_birthday(dob: str, expiry: str) -> bool:
    """Cards expire on the holder's birthday in a renewal year."""
    age = int(expiry[:4]) - int(dob[:4])
    return expiry[5:] == dob[5:] and age in _RENEWAL_AGES


def _record(
    field: Field, check: str, passed: list[str], failed: list[str], warnings: list[str]
) -> None:
    if check in passed or check in failed:
        _record_one(field, check, check in passed, warnings)


def _record_one(field: Field | None, check: str, ok: bool, warnings: list[str]) -> None:
    if field is None:
        return
    if ok:
        field.checks_passed.append(check)
        return
    field.checks_failed.append(check)
    field.confidence = min(field.confidence, _SOFT_FAILED_CONF)
    warnings.append(f"{field.name}: {check} failed")


def _settle_confidence(field: Field) -> None:
    """Raise a field another source, field or side confirms; cap at 0.99."""
    corroborated = any(".vs." in c for c in field.checks_passed)
    if corroborated and not field.checks_failed:
        field.confidence = max(field.confidence, _CORROBORATED_CONF)
    field.confidence = round(min(field.confidence, 0.99), 3)


def cross_check_sides(front: Paper, back: Paper) -> None:
    """Compare the fields two sides of one card both show (`front.vs.back`)."""
    for name in sorted(front.fields.keys() & back.fields.keys()):
        a, b = front.fields[name], back.fields[name]
        if is_hard_failure(a.checks_failed) or is_hard_failure(b.checks_failed):
            continue
        verdict = _compare(name, a.value, b.value)
        if verdict == "near" and name == "full_name":
            verdict = _settle_marks(a, b)
        if verdict == "agree":
            for field in (a, b):
                field.checks_passed.append("front.vs.back")
                _settle_confidence(field)
            if name == "full_name" and b.value == fold(b.value):
                b.value = a.value  # the MRZ name, shown as the front prints it
        elif verdict == "differ":
            for paper, field in ((front, a), (back, b)):
                field.checks_failed.append("front.vs.back")
                field.confidence = min(field.confidence, _DISAGREED_CONF)
                paper.warnings.append(f"{name}: front and back disagree")
    _fill_failed_from_other_side(front, back)


def _fill_failed_from_other_side(front: Paper, back: Paper) -> None:
    """A value that failed its own checks takes the other side's verified one.

    Only once the two sides agree on some field: then they are one card, and a
    misaligned MRZ line on the back says nothing against the QR on the front.
    """
    agreed = any("front.vs.back" in f.checks_passed for f in front.fields.values())
    if not agreed:
        return
    for failed, good in ((front, back), (back, front)):
        other = good.fields.get("id_number")
        if "id_number" not in failed.fields and other is not None and other.verified:
            # Every side shows the number; one OCR did not find it on this side.
            failed.fields["id_number"] = replace(
                other, checks_passed=[*other.checks_passed, "other_side"]
            )
            if "id_number: not found" in failed.warnings:
                failed.warnings.remove("id_number: not found")
    for name in sorted(front.fields.keys() & back.fields.keys()):
        for failed, good in ((front, back), (back, front)):
            field, other = failed.fields[name], good.fields[name]
            if is_hard_failure(field.checks_failed) and other.verified:
                failed.fields[name] = replace(
                    other,
                    checks_passed=[*other.checks_passed, "other_side"],
                    checks_failed=[],
                )
                failed.warnings.append(f"{name}: own reading failed, other side's kept")


def _settle_marks(a: Field, b: Field) -> str:
    """The same name letters with other marks: a QR's exact text settles them.

    An MRZ name a letter or two off the QR's (no check digit covers it) shows the
    QR's name instead, confirming nothing.
    """
    exact = next((f for f in (a, b) if f.source == "qr"), None)
    if exact is None:
        return "near"
    if fold(a.value) == fold(b.value):
        a.value = b.value = exact.value
        return "agree"
    for field in (a, b):
        if field.source == "mrz":
            field.value = exact.value
    return "near"
