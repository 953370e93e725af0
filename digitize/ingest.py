"""Ingest stage: take files from a watched inbox exactly once, and put each file away.

A file is taken only after a quiet period with equal size and mtime across two looks.
After the catalog commit it moves to processed/ (or duplicates/); a failure moves it to
quarantine/ beside a reason file. One bad file never stops the watcher.
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
from dataclasses import dataclass
from pathlib import Path

from digitize.config import Settings
from digitize.errors import DigitizeError
from digitize.pipeline import FileOutcome, process_file
from digitize.store import Catalog, now_iso

__all__ = ["Watcher", "dossier_of", "ingest_paths", "is_ignored"]

log = logging.getLogger(__name__)

_TEMP_SUFFIXES = (".part", ".tmp", ".filepart", ".crdownload", ".reason.json")
_SYSTEM_NAMES = {"thumbs.db", "desktop.ini", ".ds_store"}


def is_ignored(name: str) -> bool:
    """Names still being written or belonging to the system are left alone."""
    lower = name.lower()
    return (
        lower.startswith((".", "~$"))
        or lower in _SYSTEM_NAMES
        or lower.endswith(_TEMP_SUFFIXES)
    )


def dossier_of(relative: Path) -> tuple[str, str]:
    """Unit and dossier code from INBOX/<unit>/<dossier>/<file>; empty when absent."""
    parts = relative.parts[:-1]
    unit = parts[0] if parts else ""
    dossier = parts[1] if len(parts) > 1 else ""
    return unit, dossier


def _run_one(
    path: Path, settings: Settings, catalog: Catalog, unit: str, dossier: str
) -> FileOutcome:
    try:
        return process_file(path, settings, catalog, unit=unit, dossier=dossier)
    except DigitizeError as err:
        log.warning("%s failed at %s: %s", path.name, err.stage, err.code)
        return FileOutcome(path.name, "failed", error_code=err.code,
                           error_stage=err.stage, message=err.message)
    except Exception as err:  # noqa: BLE001 - the watcher must outlive any bug
        log.error("unexpected error on a file: %s", traceback.format_exc())
        return FileOutcome(path.name, "failed", error_code="internal.error",
                           error_stage="unknown", message=f"{type(err).__name__}: {err}")


def ingest_paths(
    paths: list[Path], settings: Settings, catalog: Catalog
) -> list[FileOutcome]:
    """Process files where they are (the files are neither moved nor changed)."""
    return [_run_one(p, settings, catalog, "", "") for p in paths]


def _free_target(target: Path) -> Path:
    if not target.exists():
        return target
    for n in range(1, 10_000):
        candidate = target.with_name(f"{target.stem}-{n}{target.suffix}")
        if not candidate.exists():
            return candidate
    raise DigitizeError("no free name in the target folder", code="store.name_clash")


def _move(path: Path, folder: Path, relative: Path) -> Path:
    target = _free_target(folder / relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(path, target)
    return target


def _quarantine(path: Path, relative: Path, settings: Settings, out: FileOutcome) -> None:
    target = _move(path, settings.quarantine, relative)
    reason = {
        "file": relative.as_posix(),
        "code": out.error_code,
        "stage": out.error_stage,
        "message": out.message,
        "time": now_iso(),
        "what_to_do": "fix the cause, then move the file back into the inbox",
    }
    reason_path = target.with_name(target.name + ".reason.json")
    reason_path.write_text(json.dumps(reason, ensure_ascii=False, indent=2) + "\n",
                           encoding="utf-8")


@dataclass
class _Seen:
    size: int
    mtime: float
    since: float


class Watcher:
    """Watches one inbox folder; takes settled files and puts each away after work."""

    def __init__(
        self,
        inbox: Path,
        settings: Settings,
        catalog: Catalog,
        on_outcome: Callable[[FileOutcome], None] | None = None,
    ) -> None:
        self.inbox = inbox
        self.settings = settings
        self.catalog = catalog
        self.on_outcome = on_outcome or (lambda _: None)
        self.seen: dict[Path, _Seen] = {}
        self.wake = threading.Event()
        self.outcomes: list[FileOutcome] = []

    def scan(self) -> Iterator[Path]:
        """Every candidate file under the inbox, skipping temporary and system names."""
        for root, dirs, files in os.walk(self.inbox):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if not is_ignored(name):
                    yield Path(root) / name

    def settled(self, path: Path, now: float) -> bool:
        """True once size and mtime stayed equal for the quiet period."""
        try:
            stat = path.lstat()
        except FileNotFoundError:
            self.seen.pop(path, None)
            return False
        prev = self.seen.get(path)
        if prev is None or (prev.size, prev.mtime) != (stat.st_size, stat.st_mtime):
            self.seen[path] = _Seen(stat.st_size, stat.st_mtime, now)
            return self.settings.watch_settle_s == 0 and prev is not None
        return now - prev.since >= self.settings.watch_settle_s

    def handle(self, path: Path) -> FileOutcome:
        """Process one settled file and move it to its final folder."""
        relative = path.relative_to(self.inbox)
        unit, dossier = dossier_of(relative)
        if path.is_symlink() or not path.is_file():
            out = FileOutcome(path.name, "failed", error_code="input.not_regular",
                              error_stage="ingest",
                              message="symlinks and special files are refused")
        else:
            out = _run_one(path, self.settings, self.catalog, unit, dossier)
        folder = {"stored": self.settings.processed,
                  "duplicate": self.settings.duplicates}.get(out.status)
        if folder is None:
            _quarantine(path, relative, self.settings, out)
        else:
            _move(path, folder, relative)
        self.seen.pop(path, None)
        self.outcomes.append(out)
        self.on_outcome(out)
        return out

    def step(self) -> int:
        """One pass: handle every settled file; return how many files are still waiting."""
        waiting = 0
        for path in self.scan():
            if self.settled(path, time.monotonic()):
                self.handle(path)
            else:
                waiting += 1
        return waiting

    def drain(self) -> list[FileOutcome]:
        """Handle every file now in the inbox, waiting for each to settle; then return."""
        while self.step():
            self.wake.wait(self.settings.watch_poll_s)
            self.wake.clear()
        return self.outcomes

    def run_forever(self, stop: threading.Event | None = None) -> None:
        """Watch until `stop` is set: file events wake the loop, a rescan runs anyway."""
        stop = stop or threading.Event()
        observer = self._start_observer()
        try:
            while not stop.is_set():
                self.step()
                self.wake.wait(self.settings.watch_poll_s)
                self.wake.clear()
        finally:
            observer.stop()
            observer.join(timeout=5)

    def _start_observer(self):  # noqa: ANN202 - watchdog's types are untyped
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer
        from watchdog.observers.polling import PollingObserver

        watcher = self

        class _Wake(FileSystemEventHandler):
            def on_any_event(self, event):  # noqa: ANN001, ANN202
                watcher.wake.set()

        observer = PollingObserver() if self.settings.watch_polling else Observer()
        observer.schedule(_Wake(), str(self.inbox), recursive=True)
        observer.start()
        return observer
