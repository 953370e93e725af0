"""Put-away step: move an inbox file to processed/, duplicates/ or quarantine/.

Runs only after the catalog commit. Each move is idempotent so the watcher can repeat
it after a crash: a rename on one file system, else copy, fsync, rename, then unlink.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["free_target", "move_file"]

_MOVED, _GONE, _CHANGED, _LEFT = "moved", "gone", "changed", "left"


def free_target(folder: Path, relative: Path) -> Path:
    """`folder/relative`, or the first `name-N.ext` beside it that is free."""
    target = folder / relative
    if not target.exists() and not target.is_symlink():
        return target
    for n in range(1, 100_000):
        candidate = target.with_name(f"{target.stem}-{n}{target.suffix}")
        if not candidate.exists() and not candidate.is_symlink():
            return candidate
    raise OSError(errno.EEXIST, "no free name", str(target))


def move_file(
    source: Path, target: Path, ident: tuple[int, int, int], *, plain: bool
) -> str:
    """Move `source` to `target` if it is still the file that was processed.

    `ident` is (size, mtime_ns, inode) as settled. Plain files may be copied across
    file systems; anything else (link, FIFO, device) is only ever renamed, never
    opened, and is left in place when a rename cannot reach the target.

    Returns:
        moved, gone (no source: an earlier attempt moved it or someone removed it),
        changed (another file now has the name: it is left for the watcher), or left.
    """
    try:
        st = os.lstat(source)
    except FileNotFoundError:
        return _GONE
    if (st.st_size, st.st_mtime_ns, st.st_ino) != ident:
        return _CHANGED
    if target.exists():
        # An earlier attempt finished the copy to another file system; only the
        # unlink of the source was missing.
        source.unlink()
        return _MOVED
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        source.rename(target)
    except OSError as err:
        if err.errno != errno.EXDEV:
            raise
        if not plain:
            # LIMITATION: a link, FIFO or device on another file system than the
            # quarantine cannot be moved unopened -> it stays in the inbox, its reason
            # file in quarantine says so, and it is not looked at again.
            return _LEFT
        _copy_across(source, target)
        source.unlink()
    return _MOVED


def _copy_across(source: Path, target: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-move-")
    try:
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
        with os.fdopen(fd, "wb") as out, os.fdopen(os.open(source, flags), "rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        shutil.copystat(source, tmp, follow_symlinks=False)
        Path(tmp).replace(target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
