"""Fonts with Vietnamese glyphs, found on the system (Debian's fonts-dejavu-core)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["find_font"]

_CANDIDATES = {
    "serif": [
        "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
        "/usr/share/fonts/truetype/noto/NotoSerif-Regular.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",
    ],
    "serif-bold": [
        "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf",
        "/usr/share/fonts/truetype/noto/NotoSerif-Bold.ttf",
    ],
    "sans": [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    ],
    "sans-bold": [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
        "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf",
    ],
    "mono": [
        "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
        "/usr/share/fonts/truetype/noto/NotoSansMono-Regular.ttf",
    ],
}


def find_font(kind: str = "serif") -> Path:
    """Path of an installed TrueType font of `kind` (serif, sans, mono, *-bold)."""
    from digitize.errors import DependencyError

    for candidate in _CANDIDATES[kind]:
        path = Path(candidate)
        if path.exists():
            return path
    raise DependencyError(
        f"no {kind} font with Vietnamese glyphs found; "
        "apt-get install fonts-dejavu-core",
        code="dependency.font",
    )
