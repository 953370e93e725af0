"""The watcher: sees every file in its folders, takes each once it settled, keeps going.

Files are found by file events (watchdog) or by polling, chosen per folder, and by a
full rescan in both modes; every file gets a ledger entry, settles (equal size and mtime
on two looks a quiet period apart), then goes to a pool of workers.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from digitize.config import Settings
from digitize.errors import DigitizeError
from digitize.ingest.folders import FolderSpec, SettleTracker, resolve_folders, walk
from digitize.ingest.manifest import apply_manifest, is_dossier_empty
from digitize.ingest.names import is_ignored, is_manifest
from digitize.ingest.recovery import recover, recover_entry
from digitize.ingest.safety import check_layout, refusal
from digitize.ingest.service import take_home_lock
from digitize.ingest.worker import Worker
from digitize.ledger import Ledger
from digitize.pipeline import FileOutcome
from digitize.store import Catalog, ThreadCatalogs

__all__ = ["Watcher"]

log = logging.getLogger(__name__)

_BEAT_S = 1.0


class Watcher:
    """Watches its folders; takes settled files and puts each away after work."""

    def __init__(
        self,
        inbox: Path | None,
        settings: Settings,
        catalog: Catalog,
        on_outcome: Callable[[FileOutcome], None] | None = None,
        *,
        config: Path | None = None,
    ) -> None:
        """Watch `inbox`, or the configured folders when it is None."""
        self.settings, self.catalog, self.config = settings, catalog, config
        self.specs = resolve_folders(settings, inbox)
        self.inbox = self.specs[0].path
        self.on_outcome = on_outcome or (lambda _: None)
        self.outcomes: list[FileOutcome] = []
        self.wake = threading.Event()
        self.tracker = SettleTracker()
        self.ledger: Ledger | None = None
        self._owner = threading.current_thread()
        self._catalogs = ThreadCatalogs(settings.catalog)
        self._known: dict[Path, tuple[tuple[int, int, int], int]] = {}
        self._running: dict[int, tuple[Path, Future[FileOutcome | None]]] = {}
        self._manifests: dict[Path, FolderSpec] = {}
        self._events: dict[Path, set[Path]] = {s.path: set() for s in self.specs}
        self._events_lock = threading.Lock()
        self._last_full: dict[Path, float] = {}
        self._observers: list[Any] = []
        self._pool: ThreadPoolExecutor | None = None
        self._lock_fd: int | None = None
        self._beat_at = 0.0
        self._rescan_at: float | None = None
        self._warm = False

    # --- life cycle ------------------------------------------------------------------

    def start(self) -> None:
        """Check the layout, take the home lock, recover, start the workers."""
        if self.ledger is not None:
            return
        check_layout([s.path for s in self.specs], self.settings, self.config)
        self._lock_fd = take_home_lock(self.settings.home)
        self.ledger = Ledger(self.settings.home / "ledger.sqlite3")
        self.worker = Worker(
            self.settings, self.ledger, self._catalog, {s.path: s for s in self.specs}
        )
        recover(self.ledger, self.catalog, self.worker, self.settings)
        self._pool = ThreadPoolExecutor(
            self.settings.watch_workers, thread_name_prefix="ingest"
        )
        self.ledger.set_meta(
            pid=os.getpid(),
            started=time.time(),
            heartbeat=time.time(),
            folders=[{"path": str(s.path), "mode": s.mode} for s in self.specs],
        )
        log.info("watching %d folder(s), %d worker(s)", len(self.specs), self._workers)

    def close(self) -> None:
        """Stop observers and workers (in-flight files finish), release the lock."""
        for observer in self._observers:
            observer.stop()
            observer.join(timeout=5)
        self._observers.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
            self._collect()
        self._catalogs.close()
        if self.ledger is not None:
            self.ledger.set_meta(pid=0, stopped=time.time())
            self.ledger.close()
            self.ledger = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def drain(self) -> list[FileOutcome]:
        """Handle every file now in the folders, waiting for each to settle; return."""
        self.start()
        try:
            while self.step():
                self.wake.wait(self.settings.watch_poll_s)
                self.wake.clear()
        finally:
            self.close()
        return self.outcomes

    def run_forever(self, stop: threading.Event | None = None) -> None:
        """Watch until `stop` is set: events wake the loop, rescans run anyway."""
        stop = stop or threading.Event()
        self.start()
        try:
            self._start_observers()
            while not stop.is_set():
                pause = self.settings.watch_poll_s
                try:
                    self.step()
                except Exception:  # a share gone stale, a locked catalog: go on
                    log.exception("a watcher pass failed; trying again")
                    pause = min(30.0, 10 * pause)
                self.wake.wait(pause)
                self.wake.clear()
        finally:
            self.close()

    @property
    def _workers(self) -> int:
        return self.settings.watch_workers

    @property
    def _ledger(self) -> Ledger:
        if self.ledger is None:
            raise DigitizeError("the watcher is not started", code="internal.error")
        return self.ledger

    def _catalog(self) -> Catalog:
        """The catalog connection of the calling thread (SQLite wants one each)."""
        if threading.current_thread() is self._owner:
            return self.catalog
        return self._catalogs.get()

    # --- one pass ------------------------------------------------------------------

    def step(self) -> int:
        """Look, give settled files to workers, collect; return how many wait."""
        self.start()
        now = time.monotonic()
        for spec in self.specs:
            self._look_through(spec, now)
        self._collect()
        self._dispatch()
        self._apply_manifests(now)
        self._beat()
        return len(self._ledger.entries()) + len(self._manifests)

    def _look_through(self, spec: FolderSpec, now: float) -> None:
        last = self._last_full.get(spec.path)
        full = (
            not self._observers
            or spec.mode == "polling"
            or last is None
            or now - last >= spec.rescan_s
        )
        if full:
            found: Iterable[Path] = walk(spec.path)
            self._last_full[spec.path] = now
            self._rescan_at = time.time()
        else:
            found = self._take_events(spec.path)
        waiting = [e.path for e in self._ledger.entries("seen", folder=spec.path)]
        tracked = [p for p in self.tracker.paths() if spec.path in p.parents]
        for path in dict.fromkeys([*found, *waiting, *tracked]):
            self._look(spec, path, now)

    def _look(self, spec: FolderSpec, path: Path, now: float) -> None:
        """One look at one path: record it, follow its settling, queue it when quiet."""
        relative = path.relative_to(spec.path)
        if any(part.startswith(".") for part in relative.parts[:-1]):
            return
        st = self._lstat(spec, path, relative)
        if st is None or stat.S_ISDIR(st.st_mode) or is_ignored(path.name):
            return
        refused = refusal(st)
        if refused is None and is_manifest(path.name):
            self._manifests[path] = spec
            self.tracker.settled(path, st, spec.settle_s, now)
            return
        ident = (st.st_size, st.st_mtime_ns, st.st_ino)
        known = self._known.get(path)
        if known is not None and known[0] == ident:
            if path in self.tracker:
                self._settle(path, st, spec, now, known[1])
            return
        if refused is not None and self._left_before(spec, relative, ident):
            self._known[path] = (ident, 0)
            return
        entry = self._ledger.observe(spec.path, relative, st)
        self._known[path] = (ident, entry.id)
        if entry.state != "seen":
            return
        if refused is not None:
            self._ledger.update(entry.id, state="queued")
        else:
            self._settle(path, st, spec, now, entry.id)

    def _lstat(
        self, spec: FolderSpec, path: Path, relative: Path
    ) -> os.stat_result | None:
        try:
            return os.lstat(path)
        except FileNotFoundError:
            self._gone(spec, path, relative)
        except OSError as err:  # ESTALE, EIO: a share in trouble; look again later
            log.warning("cannot look at a file in a watched folder: %s", err.strerror)
        return None

    def _settle(
        self,
        path: Path,
        st: os.stat_result,
        spec: FolderSpec,
        now: float,
        entry_id: int,
    ) -> None:
        if self.tracker.settled(path, st, spec.settle_s, now):
            self._ledger.update(entry_id, state="queued")
            self.tracker.forget(path)

    def _left_before(
        self, spec: FolderSpec, relative: Path, ident: tuple[int, int, int]
    ) -> bool:
        """A refused entry that could not be moved and is still the same one."""
        last = self._ledger.last_final(spec.path, relative)
        return (
            last is not None
            and last.destination is None
            and (last.size_bytes, last.mtime_ns, last.inode) == ident
        )

    def _gone(self, spec: FolderSpec, path: Path, relative: Path) -> None:
        self.tracker.forget(path)
        self._known.pop(path, None)
        self._manifests.pop(path, None)
        for entry in self._ledger.entries("seen", "queued", "retry", folder=spec.path):
            if entry.relative == relative:
                self._ledger.update(entry.id, state="vanished")
                log.info("file %s vanished before it was taken", entry.short)

    def _dispatch(self) -> None:
        # One file at a time until one was stored: libraries that fill caches lazily
        # on first use (asn1crypto names in pyHanko's signer, fonts, OCR engines) are
        # then warm before several threads use them at once.
        width = 2 * self._workers if self._warm else 1
        room = width - len(self._running)
        due = [
            entry
            for entry in self._ledger.entries("queued", "retry", "moving")
            if entry.next_try <= time.time() and entry.id not in self._running
        ]
        for entry in due[: max(room, 0)]:
            if self._pool is None:
                return
            future = self._pool.submit(self.worker.run, entry.id)
            self._running[entry.id] = (entry.path, future)
            future.add_done_callback(lambda _: self.wake.set())

    def _collect(self) -> None:
        for entry_id, (path, future) in list(self._running.items()):
            if not future.done():
                continue
            del self._running[entry_id]
            self._known.pop(path, None)
            self.tracker.forget(path)
            try:
                outcome = future.result()
            except Exception:  # a bug met by one file must not stop the rest
                log.exception("file #%d: the worker failed", entry_id)
                outcome = self._after_crash(entry_id)
            if outcome is not None:
                self._warm |= outcome.status == "stored"
                self.outcomes.append(outcome)
                self.on_outcome(outcome)

    def _after_crash(self, entry_id: int) -> FileOutcome | None:
        entry = self._ledger.get(entry_id)
        if entry.state != "working":
            return None
        return recover_entry(
            entry, self._ledger, self.catalog, self.worker, self.settings
        )

    def _apply_manifests(self, now: float) -> None:
        for path, spec in list(self._manifests.items()):
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                self._manifests.pop(path, None)
                continue
            except OSError:
                continue
            if not self.tracker.settled(path, st, spec.settle_s, now):
                continue
            if not is_dossier_empty(path.parent):
                continue
            apply_manifest(path, spec.path, self.catalog, self.settings)
            self._manifests.pop(path, None)
            self.tracker.forget(path)

    def _beat(self) -> None:
        if time.monotonic() - self._beat_at < _BEAT_S:
            return
        self._beat_at = time.monotonic()
        values: dict[str, Any] = {"heartbeat": time.time(), "pid": os.getpid()}
        if self._rescan_at is not None:
            values["last_rescan"] = self._rescan_at
        self._ledger.set_meta(**values)

    # --- file events ---------------------------------------------------------------

    def _start_observers(self) -> None:
        for index, spec in enumerate(self.specs):
            if spec.mode != "events":
                continue
            try:
                self._observers.append(self._observe(spec))
            except OSError as err:
                # inotify limits, or a file system without events: poll instead.
                log.warning("file events unavailable (%s); polling instead", err)
                self.specs[index] = dataclasses.replace(spec, mode="polling")

    def _observe(self, spec: FolderSpec) -> Any:
        from watchdog.events import FileSystemEvent, FileSystemEventHandler
        from watchdog.observers import Observer

        watcher = self

        class _Collect(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                paths = {event.src_path, getattr(event, "dest_path", "") or ""}
                with watcher._events_lock:
                    watcher._events[spec.path].update(
                        Path(os.fsdecode(p)) for p in paths if p
                    )
                watcher.wake.set()

        observer = Observer()
        observer.schedule(_Collect(), str(spec.path), recursive=True)
        observer.start()
        return observer

    def _take_events(self, folder: Path) -> Iterator[Path]:
        with self._events_lock:
            paths, self._events[folder] = self._events[folder], set()
        for path in sorted(paths):
            if folder not in path.parents:
                continue
            if path.is_dir() and not path.is_symlink():
                yield from walk(path)  # a whole dossier folder moved in
            else:
                yield path

    # --- helpers for tests and tools ------------------------------------------------

    def scan(self) -> Iterator[Path]:
        """Every candidate file under the first folder, skipping ignored names."""
        for path in walk(self.inbox):
            relative = path.relative_to(self.inbox)
            if not is_ignored(path.name) and not relative.parts[0].startswith("."):
                yield path

    def settled(self, path: Path, now: float) -> bool:
        """True once size and mtime held for the first folder's quiet period."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            self.tracker.forget(path)
            return False
        return self.tracker.settled(path, st, self.specs[0].settle_s, now)
