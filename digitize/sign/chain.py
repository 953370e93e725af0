"""The legal chain in the catalog: signed versions, and signatures found on input.

Takes the catalog and settings, gives each document's versions (current and
superseded, all retrievable), verification of the stored signed file, and the
verified signatures of third-party signed PDFs received as input.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from digitize.config import Settings
from digitize.errors import NotFoundError, SigningError
from digitize.sign.verify import open_pdf, report_to_dict, verify_pdf
from digitize.store import Catalog, blob_path, now_iso

__all__ = [
    "list_versions",
    "record_input_signatures",
    "verify_document",
    "verify_input_signatures",
]

log = logging.getLogger(__name__)

SIGNED_SUFFIX = ".signed.pdf"
UNSIGNED_SUFFIX = ".unsigned.pdf"


def verify_input_signatures(
    path_or_bytes: Path | bytes, settings: Settings
) -> list[dict[str, Any]]:
    """Verify the signatures of a PDF as received; [] for unsigned files and non-PDFs.

    The result (one dict per signature, see `SignatureReport`) is meant to be stored
    with the record by `record_input_signatures`. Offline: revocation is checked
    from the file's own validation data only.

    Raises:
        SigningError: a damaged or encrypted PDF.
        ConfigError: a configured trust root is unreadable.
    """
    data = (
        path_or_bytes.read_bytes()
        if isinstance(path_or_bytes, Path)
        else bytes(path_or_bytes)
    )
    if b"%PDF-" not in data[:1024]:
        return []
    if not open_pdf(data).embedded_regular_signatures:
        return []
    return [report_to_dict(report) for report in verify_pdf(data, settings)]


def record_input_signatures(
    catalog: Catalog,
    input_sha256: str,
    document_id: str | None,
    reports: list[dict[str, Any]],
) -> None:
    """Store input signature reports (one row each) in one transaction.

    A report that could not be made (a dict with `checked: False` and an error code)
    is stored as a failed row, so the record shows the input was signed.
    """
    if not reports:
        return
    checked_at = now_iso()
    with catalog.transaction() as db:
        for report in reports:
            db.execute(
                "INSERT INTO input_signatures (input_sha256, document_id, field_name,"
                " signer, signed_at, level, intact, trusted, revocation_checked, ok,"
                " report, checked_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    input_sha256,
                    document_id,
                    report.get("field_name", ""),
                    report.get("signer_subject"),
                    report.get("signed_at"),
                    report.get("level"),
                    int(bool(report.get("intact"))),
                    int(bool(report.get("trusted"))),
                    int(bool(report.get("revocation_checked"))),
                    int(bool(report.get("ok"))),
                    json.dumps(report, ensure_ascii=False, default=str),
                    checked_at,
                ),
            )


def list_versions(
    catalog: Catalog, settings: Settings, document_id: str
) -> list[dict[str, Any]]:
    """Every signed version of a document, oldest first, with its blob paths.

    Raises:
        NotFoundError: no such document.
    """
    doc = _document(catalog, document_id)
    rows = catalog.db.execute(
        "SELECT * FROM versions WHERE document_id = ? ORDER BY version", (doc["id"],)
    ).fetchall()
    versions = [dict(row) for row in rows]
    if not versions and doc["signed_sha256"]:
        # Stored before versions were recorded: the document row is version 1.
        versions = [
            {
                "document_id": doc["id"],
                "version": 1,
                "kind": "signed",
                "unsigned_sha256": doc["unsigned_sha256"],
                "signed_sha256": doc["signed_sha256"],
                "sign_level": doc["sign_level"],
                "signer": doc["signer"],
                "signed_at": doc["signed_at"],
                "created_at": doc["created_at"],
                "superseded_at": None,
            }
        ]
    for version in versions:
        version["current"] = version["superseded_at"] is None
        version["signed_path"] = str(
            blob_path(settings.repository, version["signed_sha256"], SIGNED_SUFFIX)
        )
    return versions


def verify_document(
    catalog: Catalog, settings: Settings, document_id: str, *, online: bool = False
) -> dict[str, Any]:
    """Verify the current signed file of a document, for the API and `show`.

    Raises:
        NotFoundError: no such document, or its signed blob is missing.
    """
    doc = _document(catalog, document_id)
    if not doc["signed_sha256"]:
        raise NotFoundError(f"document {doc['id']} has no signed file")
    path = blob_path(settings.repository, doc["signed_sha256"], SIGNED_SUFFIX)
    if not path.is_file():
        raise NotFoundError(f"the signed file of document {doc['id']} is missing")
    try:
        reports = verify_pdf(path.read_bytes(), settings, online=online)
    except SigningError as err:
        log.warning("verifying %s failed: %s", doc["id"], err.code)
        raise
    inputs = catalog.db.execute(
        "SELECT report FROM input_signatures WHERE input_sha256 = ? ORDER BY id",
        (doc["sha256"],),
    ).fetchall()
    return {
        "document_id": doc["id"],
        "signatures": [report_to_dict(r) for r in reports],
        "input_signatures": [json.loads(row["report"]) for row in inputs],
    }


def _document(catalog: Catalog, document_id: str) -> Any:
    row = catalog.db.execute(
        "SELECT * FROM documents WHERE id = ?", (document_id.strip().lower(),)
    ).fetchone()
    if row is None:
        raise NotFoundError(f"no document with id {document_id[:16]!r}")
    return row
