"""One file through the watcher: claim, duplicate check, stages, put-away.

Every step is written to the ledger first, so a crash at any point can be finished or
undone by recovery.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from digitize.config import Settings
from digitize.errors import DigitizeError, InputError
from digitize.ingest import faults
from digitize.ingest.claim import FileChangedError, claim_entry
from digitize.ingest.folders import FolderSpec
from digitize.ingest.names import display_name, dossier_of
from digitize.ingest.putaway import free_target, move_file
from digitize.ingest.reasons import reason_for, write_reason
from digitize.ledger import Entry, Ledger
from digitize.pipeline import Claim, FileOutcome, duplicate_outcome, process_claim
from digitize.store import Catalog

__all__ = ["Worker"]

log = logging.getLogger(__name__)

# Where a failure happened, from the last stage boundary the file passed.
_FAILED_IN = {
    "": "claim", "claimed": "open", "duplicate": "put-away", "opened": "ocr",
    "ocr": "extract", "extract": "pdf", "pdf": "sign", "sign": "store",
    "blobs": "store", "committed": "put-away", "decided": "put-away",
}  # fmt: skip
# A young file failing with one of these may still be being written: try again later.
_NOT_READY = {
    "input.empty", "input.unsupported_format", "input.damaged_pdf",
    "input.damaged_image", "input.no_pages",
}  # fmt: skip
# Errors a busy or flaky share gives for a while (SMB locks, NFS handles, full disk).
_TRANSIENT = {
    errno.EBUSY, errno.EACCES, errno.EPERM, errno.EAGAIN, errno.ESTALE,
    errno.ETIMEDOUT, errno.ENOLCK, errno.EIO, errno.ETXTBSY, errno.ENOSPC,
    errno.EINTR, errno.EDEADLK,
}  # fmt: skip
_REFUSED = {"input.symlink", "input.not_regular", "input.hard_link"}
_MAX_DELAY_S = 600.0
# Striped locks keyed by hash: bounded memory, and unrelated files rarely wait.
_LOCK_STRIPES = 64
_FOLDER_OF = {"processed": "processed", "duplicate": "duplicates"}


class _Again(Exception):
    """The entry was put back (retry, re-settle, vanished): nothing more to do now."""


class _Journal:
    """Writes each stage boundary and blob list to the ledger, then offers to crash."""

    def __init__(self, ledger: Ledger, entry_id: int) -> None:
        self.ledger, self.entry_id, self.stage = ledger, entry_id, ""

    def reached(self, stage: str) -> None:
        self.stage = stage
        self.ledger.update(self.entry_id, stage=stage)
        faults.checkpoint(stage)

    def writing(self, paths: list[Path]) -> None:
        self.ledger.update(self.entry_id, blobs=[str(p) for p in paths])


def is_transient(err: BaseException) -> bool:
    """True for errors that may pass if the same step is tried again later."""
    if getattr(err, "transient", False):
        return True
    if isinstance(err, OSError) and err.errno in _TRANSIENT:
        return True
    cause = err.__cause__
    return isinstance(err, DigitizeError) and cause is not None and is_transient(cause)


class Worker:
    """Takes ledger entries one at a time (several workers run in threads)."""

    def __init__(
        self,
        settings: Settings,
        ledger: Ledger,
        catalog: Callable[[], Catalog],
        specs: dict[Path, FolderSpec],
    ) -> None:
        """Work for the folders in `specs`; `catalog()` is the thread's connection."""
        self.settings, self.ledger, self.catalog = settings, ledger, catalog
        self.specs = specs
        self.work = settings.work / "watch"
        self._locks = [threading.Lock() for _ in range(_LOCK_STRIPES)]

    def run(self, entry_id: int) -> FileOutcome | None:
        """Take one due entry as far as it goes; None when it was put back."""
        entry = self.ledger.get(entry_id)
        if entry.state == "moving":
            return self.finish(entry)
        entry = self.ledger.update(entry.id, state="working", stage="")
        journal = _Journal(self.ledger, entry.id)
        try:
            outcome = self._process(entry, journal)
        except _Again:
            return None
        return self.decide(entry, outcome, journal)

    def _process(self, entry: Entry, journal: _Journal) -> FileOutcome:
        spec = self.specs[entry.folder]
        young = time.time() - entry.first_seen < spec.young_s
        try:
            claim = claim_entry(
                entry,
                self.work,
                max_bytes=self.settings.max_file_mb * 2**20,
                young=young,
            )
        except FileChangedError:
            self.ledger.update(entry.id, state="seen", stage="")
            raise _Again from None
        except FileNotFoundError:
            self.ledger.update(entry.id, state="vanished")
            raise _Again from None
        except (DigitizeError, OSError) as err:
            return self._failed(entry, err, journal, young=False)
        try:
            with self._sha_lock(claim.sha256):
                return self._read(entry, claim, journal)
        except Exception as err:  # one bad file never stops the watcher
            return self._failed(entry, err, journal, young=young)
        finally:
            claim.discard()

    def _read(self, entry: Entry, claim: Claim, journal: _Journal) -> FileOutcome:
        catalog = self.catalog()
        existing = catalog.find_document_by_sha(claim.sha256)
        dup_of = existing["id"] if existing is not None else None
        self.ledger.update(entry.id, sha256=claim.sha256, dup_of=dup_of)
        journal.reached("claimed")
        if existing is not None:
            journal.reached("duplicate")
            return duplicate_outcome(claim.name, existing)
        return process_claim(claim, self.settings, catalog, journal=journal)

    @contextmanager
    def _sha_lock(self, sha256: str) -> Iterator[None]:
        """Same bytes in two files are read once: the second waits, then duplicates."""
        with self._locks[int(sha256[:8], 16) % _LOCK_STRIPES]:
            yield

    def _failed(
        self, entry: Entry, err: BaseException, journal: _Journal, *, young: bool
    ) -> FileOutcome:
        """Put the entry back for later, or turn the error into a quarantine outcome."""
        code = getattr(err, "code", "")
        if young and code in _NOT_READY:
            spec = self.specs[entry.folder]
            retry_at = time.time() + max(spec.settle_s, 1.0)
            self.ledger.update(entry.id, state="retry", next_try=retry_at, stage="")
            log.info("file %s does not parse yet (%s); waiting", entry.short, code)
            raise _Again from None
        if is_transient(err):
            err = self._back_off(entry, err)
        if not isinstance(err, DigitizeError):
            log.error("file %s: unexpected error\n%s", entry.short, _trace(err))
        stage = "claim" if code in _REFUSED else _FAILED_IN.get(journal.stage, "")
        reason = reason_for(
            err,
            file=display_name(entry.relative.as_posix()),
            sha256=self.ledger.get(entry.id).sha256,
            stage=stage,
            attempts=entry.attempts,
        )
        return FileOutcome(
            name=display_name(entry.relative.name),
            status="failed",
            error_code=reason["code"],
            error_stage=reason["stage"],
            message=reason["message"],
            notes={"reason": reason},
        )

    def _back_off(self, entry: Entry, err: BaseException) -> BaseException:
        """Schedule a retry with doubling delay; past the limit, the error to report."""
        attempts = entry.attempts + 1
        if attempts > self.settings.watch_retries:
            final = InputError(
                f"still failing after {entry.attempts} retries: {_os_text(err)}",
                code=getattr(err, "code", None) or "input.unreadable",
            )
            final.__cause__ = err
            return final
        delay = min(self.settings.watch_retry_s * 2 ** (attempts - 1), _MAX_DELAY_S)
        self.ledger.update(
            entry.id,
            state="retry",
            attempts=attempts,
            next_try=time.time() + delay,
            stage="",
        )
        log.warning(
            "file %s: transient error (%s); retry %d in %.1f s",
            entry.short,
            _os_text(err),
            attempts,
            delay,
        )
        raise _Again from None

    def decide(
        self, entry: Entry, outcome: FileOutcome, journal: _Journal | None = None
    ) -> FileOutcome | None:
        """Record where the file goes, then put it there."""
        state = {"stored": "processed", "duplicate": "duplicate"}.get(
            outcome.status, "quarantined"
        )
        folder = getattr(self.settings, _FOLDER_OF.get(state, "quarantine"))
        entry = self.ledger.update(
            entry.id,
            state="moving",
            outcome=state,
            destination=free_target(folder, entry.relative),
            reason=outcome.notes.get("reason"),
            document_id=outcome.document_id or None,
            next_try=0,
        )
        (journal or _Journal(self.ledger, entry.id)).reached("decided")
        return self.finish(entry, outcome)

    def finish(
        self, entry: Entry, outcome: FileOutcome | None = None
    ) -> FileOutcome | None:
        """File the paper in its dossier, write any reason, move it; idempotent."""
        try:
            self._link(entry)
            result = self._move(entry)
        except OSError as err:
            delay = min(self.settings.watch_retry_s * 2**entry.attempts, _MAX_DELAY_S)
            self.ledger.update(
                entry.id, attempts=entry.attempts + 1, next_try=time.time() + delay
            )
            log.warning("file %s: cannot put it away yet (%s)", entry.short, err)
            return None
        faults.checkpoint("moved")
        kept = entry.destination if result in ("moved", "gone") else None
        entry = self.ledger.update(entry.id, state=entry.outcome, destination=kept)
        outcome = outcome or _outcome_of(entry)
        self._report(entry, outcome)
        return outcome

    def _link(self, entry: Entry) -> None:
        if entry.outcome not in ("processed", "duplicate") or not entry.document_id:
            return
        unit, dossier = dossier_of(entry.relative)
        self.catalog().link_paper(
            unit,
            dossier,
            entry.document_id,
            display_name(entry.relative.name),
            duplicate=entry.outcome == "duplicate",
        )

    def _move(self, entry: Entry) -> str:
        if entry.destination is None:
            return "left"
        if entry.outcome == "quarantined" and entry.reason is not None:
            write_reason(entry.destination, entry.reason)
        plain = entry.reason is None or entry.reason.get("code") not in _REFUSED
        ident = (entry.size_bytes, entry.mtime_ns, entry.inode)
        result = move_file(entry.path, entry.destination, ident, plain=plain)
        if result == "left" and entry.reason is not None:
            entry.reason["left_in_inbox"] = True
            write_reason(entry.destination, entry.reason)
        return result

    def _report(self, entry: Entry, outcome: FileOutcome) -> None:
        if entry.state == "quarantined":
            log.warning(
                "file %s quarantined: %s at %s",
                entry.short,
                outcome.error_code,
                outcome.error_stage,
            )
            return
        self.ledger.set_meta(last_success=time.time())
        log.info(
            "file %s %s as %s (%d pages, %.1f s)",
            entry.short,
            entry.state,
            entry.document_id,
            outcome.pages,
            outcome.seconds,
        )


def _outcome_of(entry: Entry) -> FileOutcome:
    """The outcome of an entry finished after a restart, from what the ledger knows."""
    status = {"processed": "stored", "duplicate": "duplicate"}.get(
        entry.state, "failed"
    )
    reason = entry.reason or {}
    return FileOutcome(
        name=display_name(entry.relative.name),
        status=status,
        document_id=entry.document_id or "",
        error_code=reason.get("code", ""),
        error_stage=reason.get("stage", ""),
        message=reason.get("message", ""),
    )


def _os_text(err: BaseException) -> str:
    if isinstance(err, OSError) and err.errno is not None:
        return f"{errno.errorcode.get(err.errno, err.errno)}: {os.strerror(err.errno)}"
    return getattr(err, "message", None) or type(err).__name__


def _trace(err: BaseException) -> str:
    return "".join(traceback.format_exception(err)).strip()
