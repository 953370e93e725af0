"""Dossier manifest: an optional manifest.json or manifest.csv beside a dossier's scans.

It names the procedure (mã thủ tục), the applicant's ID number and each file's paper
type. Every part is validated; a wrong or missing part gets a clear warning and a
default, never an error: the scans themselves are ingested either way.

JSON: {"procedure_code": "1.001234", "applicant_id_number": "079190001234",
       "papers": {"cccd.jpg": "cccd", "don.pdf": "application_form"}}
CSV:  file,paper_type,procedure_code,applicant_id_number  (one row per file; the
      procedure and applicant may be given on any row)
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digitize.config import Settings
from digitize.extract.idnumber import check_cmnd, check_pin
from digitize.ingest.names import display_name, dossier_of, is_ignored, is_manifest
from digitize.ingest.putaway import free_target, move_file
from digitize.logs import mask_id
from digitize.store import Catalog

__all__ = [
    "PAPER_TYPES",
    "Manifest",
    "apply_manifest",
    "is_dossier_empty",
    "read_manifest",
]

log = logging.getLogger(__name__)

MAX_BYTES = 64 * 1024
# National procedure codes (Cơ sở dữ liệu quốc gia về thủ tục hành chính): 1.001234,
# sometimes with a local suffix such as 1.004227.000.00.00.H12.
_PROCEDURE = re.compile(r"\d\.\d{6}(\.[0-9A-Za-z]{1,6}){0,5}")
PAPER_TYPES = frozenset(
    {
        "cccd", "cmnd", "passport", "birth_certificate", "marriage_certificate",
        "death_certificate", "residence_confirmation", "land_use_certificate",
        "application_form", "power_of_attorney", "photo", "other",
    }
)  # fmt: skip
_KEYS = {"procedure_code", "applicant_id_number", "papers"}
_CSV_COLUMNS = {"file", "paper_type", "procedure_code", "applicant_id_number"}


@dataclass
class Manifest:
    """What a manifest said, after validation."""

    fields: dict[str, str] = field(
        default_factory=lambda: {"procedure_code": "", "applicant_id_number": ""}
    )
    """procedure_code and applicant_id_number; empty when absent or invalid."""
    paper_types: dict[str, str] = field(default_factory=dict)
    """File name (NFC) to paper type."""
    warnings: list[str] = field(default_factory=list)
    """One sentence per problem found; personal data masked."""


def read_manifest(path: Path, known_files: set[str]) -> Manifest:
    """Read and validate a manifest; problems become warnings, never exceptions.

    `known_files` are the dossier's file names (NFC) to check the papers list against.
    """
    manifest = Manifest()
    raw = _read(path, manifest)
    if raw is None:
        return manifest
    if path.suffix.lower() == ".json":
        values = _from_json(raw, manifest)
    else:
        values = _from_csv(raw, manifest)
    _take_fields(values, manifest)
    for name, paper_type in values.get("papers", {}).items():
        _take_paper(display_name(str(name)), paper_type, manifest, known_files)
    return manifest


def _read(path: Path, manifest: Manifest) -> str | None:
    try:
        data = path.read_bytes()
    except OSError as err:
        manifest.warnings.append(f"the manifest cannot be read ({err.strerror})")
        return None
    if len(data) > MAX_BYTES:
        manifest.warnings.append(
            f"the manifest has {len(data)} bytes, more than {MAX_BYTES}; ignored"
        )
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        manifest.warnings.append("the manifest is not UTF-8 text; ignored")
        return None


def _from_json(raw: str, manifest: Manifest) -> dict[str, Any]:
    try:
        values = json.loads(raw)
    except json.JSONDecodeError as err:
        manifest.warnings.append(
            f"the manifest is not valid JSON (line {err.lineno}: {err.msg}); ignored"
        )
        return {}
    if not isinstance(values, dict):
        manifest.warnings.append("the manifest must be a JSON object; ignored")
        return {}
    for key in sorted(set(values) - _KEYS):
        manifest.warnings.append(f"unknown manifest key '{key}' ignored")
    papers = values.get("papers", {})
    if isinstance(papers, list):
        papers = {p.get("file"): p.get("paper_type") for p in papers if _is_row(p)}
    if not isinstance(papers, dict):
        manifest.warnings.append("'papers' must map file names to paper types")
        papers = {}
    values["papers"] = papers
    return values


def _is_row(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("file"), str)


def _from_csv(raw: str, manifest: Manifest) -> dict[str, Any]:
    try:
        rows = list(csv.DictReader(io.StringIO(raw)))
    except csv.Error as err:
        manifest.warnings.append(f"the manifest is not valid CSV ({err}); ignored")
        return {}
    header = set(rows[0]) if rows else set()
    if not rows or "file" not in header:
        manifest.warnings.append("the CSV manifest needs a header with a 'file' column")
        return {}
    for column in sorted(header - _CSV_COLUMNS, key=str):
        manifest.warnings.append(f"unknown manifest column '{column}' ignored")
    values: dict[str, Any] = {"papers": {}}
    for row in rows:
        if row.get("file"):
            values["papers"][row["file"].strip()] = (
                row.get("paper_type") or ""
            ).strip()
        for key in ("procedure_code", "applicant_id_number"):
            value = (row.get(key) or "").strip()
            if value and values.setdefault(key, value) != value:
                manifest.warnings.append(f"rows disagree on {key}; the first is kept")
    return values


def _take_fields(values: dict[str, Any], manifest: Manifest) -> None:
    code = str(values.get("procedure_code") or "").strip()
    if code and not _PROCEDURE.fullmatch(code):
        manifest.warnings.append(
            f"procedure_code '{code[:40]}' is not a national procedure code such as "
            "1.001234; left empty"
        )
        code = ""
    manifest.fields["procedure_code"] = code
    number = re.sub(r"[\s.-]", "", str(values.get("applicant_id_number") or ""))
    if number and not (_valid_pin(number) or not check_cmnd(number)[1]):
        manifest.warnings.append(
            f"applicant_id_number {mask_id(number)} is not a 12-digit ID number or a "
            "9-digit CMND; left empty"
        )
        number = ""
    manifest.fields["applicant_id_number"] = number


def _valid_pin(number: str) -> bool:
    return "pin.shape" in check_pin(number)[0]


def _take_paper(
    name: str, paper_type: Any, manifest: Manifest, known_files: set[str]
) -> None:
    if name not in known_files:
        manifest.warnings.append(
            f"the manifest lists '{name[:80]}', which is not among the dossier's files"
        )
    kind = str(paper_type or "").strip().lower()
    if kind not in PAPER_TYPES:
        manifest.warnings.append(
            f"paper type '{kind[:40]}' of '{name[:80]}' is unknown; recorded as other"
        )
        kind = "other"
    manifest.paper_types[name] = kind


# LIMITATION: a manifest is applied once its folder holds no scan -> while staff keep
# adding files to a dossier its manifest waits; a manifest dropped later replaces it.
def is_dossier_empty(folder: Path) -> bool:
    """True when no scan is left in the folder (only the manifest and ignored names)."""
    try:
        names = [path.name for path in folder.iterdir()]
    except FileNotFoundError:
        return True
    return all(is_manifest(name) or is_ignored(name) for name in names)


def apply_manifest(
    path: Path, inbox: Path, catalog: Catalog, settings: Settings
) -> None:
    """Record a settled manifest with its dossier, then move it to processed/."""
    relative = path.relative_to(inbox)
    unit, dossier = dossier_of(relative)
    manifest = read_manifest(path, catalog.dossier_file_names(unit, dossier))
    catalog.update_dossier(
        unit,
        dossier,
        fields=manifest.fields,
        paper_types=manifest.paper_types,
        warnings=manifest.warnings,
    )
    if manifest.warnings:
        # Folder names may hold a citizen's name: they go to DEBUG only.
        log.warning(
            "a dossier manifest had %d problem(s); defaults used (see the catalog's "
            "dossiers.manifest_warnings)",
            len(manifest.warnings),
        )
        log.debug("manifest problems in %s/%s", unit, dossier)
    st = os.lstat(path)
    target = free_target(settings.processed, relative)
    move_file(path, target, (st.st_size, st.st_mtime_ns, st.st_ino), plain=True)
