"""Prefill forms from identity data already on file.

Form definitions (`config/forms/*.toml`) list each field and where its value comes from;
`prefill_form` takes a person as `query.get_person` gives them and returns every field
with its value and the paper (document, type, date) it was read from.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from digitize.config import DEFAULT_CONFIG
from digitize.errors import ConfigError, NotFoundError
from digitize.records import IDENTITY_FIELDS

__all__ = [
    "DEFAULT_FORMS",
    "FormDef",
    "FormField",
    "Offices",
    "best_fields",
    "form_or_error",
    "load_forms",
    "load_offices",
    "prefill_form",
    "prefill_shares",
]

DEFAULT_FORMS = DEFAULT_CONFIG.parent / "forms"
_FORMATS = frozenset({"", "dmy", "sex_vi"})
# Who issues each card family (Circular 06/2021/TT-BCA art. 5; Law 26/2023 art. 26).
_ISSUERS = {
    "cccd2021": "Cục Cảnh sát quản lý hành chính về trật tự xã hội",
    "cancuoc2024": "Bộ Công an",
}
# MRZ names carry no diacritics: for names, the QR code and printed text rank higher.
_SOURCE_RANK = {
    "full_name": {"qr": 3, "ocr": 2, "mrz": 1},
    "*": {"qr": 3, "mrz": 2, "ocr": 1},
}
_SEX_VI = {"M": "Nam", "F": "Nữ"}


@dataclass(frozen=True)
class FormField:
    """One blank of a form and where its value comes from."""

    key: str
    label: str
    source: str
    """Identity field, `derived.issuer`, `office.<key>`, or empty (declared)."""
    format: str = ""
    """`dmy` (dd/mm/yyyy), `sex_vi` (Nam/Nữ) or empty (as stored)."""


@dataclass(frozen=True)
class FormDef:
    """A form: its id, title and fields in printed order."""

    id: str
    title: str
    fields: tuple[FormField, ...]


@dataclass(frozen=True)
class Offices:
    """Receiving offices' names and places, per unit, with a default."""

    default: dict[str, str]
    units: dict[str, dict[str, str]]

    def value(self, unit: str, key: str) -> str:
        """The unit's value for `key`, else the default's, else empty."""
        return self.units.get(unit, {}).get(key) or self.default.get(key, "")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"cannot read form file {path}: {err}") from err


def _form_field(raw: dict[str, Any], path: Path) -> FormField:
    unknown = set(raw) - {"key", "label", "source", "format"}
    if unknown or not raw.get("key") or not raw.get("label"):
        raise ConfigError(
            f"{path}: each field needs key and label (and may have source, format); "
            f"unknown keys: {', '.join(sorted(unknown)) or 'none'}"
        )
    item = FormField(
        raw["key"], raw["label"], raw.get("source", ""), raw.get("format", "")
    )
    known = (
        not item.source
        or item.source in IDENTITY_FIELDS
        or item.source == "derived.issuer"
        or item.source.startswith("office.")
    )
    if not known or item.format not in _FORMATS:
        raise ConfigError(
            f"{path}: field {item.key} has an unknown source {item.source!r} "
            f"or format {item.format!r}"
        )
    return item


def load_forms(folder: Path = DEFAULT_FORMS) -> dict[str, FormDef]:
    """Every form definition in `folder` (offices.toml excepted), by id.

    Raises:
        ConfigError: a file is unreadable or a field is malformed.
    """
    forms: dict[str, FormDef] = {}
    for path in sorted(folder.glob("*.toml")):
        if path.name == "offices.toml":
            continue
        table = _read_toml(path)
        fields = tuple(_form_field(raw, path) for raw in table.get("fields", []))
        if not table.get("id") or not fields:
            raise ConfigError(f"{path}: a form needs an id and at least one field")
        forms[table["id"]] = FormDef(table["id"], table.get("title", ""), fields)
    return forms


def load_offices(folder: Path = DEFAULT_FORMS) -> Offices:
    """The receiving offices from `folder/offices.toml` (empty when absent)."""
    path = folder / "offices.toml"
    table = _read_toml(path) if path.is_file() else {}
    return Offices(table.get("default", {}), table.get("units", {}))


def _rank(item: dict[str, Any], created: dict[str, str]) -> tuple[Any, ...]:
    ranks = _SOURCE_RANK.get(item["name"], _SOURCE_RANK["*"])
    return (
        bool(item["verified"]),
        ranks.get(item["source"], 0),
        created.get(item["document_id"], ""),
        item["confidence"],
    )


