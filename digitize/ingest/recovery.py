"""Recovery at start: finish or undo what a killed watcher left half done.

A file whose bytes reached the catalog is put away as stored (or duplicate); any other
file in progress is queued again, after removing the repository files it may have
written, so nothing is lost, doubled or orphaned. A file that kills the worker again
and again goes to quarantine instead of looping.
"""

from __future__ import annotations

import glob
import logging
import shutil
import sqlite3
from pathlib import Path

from digitize.config import Settings
from digitize.errors import DigitizeError
from digitize.ingest.names import display_name
from digitize.ingest.reasons import reason_for
from digitize.ingest.worker import Worker
from digitize.ledger import Entry, Ledger
from digitize.pipeline import FileOutcome
from digitize.store import Catalog

__all__ = ["recover", "recover_entry", "remove_orphans"]

log = logging.getLogger(__name__)


def recover(
    ledger: Ledger, catalog: Catalog, worker: Worker, settings: Settings
) -> int:
    """Resolve every entry a dead worker held; return how many there were."""
    held = ledger.entries("working")
    for entry in held:
        recover_entry(entry, ledger, catalog, worker, settings)
    shutil.rmtree(worker.work, ignore_errors=True)
    if held:
        log.warning(
            "recovered %d file(s) left in progress by a stopped watcher", len(held)
        )
    return len(held)


def recover_entry(
    entry: Entry, ledger: Ledger, catalog: Catalog, worker: Worker, settings: Settings
) -> FileOutcome | None:
    """Finish (committed) or requeue (not committed) one entry a worker held."""
    stored = catalog.find_document_by_sha(entry.sha256) if entry.sha256 else None
    if entry.dup_of is not None and stored is not None:
        outcome = FileOutcome("", "duplicate", document_id=entry.dup_of)
        return worker.decide(entry, outcome)
    if stored is not None:
        return worker.decide(entry, FileOutcome("", "stored", document_id=stored["id"]))
    remove_orphans([Path(p) for p in entry.blobs], catalog)
    crashes = entry.crashes + 1
    if crashes < settings.watch_max_crashes:
        ledger.update(entry.id, state="queued", stage="", blobs=[], crashes=crashes)
        return None
    err = DigitizeError(
        f"the worker stopped {crashes} times while processing this file (last after "
        f"stage '{entry.stage or 'start'}'); it is set aside so the others go on",
        code="ingest.crashed",
    )
    reason = reason_for(
        err,
        file=display_name(entry.relative.as_posix()),
        sha256=entry.sha256,
        stage=entry.stage or "claim",
        attempts=crashes,
    )
    ledger.update(entry.id, crashes=crashes, blobs=[])
    outcome = FileOutcome("", "failed", error_code=err.code, notes={"reason": reason})
    return worker.decide(entry, outcome)


def remove_orphans(paths: list[Path], catalog: Catalog) -> int:
    """Delete repository files that no catalog row refers to; return how many."""
    removed = 0
    for path in paths:
        # A worker killed mid-write leaves `.tmp-<name>.<random>` (store.write_blob).
        for half in path.parent.glob(f".tmp-{glob.escape(path.name)}.*"):
            half.unlink(missing_ok=True)
        sha = path.name.split(".", 1)[0]
        if _is_referenced(catalog, sha):
            continue
        if path.exists():
            path.unlink()
            removed += 1
    return removed


def _is_referenced(catalog: Catalog, sha: str) -> bool:
    queries = [
        "SELECT 1 FROM documents WHERE sha256 = ? OR unsigned_sha256 = ?"
        " OR signed_sha256 = ?",
        # Older signed versions keep their files (the signing stage's legal chain).
        "SELECT 1 FROM versions WHERE unsigned_sha256 = ? OR signed_sha256 = ?"
        " OR signed_sha256 = ?",
    ]
    for sql in queries:
        try:
            if catalog.db.execute(sql, (sha, sha, sha)).fetchone():
                return True
        except sqlite3.OperationalError:
            continue  # a catalog from before that table existed
    return False
