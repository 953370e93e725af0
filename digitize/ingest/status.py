"""Liveness of the watcher for `digitize status`, read from its ledger."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any

from digitize.config import Settings
from digitize.ledger import Ledger

__all__ = ["format_status", "read_status"]

# A watcher that has not written its heartbeat for this long is stalled.
_STALE_AFTER_S = 60.0


def read_status(settings: Settings) -> dict[str, Any]:
    """Counts per state and the watcher's heartbeat, rescan and last success."""
    path = settings.home / "ledger.sqlite3"
    if not path.exists():
        return {"alive": False, "running": False, "ledger": str(path), "seen": 0}
    ledger = Ledger(path)
    try:
        counts, meta = ledger.counts(), ledger.meta()
    finally:
        ledger.close()
    pid = int(meta.get("pid") or 0)
    heartbeat = float(meta.get("heartbeat") or 0)
    running = pid > 0 and _pid_alive(pid)
    stale_after = max(_STALE_AFTER_S, 5 * settings.watch_poll_s)
    return {
        "alive": running and time.time() - heartbeat < stale_after,
        "running": running,
        "pid": pid or None,
        "folders": meta.get("folders", []),
        "seen": sum(counts.values()),
        "queued": sum(counts.get(s, 0) for s in ("seen", "queued", "retry")),
        "in_progress": sum(counts.get(s, 0) for s in ("working", "moving")),
        "done": counts.get("processed", 0),
        "duplicates": counts.get("duplicate", 0),
        "quarantined": counts.get("quarantined", 0),
        "vanished": counts.get("vanished", 0),
        "heartbeat": _iso(heartbeat),
        "last_rescan": _iso(meta.get("last_rescan")),
        "last_success": _iso(meta.get("last_success")),
        "started": _iso(meta.get("started")),
    }


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _iso(value: Any) -> str | None:
    if not value:
        return None
    return datetime.fromtimestamp(float(value), UTC).isoformat(timespec="seconds")


def format_status(status: dict[str, Any]) -> str:
    """The status as aligned lines for a terminal."""
    state = (
        "alive" if status["alive"] else "STALLED" if status.get("running") else "DOWN"
    )
    lines = [
        f"watcher      {state}"
        + (f" (pid {status['pid']})" if status.get("pid") else "")
    ]
    for folder in status.get("folders", []):
        lines.append(f"folder       {folder['path']} ({folder['mode']})")
    for key in ("seen", "queued", "in_progress", "done", "duplicates", "quarantined",
                "vanished", "heartbeat", "last_rescan", "last_success"):  # fmt: skip
        lines.append(f"{key.replace('_', ' '):<12} {status.get(key) or '-'}")
    return "\n".join(lines)