def best_fields(person: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The best reading of each identity field across a person's documents.

    Verified first, then the better source (QR over MRZ or printed text), then the
    newest document (an address changes; the latest paper wins), then confidence.
    """
    created = {d["id"]: d["created_at"] for d in person.get("documents", [])}
    best: dict[str, dict[str, Any]] = {}
    for item in person.get("fields", []):
        held = best.get(item["name"])
        if held is None or _rank(item, created) > _rank(held, created):
            best[item["name"]] = item
    return best


def _format(value: str, fmt: str) -> str:
    if fmt == "dmy" and len(value) == 10 and value[4] == "-":
        return f"{value[8:10]}/{value[5:7]}/{value[0:4]}"
    if fmt == "sex_vi":
        return _SEX_VI.get(value, value)
    return value


def _paper_source(item: dict[str, Any], person: dict[str, Any]) -> dict[str, Any]:
    doc = next(d for d in person["documents"] if d["id"] == item["document_id"])
    issued = [
        f["value"]
        for f in person["fields"]
        if f["document_id"] == item["document_id"] and f["name"] == "issue_date"
    ]
    return {
        "kind": "paper",
        "document_id": item["document_id"],
        "paper_type": item["paper_type"],
        "field": item["name"],
        "read_by": item["source"],
        "verified": bool(item["verified"]),
        "paper_date": max(issued) if issued else doc["created_at"][:10],
        "digitized_at": doc["created_at"],
    }


def _fill(
    spec: FormField, person: dict[str, Any], best: dict[str, dict[str, Any]], **ctx: Any
) -> tuple[str | None, dict[str, Any] | None]:
    if spec.source in IDENTITY_FIELDS:
        item = best.get(spec.source)
        if item is None:
            return None, None
        return _format(item["value"], spec.format), _paper_source(item, person)
    if spec.source == "derived.issuer":
        item = best.get("issue_date") or best.get("id_number")
        family = item["paper_type"].rpartition("_")[0] if item else ""
        if family not in _ISSUERS or item is None:
            return None, None
        return _ISSUERS[family], _paper_source(item, person)
    if spec.source.startswith("office."):
        return _office_value(spec.source.removeprefix("office."), **ctx)
    return None, None


def _office_value(
    key: str, *, offices: Offices, unit: str, today: date
) -> tuple[str | None, dict[str, Any] | None]:
    source = {"kind": "office", "unit": unit}
    if key == "place_date":
        place = offices.value(unit, "place")
        if not place:
            return None, None
        value = f"{place}, ngày {today:%d} tháng {today:%m} năm {today:%Y}"
        return value, source
    value = offices.value(unit, key)
    return (value, source) if value else (None, None)


def prefill_form(
    form: FormDef,
    person: dict[str, Any],
    *,
    offices: Offices,
    unit: str,
    today: date,
) -> dict[str, Any]:
    """Every field of `form` with its value for `person` and where it came from.

    Returns:
        `{"form", "title", "unit", "fields": [{key, label, value, source}], "prefilled",
        "total", "share"}`; an unfilled field has value and source None.
    """
    best = best_fields(person)
    fields = []
    for spec in form.fields:
        value, source = _fill(
            spec, person, best, offices=offices, unit=unit, today=today
        )
        fields.append(
            {"key": spec.key, "label": spec.label, "value": value, "source": source}
        )
    filled = sum(1 for f in fields if f["value"])
    return {
        "form": form.id,
        "title": form.title,
        "unit": unit,
        "fields": fields,
        "prefilled": filled,
        "total": len(fields),
        "share": round(filled / len(fields), 3),
    }


def form_or_error(forms: dict[str, FormDef], form_id: str) -> FormDef:
    """The form with this id.

    Raises:
        NotFoundError: no such form definition.
    """
    if form_id not in forms:
        raise NotFoundError(
            f"no form {form_id!r}; known forms: {', '.join(sorted(forms))}"
        )
    return forms[form_id]


def prefill_shares(
    people: list[dict[str, Any]],
    forms: dict[str, FormDef],
    offices: Offices,
    *,
    today: date,
) -> dict[str, dict[str, Any]]:
    """Per form: fields prefilled over all `people` (each as `query.get_person` gives).

    Returns:
        `{form_id: {"people", "prefilled", "total", "share"}}`; the office of each
        person is the unit of their newest paper.
    """
    shares: dict[str, dict[str, Any]] = {}
    for form in forms.values():
        filled = total = 0
        for person in people:
            docs = sorted(person["documents"], key=lambda d: d["created_at"])
            unit = docs[-1]["unit"] if docs else ""
            result = prefill_form(form, person, offices=offices, unit=unit, today=today)
            filled, total = filled + result["prefilled"], total + result["total"]
        shares[form.id] = {
            "title": form.title,
            "people": len(people),
            "prefilled": filled,
            "total": total,
            "share": filled / total if total else 0.0,
        }
    return shares
