"""Claim step: copy a file into the private work area, hashing its raw bytes on the way.

The hash is over the input exactly as received, before any transformation, so the same
bytes are recognised again whatever their name. Every later stage reads the copy.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from digitize.errors import InputError
from digitize.ingest.names import display_name, dossier_of
from digitize.ingest.safety import open_inside
from digitize.ledger import Entry
from digitize.pipeline import Claim

__all__ = ["FileChangedError", "claim_entry", "claim_path"]

_CHUNK = 1 << 20


class FileChangedError(Exception):
    """The file changed between the look that settled it and the end of the copy."""


def claim_entry(entry: Entry, work: Path, *, max_bytes: int, young: bool) -> Claim:
    """Claim a settled inbox file, opened safely inside its watched folder.

    Raises:
        FileChangedError: size, mtime or inode differ from the settled look.
        InputError: refused (link, special file, outside the inbox) or too large.
        OSError: gone or unreadable; the caller decides between retry and vanish.
    """
    fd = open_inside(entry.folder, entry.relative)
    expected = (entry.size_bytes, entry.mtime_ns, entry.inode)
    unit, dossier = dossier_of(entry.relative)
    copy = work / str(entry.id)
    sha, size = _copy_hashing(fd, copy, max_bytes=max_bytes, expected=expected)
    return Claim(
        copy=copy,
        sha256=sha,
        size_bytes=size,
        name=display_name(entry.relative.name),
        unit=unit,
        dossier=dossier,
        young=young,
    )


def claim_path(path: Path, work: Path, *, unit: str = "", dossier: str = "") -> Claim:
    """Claim a file given on the command line, where it lies.

    Raises:
        InputError: not a plain file.
        OSError: missing or unreadable.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    work.mkdir(parents=True, exist_ok=True)
    copy = work / f"{os.getpid()}-{hashlib.sha256(bytes(path)).hexdigest()[:12]}"
    sha, size = _copy_hashing(fd, copy, max_bytes=None, expected=None)
    return Claim(copy, sha, size, display_name(path.name), unit, dossier)


def _copy_hashing(
    fd: int,
    copy: Path,
    *,
    max_bytes: int | None,
    expected: tuple[int, int, int] | None,
) -> tuple[str, int]:
    """Copy from `fd` (closed afterwards) to `copy`; return SHA-256 and size."""
    try:
        before = os.fstat(fd)
        ident = (before.st_size, before.st_mtime_ns, before.st_ino)
        if expected is not None and ident != expected:
            raise FileChangedError
        if not stat.S_ISREG(before.st_mode):
            raise InputError("only plain files are scans", code="input.not_regular")
        if max_bytes is not None and before.st_size > max_bytes:
            raise InputError(
                f"the file has {before.st_size / 2**20:.0f} MB, more than max_file_mb "
                f"({max_bytes // 2**20} MB); split it or raise the limit",
                code="input.too_large",
            )
        digest, size = _copy(fd, copy)
        after = os.fstat(fd)
    finally:
        os.close(fd)
    if size != before.st_size or (after.st_size, after.st_mtime_ns) != ident[:2]:
        copy.unlink(missing_ok=True)
        raise FileChangedError
    return digest, size


def _copy(fd: int, copy: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    copy.parent.mkdir(parents=True, exist_ok=True)
    with copy.open("wb") as out:
        while chunk := os.read(fd, _CHUNK):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
