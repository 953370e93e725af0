"""What an inbox name means: ignored until renamed, a dossier manifest, or a scan."""

from __future__ import annotations

import unicodedata
from pathlib import Path

__all__ = ["MANIFEST_NAMES", "display_name", "dossier_of", "is_ignored", "is_manifest"]

# Copy programs and browsers write under these names, then rename (atomic hand-off).
_TEMP_SUFFIXES = (".part", ".tmp", ".filepart", ".crdownload", ".partial", ".download")
_SYSTEM_NAMES = {"thumbs.db", "desktop.ini", ".ds_store", "ehthumbs.db", "icon\r"}
# Our own reason files, should someone copy a quarantine folder back whole.
_OWN_SUFFIXES = (".reason.json",)
MANIFEST_NAMES = ("manifest.json", "manifest.csv")


def is_ignored(name: str) -> bool:
    """Names still being written, or belonging to the system, are left alone."""
    lower = name.lower()
    return (
        lower.startswith((".", "~$", "~lock."))
        or lower in _SYSTEM_NAMES
        or lower.endswith(_TEMP_SUFFIXES + _OWN_SUFFIXES)
    )


def is_manifest(name: str) -> bool:
    """The optional dossier manifest beside the scans."""
    return name.lower() in MANIFEST_NAMES


def display_name(name: str) -> str:
    """The NFC form of an on-disk name (macOS and iOS send NFD), for catalog and UI."""
    return unicodedata.normalize("NFC", name)


def dossier_of(relative: Path) -> tuple[str, str]:
    """Unit and dossier code from INBOX/<unit>/<dossier>/...; empty when absent."""
    parts = [display_name(part) for part in relative.parts[:-1]]
    unit = parts[0] if parts else ""
    dossier = parts[1] if len(parts) > 1 else ""
    return unit, dossier
