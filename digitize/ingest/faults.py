"""Fault injection for the crash-safety test, and nothing else.

With DIGITIZE_FAULT_AT=<stage> (or <stage>:<n>, the n-th time) in the environment, the
watcher process kills itself with SIGKILL when a file reaches that stage boundary, as a
power cut or the OOM killer would. Unset (always, in service), it does nothing.
Stages, in order: claimed, duplicate, opened, ocr, extract, pdf, sign, blobs, committed,
decided, moved.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter

__all__ = ["checkpoint"]

_ENV = "DIGITIZE_FAULT_AT"
_seen: Counter[str] = Counter()
_lock = threading.Lock()


def checkpoint(stage: str) -> None:
    """Die here, at once and without cleanup, if the environment asks for it."""
    wanted = os.environ.get(_ENV)
    if not wanted:
        return
    name, _, nth = wanted.partition(":")
    if name != stage:
        return
    with _lock:
        _seen[stage] += 1
        if _seen[stage] >= int(nth or 1):
            os.kill(os.getpid(), signal.SIGKILL)
