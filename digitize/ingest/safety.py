"""Safety on a share many accounts can write to.

Refuse what is not a plain file, open nothing outside the inbox, and refuse to start on
a layout others could tamper with.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from digitize.config import Settings
from digitize.errors import ConfigError, InputError

__all__ = ["check_layout", "open_inside", "refusal"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO must never wait for a writer; O_NOCTTY: never a terminal.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


def refusal(st: os.stat_result) -> InputError | None:
    """Why a directory entry is refused without being opened; None for a plain file."""
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        return InputError(
            "symbolic links are refused: they can point outside the inbox; copy the "
            "file itself into the inbox",
            code="input.symlink",
        )
    if not stat.S_ISREG(mode):
        kind = (
            "named pipe (FIFO)"
            if stat.S_ISFIFO(mode)
            else "device file"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "socket"
            if stat.S_ISSOCK(mode)
            else "special file"
        )
        return InputError(
            f"a {kind} is not a scan and is refused; remove it from the inbox",
            code="input.not_regular",
        )
    # LIMITATION: where the other name of a hard link lies cannot be told -> every
    # file with more than one link is refused, even when both names are in the inbox.
    if st.st_nlink > 1:
        return InputError(
            f"the file has {st.st_nlink} hard links: another name for it may lie "
            "outside the inbox; copy the file instead of linking it",
            code="input.hard_link",
        )
    return None


def open_inside(folder: Path, relative: Path) -> int:
    """Open a file for reading, checking just before that it stays inside `folder`.

    The path is resolved and compared with the folder, then opened one component at
    a time without following symbolic links, so a swapped-in link cannot lead out.

    Raises:
        InputError: the path leaves the folder, or is not a plain file.
        OSError: the file is gone or unreadable (the caller retries or records it).
    """
    root = os.path.realpath(folder)
    # The folder holding the file must resolve inside; the file itself is checked
    # without following it (a link there is refused as a link).
    real = os.path.realpath(Path(root) / relative.parent)
    if os.path.commonpath([root, real]) != root:
        raise _outside()
    dir_fd = os.open(root, _DIR_FLAGS)
    try:
        for part in relative.parts[:-1]:
            next_fd = _open_component(part, dir_fd)
            os.close(dir_fd)
            dir_fd = next_fd
        before = os.stat(relative.name, dir_fd=dir_fd, follow_symlinks=False)
        refused = refusal(before)
        if refused is not None:
            raise refused
        fd = _open_component(relative.name, dir_fd, _FILE_FLAGS)
    finally:
        os.close(dir_fd)
    _check_opened(fd, before)
    return fd


def _open_component(name: str, dir_fd: int, flags: int = _DIR_FLAGS) -> int:
    try:
        return os.open(name, flags, dir_fd=dir_fd)
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.ENOTDIR):
            raise _outside() from err
        raise


def _check_opened(fd: int, before: os.stat_result) -> None:
    after = os.fstat(fd)
    refused = refusal(after)
    if refused is None and (after.st_dev, after.st_ino) != (
        before.st_dev,
        before.st_ino,
    ):
        refused = _outside()
    if refused is not None:
        os.close(fd)
        raise refused


def _outside() -> InputError:
    return InputError(
        "the path leads outside the inbox through a symbolic link; files are only "
        "taken from inside it",
        code="input.outside_inbox",
    )


def check_layout(
    folders: list[Path], settings: Settings, config: Path | None = None
) -> None:
    """Refuse to start when state or configuration lies in an inbox or is open to all.

    Raises:
        ConfigError: code config.unsafe_layout, naming the path and the reason.
    """
    state = {
        "home": settings.home,
        "processed folder": settings.processed,
        "duplicates folder": settings.duplicates,
        "quarantine folder": settings.quarantine,
        "repository": settings.repository,
        "work folder": settings.work,
        "catalog": settings.catalog,
        "keys folder": settings.keys,
    }
    if config is not None:
        state["configuration file"] = config
    for name, path in state.items():
        _check_outside_inboxes(name, path, folders)
        _check_not_open_to_all(name, path)
    if config is not None:
        _check_not_open_to_all("configuration folder", config.parent)


def _check_outside_inboxes(name: str, path: Path, folders: list[Path]) -> None:
    real = Path(os.path.realpath(path))
    for folder in folders:
        inbox = Path(os.path.realpath(folder))
        if real == inbox or inbox in real.parents:
            raise ConfigError(
                f"the {name} {path} lies inside the watched folder {folder}: anyone "
                "who can drop a scan could change it; move it outside the inbox",
                code="config.unsafe_layout",
            )


def _check_not_open_to_all(name: str, path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    if mode & stat.S_IWOTH:
        raise ConfigError(
            f"the {name} {path} is writable by every account (mode "
            f"{stat.S_IMODE(mode):04o}); run `chmod o-w {path}` first",
            code="config.unsafe_layout",
        )
