"""Reprocess a stored document from its scan as received: a new signed version.

Takes a document id, gives a new OCR reading, derivative and signature made from the
original scan blob (never from a signed PDF); the catalog marks the previous version
superseded and keeps its blobs retrievable.
"""

from __future__ import annotations

import logging
import shutil
import time

from digitize.config import Settings
from digitize.errors import NotFoundError, StorageError
from digitize.pipeline import FileOutcome, discard_work_files, read_document
from digitize.sign import sign_pdf_file
from digitize.store import Catalog, DocumentRecord, blob_path, sha256_file, write_blob

__all__ = ["reprocess_document"]

log = logging.getLogger(__name__)


def reprocess_document(
    document_id: str, settings: Settings, catalog: Catalog
) -> FileOutcome:
    """OCR, mark and sign the original scan again; store it as the next version.

    Raises:
        NotFoundError: no such document, or its scan blob is missing.
        StorageError: the scan blob no longer matches its hash.
        DigitizeError: any stage failed; the current version stays current.
    """
    started = time.perf_counter()
    doc = catalog.db.execute(
        "SELECT * FROM documents WHERE id = ?", (document_id.strip().lower(),)
    ).fetchone()
    if doc is None:
        raise NotFoundError(f"no document with id {document_id[:16]!r}")
    scan = blob_path(settings.repository, doc["sha256"], "." + doc["format"])
    if not scan.is_file():
        raise NotFoundError(
            f"the scan of document {doc['id']} is missing from the store"
        )

    settings.work.mkdir(parents=True, exist_ok=True)
    copy = settings.work / f"reprocess-{doc['sha256']}.{doc['format']}"
    shutil.copyfile(scan, copy)
    try:
        if sha256_file(copy) != doc["sha256"]:
            raise StorageError(
                f"the stored scan of document {doc['id']} does not match its hash; "
                "restore it from backup",
                code="store.corrupt",
            )
        reading = read_document(copy, doc["format"], settings, record_id=doc["id"])
        signed = sign_pdf_file(
            reading.unsigned, copy.with_name(copy.name + ".signed.pdf"), settings
        )
        record = DocumentRecord(
            sha256=doc["sha256"],
            original_name=doc["original_name"],
            format=doc["format"],
            size_bytes=doc["size_bytes"],
            pages=reading.pages,
            papers=reading.papers,
            unit=doc["unit"],
            dossier=doc["dossier"],
        )
        assert signed.path is not None and signed.unsigned_path is not None
        record.unsigned_sha256 = write_blob(
            settings.repository, signed.unsigned_path, ".unsigned.pdf"
        )
        record.signed_sha256 = write_blob(
            settings.repository, signed.path, ".signed.pdf"
        )
    finally:
        discard_work_files(copy)
    record.sign_level, record.signer = signed.level, signed.signer_subject
    record.signed_at, record.validated = signed.signed_at.isoformat(), True
    version = catalog.replace_reading(record, kind="reprocessed")
    log.info("reprocessed %s as version %d", record.id, version)
    return FileOutcome(
        name=doc["original_name"],
        status="stored",
        document_id=record.id,
        pages=len(reading.pages),
        seconds=time.perf_counter() - started,
        fields=sum(len(p.fields) for p in reading.papers),
        signed=True,
        validated=True,
        sign_level=signed.level,
    )
