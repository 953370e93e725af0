"""`digitize export` and `digitize import`: dossier packages for another system.

A package is one zip per dossier: `manifest.json` (format, unit, dossier, and per
document its identity fields, pages' text, signature facts and the SHA-256 of every
file), `originals/<sha256>.<ext>` (the scans as received), `derivatives/` and `signed/`
(the current searchable PDF and its signed copy). Import checks every file against the
manifest before anything is stored, then records the documents as they were.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from digitize.batch import Outcome
from digitize.config import Settings
from digitize.errors import InputError, StorageError
from digitize.records import Field, OcrPage, Paper
from digitize.store import Catalog, DocumentRecord, blob_path, now_iso, write_blob

__all__ = ["FORMAT", "dossier_keys", "export_dossier", "import_package"]

log = logging.getLogger(__name__)

FORMAT = "digitize-dossier/1"
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_DOC_COLUMNS = (
    "id", "sha256", "original_name", "unit", "dossier", "format", "size_bytes",
    "pages", "sign_level", "signer", "signed_at", "validated", "seconds", "created_at",
)  # fmt: skip


def dossier_keys(catalog: Catalog, ids: list[str]) -> list[str]:
    """`unit/dossier` of each dossier holding one of the documents, in order."""
    keys: dict[str, None] = {}
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        marks = ",".join("?" * len(part))
        for row in catalog.db.execute(
            f"SELECT unit, dossier FROM documents WHERE id IN ({marks})"
            " ORDER BY created_at, rowid",
            part,
        ):
            keys[f"{row[0]}/{row[1]}"] = None
    return list(keys)


def package_name(key: str) -> str:
    """The zip's file name for dossier `unit/dossier` (safe characters only)."""
    unit, dossier = key.split("/", 1)
    return f"{_SAFE.sub('_', unit) or '_'}__{_SAFE.sub('_', dossier) or '_'}.zip"


