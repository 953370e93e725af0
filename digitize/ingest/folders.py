"""Watched folders with their effective mode and timings; walking and settling."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from digitize.config import Settings, WatchFolder

__all__ = ["FolderSpec", "SettleTracker", "resolve_folders", "walk"]


@dataclass(frozen=True)
class FolderSpec:
    """One watched folder, every timing filled in from the settings."""

    path: Path
    """Resolved absolute path."""
    mode: str
    """events or polling."""
    settle_s: float
    rescan_s: float
    young_s: float


def resolve_folders(settings: Settings, inbox: Path | None = None) -> list[FolderSpec]:
    """The folders to watch: `inbox` if given, else watch_folders, else home/inbox."""
    if inbox is not None:
        folders: tuple[WatchFolder, ...] = (WatchFolder(inbox),)
    else:
        folders = settings.watch_folders or (WatchFolder(settings.inbox),)
    specs = []
    for folder in folders:
        folder.path.mkdir(parents=True, exist_ok=True)
        default_mode = "polling" if settings.watch_polling else "events"
        specs.append(
            FolderSpec(
                path=Path(os.path.realpath(folder.path)),
                mode=folder.mode or default_mode,
                settle_s=_pick(folder.settle_s, settings.watch_settle_s),
                rescan_s=_pick(folder.rescan_s, settings.watch_rescan_s),
                young_s=_pick(folder.young_s, settings.watch_young_s),
            )
        )
    return specs


def _pick(value: float | None, default: float) -> float:
    return default if value is None else value


def walk(folder: Path) -> Iterator[Path]:
    """Every entry under `folder` that may be a scan, without following links.

    Dot-folders (sync tools' state) are skipped; a symbolic link to a folder is given
    as an entry of its own, to be refused.
    """
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        keep = []
        for name in sorted(dirs):
            if name.startswith("."):
                continue
            if (here / name).is_symlink():
                yield here / name
            else:
                keep.append(name)
        dirs[:] = keep
        for name in sorted(files):
            yield here / name


class SettleTracker:
    """Remembers each file's last size and mtime, and since when they held."""

    def __init__(self) -> None:
        """Nothing tracked yet."""
        self._seen: dict[Path, tuple[int, int, float]] = {}

    def settled(
        self, path: Path, st: os.stat_result, settle_s: float, now: float
    ) -> bool:
        """True once size and mtime were equal on two looks `settle_s` apart."""
        current = (st.st_size, st.st_mtime_ns)
        previous = self._seen.get(path)
        if previous is None or previous[:2] != current:
            self._seen[path] = (*current, now)
            return False
        return now - previous[2] >= settle_s

    def forget(self, path: Path) -> None:
        """Stop tracking a file (taken, vanished or refused)."""
        self._seen.pop(path, None)

    def __contains__(self, path: object) -> bool:
        """True while the file is being watched for quiet."""
        return path in self._seen

    def paths(self) -> list[Path]:
        """Files being watched for quiet."""
        return list(self._seen)


def monotonic() -> float:
    """The clock settle periods are measured on."""
    return time.monotonic()
