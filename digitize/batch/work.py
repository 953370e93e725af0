"""Work functions of batch commands: one item each, run in this or a worker process.

Each opens its own catalog connection (SQLite wants one per process) and returns an
`Outcome`; expected errors become `failed` outcomes in `run_batch`.
"""

from __future__ import annotations

from digitize.batch import Outcome
from digitize.config import Settings
from digitize.store import Catalog

__all__ = ["reindex_item", "reprocess_item"]


def reprocess_item(document_id: str, settings: Settings) -> Outcome:
    """OCR, extract and sign the document's scan again: a new current version."""
    from digitize.reprocess import reprocess_document

    catalog = Catalog(settings.catalog)
    try:
        result = reprocess_document(document_id, settings, catalog)
    finally:
        catalog.close()
    return Outcome(
        document_id,
        "done",
        {"pages": result.pages, "sign_level": result.sign_level,
         "seconds": round(result.seconds, 2)},
    )  # fmt: skip


def reindex_item(document_id: str, settings: Settings) -> Outcome:
    """Refresh one document's rows in the live index."""
    from digitize.batch.reindex import refresh_documents

    catalog = Catalog(settings.catalog)
    try:
        refresh_documents(catalog, [document_id])
    finally:
        catalog.close()
    return Outcome(document_id, "done")
