"""Font families the varied sample pages are set in, as far as they are installed.

DejaVu comes with fonts-dejavu-core (always needed); Liberation (fonts-liberation2;
the older fonts-liberation lacks Vietnamese) and Noto (fonts-noto-core) are optional:
a set asks only for the families present.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

__all__ = ["FAMILIES", "available_families", "family_font_path"]

_ROOT = Path("/usr/share/fonts/truetype")
# family -> font kind -> file under _ROOT; every kind has Vietnamese glyphs.
FAMILIES: dict[str, dict[str, str]] = {
    "dejavu": {
        "sans": "dejavu/DejaVuSans.ttf",
        "sans-bold": "dejavu/DejaVuSans-Bold.ttf",
        "serif": "dejavu/DejaVuSerif.ttf",
        "serif-bold": "dejavu/DejaVuSerif-Bold.ttf",
        "mono": "dejavu/DejaVuSansMono.ttf",
    },
    "liberation": {
        "sans": "liberation2/LiberationSans-Regular.ttf",
        "sans-bold": "liberation2/LiberationSans-Bold.ttf",
        "serif": "liberation2/LiberationSerif-Regular.ttf",
        "serif-bold": "liberation2/LiberationSerif-Bold.ttf",
        "mono": "dejavu/DejaVuSansMono.ttf",
    },
    "noto": {
        "sans": "noto/NotoSans-Regular.ttf",
        "sans-bold": "noto/NotoSans-Bold.ttf",
        "serif": "noto/NotoSerif-Regular.ttf",
        "serif-bold": "noto/NotoSerif-Bold.ttf",
        "mono": "dejavu/DejaVuSansMono.ttf",
    },
}


def family_font_path(family: str, kind: str) -> Path:
    """Path of the `kind` font (sans, serif-bold, ...) of `family`."""
    return _ROOT / FAMILIES[family][kind]


@cache
def available_families() -> tuple[str, ...]:
    """Families whose every font file is installed, DejaVu first."""
    return tuple(
        name
        for name, kinds in FAMILIES.items()
        if all((_ROOT / path).is_file() for path in kinds.values())
    )