def export_dossier(key: str, settings: Settings, *, out: Path) -> Outcome:
    """Worker: write one dossier's package into `out` (temporary name, then renamed)."""
    unit, dossier = key.split("/", 1)
    catalog = Catalog(settings.catalog)
    try:
        rows = catalog.db.execute(
            "SELECT * FROM documents WHERE unit = ? AND dossier = ? ORDER BY id",
            (unit, dossier),
        ).fetchall()
        manifest = {
            "format": FORMAT, "unit": unit, "dossier": dossier,
            "exported_at": now_iso(), "dossier_info": _dossier_info(catalog, key),
            "documents": [_document_entry(catalog, row) for row in rows],
        }  # fmt: skip
    finally:
        catalog.close()
    out.mkdir(parents=True, exist_ok=True)
    target = out / package_name(key)
    fd, tmp = tempfile.mkstemp(dir=out, prefix=".tmp-", suffix=".zip")
    os.close(fd)
    try:
        _write_zip(Path(tmp), manifest, settings)
        Path(tmp).replace(target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return Outcome(key, "done", {"file": str(target), "documents": len(rows)})


def _dossier_info(catalog: Catalog, key: str) -> dict[str, Any]:
    unit, dossier = key.split("/", 1)
    row = catalog.db.execute(
        "SELECT procedure_code, applicant_id_number, paper_types FROM dossiers"
        " WHERE unit = ? AND code = ?",
        (unit, dossier),
    ).fetchone()
    papers = catalog.db.execute(
        "SELECT document_id, file_name, paper_type, duplicate FROM dossier_papers"
        " WHERE unit = ? AND dossier = ? ORDER BY added_at",
        (unit, dossier),
    ).fetchall()
    info = dict(row) if row else {}
    info["paper_types"] = json.loads(info.get("paper_types") or "{}")
    info["papers"] = [dict(p) for p in papers]
    return info


def _document_entry(catalog: Catalog, row: Any) -> dict[str, Any]:
    doc = {name: row[name] for name in _DOC_COLUMNS}
    files = {"original": (f"originals/{row['sha256']}.{row['format']}", row["sha256"])}
    if row["unsigned_sha256"]:
        sha = row["unsigned_sha256"]
        files["derivative"] = (f"derivatives/{sha}.unsigned.pdf", sha)
    if row["signed_sha256"]:
        sha = row["signed_sha256"]
        files["signed"] = (f"signed/{sha}.signed.pdf", sha)
    doc["files"] = {k: {"path": p, "sha256": s} for k, (p, s) in files.items()}
    doc["pages_text"] = [
        dict(r)
        for r in catalog.db.execute(
            "SELECT idx, width_px, height_px, dpi, rotation, mean_conf, text"
            " FROM pages WHERE document_id = ? ORDER BY idx",
            (row["id"],),
        )
    ]
    doc["fields"] = [
        {**dict(r), "checks_passed": json.loads(r["checks_passed"]),
         "checks_failed": json.loads(r["checks_failed"])}
        for r in catalog.db.execute(
            "SELECT page_idx, paper_type, name, value, raw, source, confidence,"
            " checks_passed, checks_failed, verified FROM fields"
            " WHERE document_id = ? ORDER BY page_idx, paper_type, name",
            (row["id"],),
        )
    ]  # fmt: skip
    return doc


def _write_zip(path: Path, manifest: dict[str, Any], settings: Settings) -> None:
    suffixes = {
        "original": None,
        "derivative": ".unsigned.pdf",
        "signed": ".signed.pdf",
    }
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for doc in manifest["documents"]:
            for kind, entry in doc["files"].items():
                suffix = suffixes[kind] or "." + doc["format"]
                source = blob_path(settings.repository, entry["sha256"], suffix)
                if not source.is_file():
                    raise StorageError(
                        f"the {_NOUNS.get(kind, kind)} of document {doc['id']} is "
                        "missing from the "
                        "store; run `digitize check`",
                        code="store.missing",
                    )
                # Scans and PDFs are compressed already: stored as they are.
                zf.write(source, entry["path"])
        text = json.dumps(manifest, ensure_ascii=False, indent=2, default=str)
        zf.writestr("manifest.json", text, compress_type=zipfile.ZIP_DEFLATED)


def import_package(item: str, settings: Settings) -> Outcome:
    """Worker: check one package against its manifest, then store what is new.

    Raises:
        InputError: not a package, an unknown format, or a file that does not match
            its hash (nothing of that package is stored).
    """
    path = Path(item)
    try:
        with zipfile.ZipFile(path) as zf:
            manifest = _manifest(zf, path)
            blobs = _checked_files(zf, manifest)
    except (zipfile.BadZipFile, KeyError, OSError) as err:
        raise InputError(
            f"{path.name} is not a readable dossier package ({err})",
            code="input.bad_package",
        ) from err
    catalog = Catalog(settings.catalog)
    try:
        added = [
            doc["id"]
            for doc in manifest["documents"]
            if _import_document(catalog, settings, doc, blobs)
        ]
        _import_dossier(catalog, manifest)
    finally:
        catalog.close()
    status = "done" if added else "skipped"
    return Outcome(item, status, {"documents": len(manifest["documents"]),
                                  "added": len(added)})  # fmt: skip


def _manifest(zf: zipfile.ZipFile, path: Path) -> dict[str, Any]:
    manifest = json.loads(zf.read("manifest.json").decode("utf-8"))
    if manifest.get("format") != FORMAT:
        raise InputError(
            f"{path.name}: package format {manifest.get('format')!r}, "
            f"expected {FORMAT}",
            code="input.bad_package",
        )
    return manifest


def _checked_files(zf: zipfile.ZipFile, manifest: dict[str, Any]) -> dict[str, bytes]:
    """Every listed file, read and hashed; one mismatch refuses the whole package."""
    blobs = {}
    for doc in manifest["documents"]:
        for kind, entry in doc["files"].items():
            data = zf.read(entry["path"])
            if hashlib.sha256(data).hexdigest() != entry["sha256"]:
                raise InputError(
                    f"the {_NOUNS.get(kind, kind)} of document {doc['id']} does not "
                    "match the hash in "
                    "the manifest; the package is damaged, export it again",
                    code="input.bad_package",
                )
            blobs[entry["path"]] = data
    return blobs


def _import_document(
    catalog: Catalog, settings: Settings, doc: dict[str, Any], blobs: dict[str, bytes]
) -> bool:
    """Store one document's files and rows; False when its scan is already on file."""
    existing = catalog.find_document_by_sha(doc["sha256"])
    if existing is None:
        suffixes = {"original": "." + doc["format"], "derivative": ".unsigned.pdf",
                    "signed": ".signed.pdf"}  # fmt: skip
        for kind, entry in doc["files"].items():
            write_blob(settings.repository, blobs[entry["path"]], suffixes[kind])
        catalog.add_document(_record(doc))
    elif existing["created_at"] == doc["created_at"]:
        return False
    # The rows keep the sending system's times and signature facts.
    with catalog.transaction() as db:
        db.execute(
            "UPDATE documents SET created_at = ?, seconds = ?, signed_at = ?,"
            " sign_level = ?, signer = ?, validated = ? WHERE id = ?",
            (doc["created_at"], doc["seconds"], doc["signed_at"], doc["sign_level"],
             doc["signer"], doc["validated"], doc["id"]),
        )  # fmt: skip
        db.execute(
            "UPDATE versions SET signed_at = ?, sign_level = ?, signer = ?"
            " WHERE document_id = ?",
            (doc["signed_at"], doc["sign_level"], doc["signer"], doc["id"]),
        )
    return True


def _record(doc: dict[str, Any]) -> DocumentRecord:
    pages = [
        OcrPage(
            index=p["idx"], width_px=p["width_px"], height_px=p["height_px"],
            dpi=p["dpi"], words=[], text=p["text"], mean_conf=p["mean_conf"],
            rotation_deg=p["rotation"], seconds=0.0,
        )
        for p in doc["pages_text"]
    ]  # fmt: skip
    papers: dict[tuple[int, str], Paper] = {}
    for f in doc["fields"]:
        paper = papers.setdefault(
            (f["page_idx"], f["paper_type"]), Paper(f["page_idx"], f["paper_type"])
        )
        paper.fields[f["name"]] = Field(
            f["name"], f["value"], f["raw"], f["source"], f["confidence"],
            list(f["checks_passed"]), list(f["checks_failed"]),
        )  # fmt: skip
    files = doc["files"]
    return DocumentRecord(
        sha256=doc["sha256"], original_name=doc["original_name"],
        format=doc["format"], size_bytes=doc["size_bytes"], pages=pages,
        papers=list(papers.values()), unit=doc["unit"], dossier=doc["dossier"],
        unsigned_sha256=files.get("derivative", {}).get("sha256"),
        signed_sha256=files.get("signed", {}).get("sha256"),
        sign_level=doc["sign_level"], signer=doc["signer"],
        signed_at=doc["signed_at"], validated=bool(doc["validated"]),
        seconds=doc["seconds"] or 0.0, notes={"imported": True},
    )  # fmt: skip


def _import_dossier(catalog: Catalog, manifest: dict[str, Any]) -> None:
    unit, dossier = manifest["unit"], manifest["dossier"]
    info = manifest.get("dossier_info") or {}
    for paper in info.get("papers", []):
        if catalog.db.execute(
            "SELECT 1 FROM documents WHERE id = ?", (paper["document_id"],)
        ).fetchone():
            catalog.link_paper(
                unit, dossier, paper["document_id"], paper["file_name"],
                duplicate=bool(paper["duplicate"]),
            )  # fmt: skip
    if "procedure_code" in info:
        fields = {
            "procedure_code": info.get("procedure_code", ""),
            "applicant_id_number": info.get("applicant_id_number", ""),
        }
        catalog.update_dossier(
            unit, dossier, fields=fields, paper_types=info["paper_types"], warnings=[]
        )


_NOUNS = {"original": "scan", "derivative": "unsigned PDF", "signed": "signed PDF"}
