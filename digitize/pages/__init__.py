"""Pages stage: open a scan file structurally, then split it into page images.

Takes a private copy of the input (PDF, TIFF, JPEG, PNG; content is sniffed, never the
extension); `open_document` checks it whole (encryption, damage with one repair step,
pixel budget, page limit) and `iter_pages` gives `PageImage`s one by one, so a long PDF
streams page by page.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from digitize.errors import InputError
from digitize.pages.images import count_frames, iter_image_pages
from digitize.pages.model import OpenedDocument, PageImage
from digitize.pages.pdf import iter_pdf_pages, open_pdf
from digitize.pages.text import page_from_text_layer

__all__ = [
    "OpenedDocument",
    "PageImage",
    "count_pages",
    "iter_pages",
    "open_document",
    "page_from_text_layer",
    "sniff_format",
]


def sniff_format(head: bytes) -> str:
    """Name the file format from its first bytes.

    Raises:
        InputError: empty file or not a PDF, TIFF, JPEG or PNG.
    """
    if not head:
        raise InputError("the file is empty; scan it again", code="input.empty")
    if head.startswith(b"%PDF") or b"%PDF-" in head[:1024]:
        return "pdf"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    raise InputError(
        f"the file (first {len(head)} bytes read) is not a PDF, TIFF, JPEG or PNG "
        "scan; save it as one of these",
        code="input.unsupported_format",
    )


def open_document(
    path: Path,
    fmt: str,
    *,
    max_pages: int,
    max_pixels: int,
    allow_repair: bool = True,
) -> OpenedDocument:
    """Open the file structurally: count pages, check encryption, damage and pixels.

    A damaged PDF gets one repair step into a clean twin beside `path` that every later
    stage reads; `allow_repair=False` (a file still young) refuses instead.

    Raises:
        InputError: encrypted, damaged beyond repair, over the page or pixel limit.
    """
    if fmt == "pdf":
        document = open_pdf(path, max_pixels, allow_repair=allow_repair)
    else:
        document = OpenedDocument(path, fmt, count_frames(path, max_pixels))
    if document.pages == 0:
        raise InputError("the document has no pages", code="input.no_pages")
    if document.pages > max_pages:
        raise InputError(
            f"the document has {document.pages} pages, more than the limit of "
            f"{max_pages}; split it or raise max_pages",
            code="input.too_many_pages",
        )
    return document


def count_pages(
    path: Path, fmt: str, *, max_pages: int, max_pixels: int = 200_000_000
) -> int:
    """Open the file structurally (without repair) and count its pages.

    Raises:
        InputError: encrypted, damaged, or over the page limit.
    """
    opened = open_document(
        path, fmt, max_pages=max_pages, max_pixels=max_pixels, allow_repair=False
    )
    return opened.pages


def iter_pages(
    path: Path,
    fmt: str,
    *,
    dpi: int,
    max_pixels: int,
    notes: dict[str, Any] | None = None,
    text_pages: frozenset[int] = frozenset(),
) -> Iterator[PageImage]:
    """Yield each page as an 8-bit grey, bilevel or RGB image on white.

    PDF pages are rendered at `dpi`; image pages keep their resolution (estimated when
    missing or absurd, reduced when far finer than `dpi`). Pages numbered in
    `text_pages` (1-based, from `open_document`) carry their own text layer as words.
    `notes` collects per-page facts (estimated DPI, invalid EXIF, reductions).

    Raises:
        InputError: a page is over the pixel budget or cannot be decoded.
    """
    notes = notes if notes is not None else {}
    if fmt == "pdf":
        yield from iter_pdf_pages(path, dpi, max_pixels, text_pages)
    else:
        yield from iter_image_pages(path, dpi, max_pixels, notes)
