"""Records of the pages stage and its shared helpers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from digitize.errors import InputError
from digitize.records import Word

__all__ = ["OpenedDocument", "PageImage", "short_message", "too_many_pixels"]


@dataclass
class PageImage:
    """One page as pixels, with the resolution it was scanned at."""

    index: int
    image: Image.Image
    dpi: float
    dpi_estimated: bool = False
    words: list[Word] | None = None
    """The page's own visible text (born-digital PDF pages), used instead of OCR."""


@dataclass
class OpenedDocument:
    """A scan that opened structurally: what later stages read, and what we saw."""

    path: Path
    """The private copy, or its repaired twin when the PDF needed repair."""
    fmt: str
    pages: int
    notes: dict[str, Any] = field(default_factory=dict)
    """Facts recorded with the document: repaired, encryption, signatures, DPI, ..."""
    text_pages: frozenset[int] = frozenset()
    """1-based numbers of PDF pages that draw visible text of their own."""


def short_message(message: str) -> str:
    """A library message without file paths, cut to its last 300 characters."""
    # qpdf and Pillow name the file they read: the private copy in the work area, a
    # name that means nothing to staff (the scan's own name is in the error's context).
    return _PATH_PREFIX.sub("", message.strip())[-300:]


_PATH_PREFIX = re.compile(r"(?<![\w.])/[^\s:]*:\s*")


def too_many_pixels(what: str = "") -> InputError:
    """The error for anything over the pixel budget."""
    return InputError(
        (f"{what}: " if what else "")
        + "more pixels than the configured budget (max_pixels); scan at a lower "
        "resolution or raise max_pixels",
        code="input.too_many_pixels",
    )
