"""The watcher as a service: one per home, stopped cleanly by SIGTERM or SIGINT."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from digitize.errors import DigitizeError

if TYPE_CHECKING:
    from digitize.ingest.watcher import Watcher

__all__ = ["take_home_lock", "watch_until_signalled"]


def take_home_lock(home: Path) -> int:
    """One watcher per home: a second one would race the first for the same files."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / "watch.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise DigitizeError(
            f"another watcher (pid {holder}) is running on {home}; stop it first, or "
            "give this one its own DIGITIZE_HOME",
            code="watch.running",
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


def watch_until_signalled(watcher: Watcher) -> None:
    """Run the watcher until SIGTERM or SIGINT; in-flight files finish first."""
    stop = threading.Event()

    def _stop(*_: object) -> None:
        stop.set()
        watcher.wake.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(ValueError):  # not the main thread
            signal.signal(sig, _stop)
    watcher.run_forever(stop)
