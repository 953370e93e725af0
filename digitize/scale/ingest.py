"""Ingest node of the scaled mode: watch a share, claim each settled file, enqueue it.

A file is taken once its size and mtime stayed equal for `watch_settle_s` (the embedded
watcher's rule); it is checked, kept in the blob store, recorded as a queued job and
sent to the OCR queue, then moved to processed/ (duplicates/, or quarantine/ beside a
reason file). The node also sweeps stale jobs (dead worker, lost message) back onto
the queues every `scale_sweep_s`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

from digitize.errors import DigitizeError
from digitize.pipeline import FileOutcome
from digitize.scale.backends import Backends
from digitize.scale.steps import claim_file
from digitize.store import now_iso

__all__ = ["EnqueueWatcher"]

log = logging.getLogger(__name__)

# The embedded watcher's rules (digitize.ingest): names still being written or
# belonging to the system are left alone; INBOX/<unit>/<dossier>/<file>.
_TEMP_SUFFIXES = (".part", ".tmp", ".filepart", ".crdownload", ".reason.json")
_SYSTEM_NAMES = frozenset({"thumbs.db", "desktop.ini", ".ds_store"})


def _is_ignored(name: str) -> bool:
    lower = name.lower()
    return (
        lower.startswith((".", "~$"))
        or lower in _SYSTEM_NAMES
        or lower.endswith(_TEMP_SUFFIXES)
    )


def _dossier_of(relative: Path) -> tuple[str, str]:
    parts = relative.parts[:-1]
    return (parts[0] if parts else "", parts[1] if len(parts) > 1 else "")


def _move(path: Path, folder: Path, relative: Path) -> Path:
    target = folder / relative
    n = 0
    while target.exists():
        n += 1
        target = (folder / relative).with_name(f"{relative.stem}-{n}{relative.suffix}")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(path, target)
    return target


class EnqueueWatcher:
    """Watches one inbox; claims settled files and queues them for the workers."""

    def __init__(
        self,
        inbox: Path,
        backends: Backends,
        send: Callable[[str, str], None],
        sweep: Callable[[], int] | None = None,
    ) -> None:
        """`send(step, sha256)` queues a step; `sweep()` resends stale jobs."""
        self.inbox = inbox
        self.backends = backends
        self.settings = backends.settings
        self.send = send
        self.sweep = sweep or (lambda: 0)
        self.last_sweep = time.monotonic()
        self.seen: dict[Path, tuple[int, float, float]] = {}
        self.outcomes: list[FileOutcome] = []

    def scan(self) -> Iterator[Path]:
        """Every candidate file under the inbox, skipping temporary and system names."""
        for root, dirs, files in os.walk(self.inbox):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            yield from (Path(root) / n for n in sorted(files) if not _is_ignored(n))

    def settled(self, path: Path, now: float) -> bool:
        """True once size and mtime stayed equal for the quiet period."""
        try:
            st = path.lstat()
        except FileNotFoundError:
            self.seen.pop(path, None)
            return False
        prev = self.seen.get(path)
        if prev is None or prev[:2] != (st.st_size, st.st_mtime):
            self.seen[path] = (st.st_size, st.st_mtime, now)
            return self.settings.watch_settle_s == 0 and prev is not None
        return now - prev[2] >= self.settings.watch_settle_s

    def handle(self, path: Path) -> FileOutcome:
        """Claim one settled file, queue it, move it to its final folder."""
        relative = path.relative_to(self.inbox)
        out, sha = self._claim(path, *_dossier_of(relative))
        if out.status == "queued":
            self._send(sha, out)
        if out.status == "failed":
            self._quarantine(path, relative, out)
        else:
            folder = (
                self.settings.duplicates
                if out.status == "duplicate"
                else self.settings.processed
            )
            _move(path, folder, relative)
        self.seen.pop(path, None)
        self.outcomes.append(out)
        return out

    def step(self) -> int:
        """One pass: take every settled file, sweep when due; return how many wait."""
        waiting = 0
        for path in self.scan():
            if self.settled(path, time.monotonic()):
                self.handle(path)
            else:
                waiting += 1
        if time.monotonic() - self.last_sweep >= self.settings.scale_sweep_s:
            self.last_sweep = time.monotonic()
            self.sweep()
        return waiting

    def drain(self) -> list[FileOutcome]:
        """Queue every file now in the inbox, each once settled; then return."""
        while self.step():
            time.sleep(self.settings.watch_poll_s)
        return self.outcomes

    def run_forever(self, stop: threading.Event | None = None) -> None:
        """Watch until `stop` is set, rescanning every `watch_poll_s`."""
        # LIMITATION: the ingest node polls (no inotify events) -> a file is seen up to
        # watch_poll_s later; network shares need polling anyway.
        stop = stop or threading.Event()
        while not stop.is_set():
            self.step()
            stop.wait(self.settings.watch_poll_s)

    def _claim(self, path: Path, unit: str, dossier: str) -> tuple[FileOutcome, str]:
        if path.is_symlink() or not path.is_file():
            return FileOutcome(
                path.name,
                "failed",
                error_code="input.not_regular",
                error_stage="ingest",
                message="symlinks and special files are refused",
            ), ""
        try:
            return claim_file(path, self.backends, unit=unit, dossier=dossier)
        except DigitizeError as err:
            log.warning("a file failed at %s: %s", err.stage, err.code)
            return FileOutcome(
                path.name,
                "failed",
                error_code=err.code,
                error_stage=err.stage,
                message=err.message,
            ), ""
        except Exception as err:
            log.error("unexpected error on a file: %s", traceback.format_exc())
            return FileOutcome(
                path.name,
                "failed",
                error_code="internal.error",
                error_stage="ingest",
                message=f"{type(err).__name__}: {err}",
            ), ""

    def _send(self, sha: str, out: FileOutcome) -> None:
        try:
            self.send("read", sha)
        except Exception as err:
            log.warning(
                "job %s queued in the catalog only (%s); it will be resent",
                out.document_id,
                err,
            )

    def _quarantine(self, path: Path, relative: Path, out: FileOutcome) -> None:
        target = _move(path, self.settings.quarantine, relative)
        reason = {
            "file": relative.as_posix(),
            "code": out.error_code,
            "stage": out.error_stage,
            "message": out.message,
            "time": now_iso(),
            "what_to_do": "fix the cause, then move the file back into the inbox",
        }
        target.with_name(target.name + ".reason.json").write_text(
            json.dumps(reason, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
