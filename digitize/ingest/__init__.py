"""Ingest stage: take files from watched folders exactly once, and put each file away.

A file is taken after a quiet period with equal size and mtime on two looks, copied to a
private work area and hashed; after the catalog commit it moves to processed/ (or
duplicates/); a failure moves it to quarantine/ beside a reason file. A ledger makes
every step survive a crash, and one bad file never stops the watcher.
"""

from __future__ import annotations

import logging
from pathlib import Path

from digitize.config import Settings
from digitize.errors import DigitizeError, InputError
from digitize.ingest.names import display_name, dossier_of, is_ignored, is_manifest
from digitize.ingest.reasons import reason_for
from digitize.ingest.service import watch_until_signalled
from digitize.ingest.status import format_status, read_status
from digitize.ingest.watcher import Watcher
from digitize.pipeline import FileOutcome, process_file
from digitize.store import Catalog

__all__ = [
    "Watcher",
    "dossier_of",
    "format_status",
    "ingest_paths",
    "is_ignored",
    "is_manifest",
    "read_status",
    "watch_until_signalled",
]

log = logging.getLogger(__name__)


def ingest_paths(
    paths: list[Path], settings: Settings, catalog: Catalog
) -> list[FileOutcome]:
    """Process files where they are (the files are neither moved nor changed)."""
    return [_ingest_one(path, settings, catalog) for path in paths]


def _ingest_one(path: Path, settings: Settings, catalog: Catalog) -> FileOutcome:
    try:
        return process_file(path, settings, catalog)
    except OSError as err:
        unreadable = InputError(
            f"cannot read the file: {err.strerror}", code="input.unreadable"
        )
        return _failed(path, unreadable)
    except DigitizeError as err:
        return _failed(path, err)


def _failed(path: Path, err: DigitizeError) -> FileOutcome:
    reason = reason_for(err, file=display_name(path.name), sha256=None)
    log.warning("a file failed: %s", reason["code"])
    return FileOutcome(
        display_name(path.name),
        "failed",
        error_code=reason["code"],
        error_stage=reason["stage"],
        message=reason["message"],
    )
