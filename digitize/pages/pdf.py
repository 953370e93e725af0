"""PDF scans: structural open, one repair step, page-by-page rendering.

The open checks encryption, signatures, damage and the pixel budget; a damaged file is
rebuilt once into a clean twin; pdfium renders one page at a time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pikepdf
import pypdfium2 as pdfium

from digitize.errors import InputError
from digitize.pages.images import normalise
from digitize.pages.model import (
    OpenedDocument,
    PageImage,
    short_message,
    too_many_pixels,
)
from digitize.pages.text import text_layer_words

__all__ = ["iter_pdf_pages", "open_pdf"]

log = logging.getLogger(__name__)

_WARNINGS_KEPT = 5
_TEXT_SHOWING = {"Tj", "TJ", "'", '"'}
# Text render modes 3 (invisible) and 7 (clip only) draw nothing: a previous OCR layer.
_INVISIBLE = {3, 7}
# An image with a quarter of the pixels of the page at 150 dpi is a scan, not a logo.
_SCAN_SHARE, _SCAN_SCALE = 0.25, (150 / 72) ** 2
# PDFium is not thread-safe, not even across documents (pypdfium2 docs), and the
# watcher reads several files in threads: every call into it holds this lock. It is
# held for one page at a time, so one file's OCR overlaps the next file's raster.
_PDFIUM = threading.RLock()
_PAGES_PER_OPEN = 16


def open_pdf(path: Path, max_pixels: int, *, allow_repair: bool) -> OpenedDocument:
    """Open a PDF whole; repair it once into a clean twin when the parser complains.

    Raises:
        InputError: needs a password, damaged beyond repair, or over the pixel budget.
    """
    facts: dict[str, Any] = {}
    warnings = _inspect(path, max_pixels, facts)
    if not warnings and _pdfium_opens(path):
        return _opened(path, facts, {})
    if not allow_repair:
        raise InputError(
            "the PDF is incomplete or damaged; it is retried while it may still be "
            "being written",
            code="input.damaged_pdf",
        )
    repaired = _repair(path)
    again: dict[str, Any] = {}
    _inspect(repaired, max_pixels, again)
    if not _pdfium_opens(repaired):
        raise InputError(
            "the PDF is damaged and could not be repaired; ask for a new copy",
            code="input.damaged_pdf",
        )
    log.warning("repaired a damaged PDF (%d parser warnings)", len(warnings))
    again["encryption"] = facts.get("encryption")
    notes = {"repaired": True, "repair_warnings": warnings[:_WARNINGS_KEPT]}
    return _opened(repaired, again, notes)


def _opened(path: Path, facts: dict[str, Any], notes: dict[str, Any]) -> OpenedDocument:
    for key in ("encryption", "signature_fields"):
        if facts.get(key):
            notes[key] = facts[key]
    return OpenedDocument(
        path, "pdf", facts["pages"], notes, frozenset(facts["text_pages"])
    )


def _inspect(path: Path, max_pixels: int, facts: dict[str, Any]) -> list[str]:
    """Read the whole structure into `facts`; return the parser's warnings (damage)."""
    try:
        with pikepdf.open(path) as pdf:
            facts["pages"] = len(pdf.pages)
            facts["encryption"] = _encryption(pdf) if pdf.is_encrypted else None
            facts["signature_fields"] = _signature_fields(pdf)
            facts["text_pages"], broken = _check_pages(pdf, max_pixels)
            return broken + [short_message(w) for w in pdf.get_warnings()]
    except pikepdf.PasswordError as err:
        raise InputError(
            "the PDF is protected by a password needed to open it; ask the citizen or "
            "agency for an unprotected copy",
            code="input.encrypted",
        ) from err
    except (pikepdf.PdfError, pikepdf.DataDecodingError, ValueError) as err:
        raise InputError(
            f"the PDF is damaged and cannot be read: {short_message(str(err))}",
            code="input.damaged_pdf",
        ) from err


def _encryption(pdf: pikepdf.Pdf) -> dict[str, Any]:
    """Describe encryption that opened without a password (owner password only)."""
    # Policy: a PDF that opens without a password is processed. Its permission flags
    # restrict editing, not reading; the original is kept byte-identical.
    enc = pdf.encryption
    if enc.R >= 5:
        method = "AES-256"
    elif enc.R == 4 and "aes" in str(enc.stream_method).lower():
        method = "AES-128"
    else:
        method = "RC4-40" if enc.R == 2 else "RC4-128"
    return {"method": method, "owner_password_only": True, "legacy": "RC4" in method}


def _signature_fields(pdf: pikepdf.Pdf) -> list[str]:
    """Names of signed signature fields: the PDF was already digitally signed."""
    acroform = pdf.Root.get("/AcroForm")
    names: list[str] = []
    stack = list(acroform.get("/Fields", [])) if acroform is not None else []
    while stack and len(names) < 50:
        node = stack.pop()
        if not isinstance(node, pikepdf.Dictionary):
            continue
        stack.extend(node.get("/Kids", []))
        if node.get("/FT") == pikepdf.Name.Sig and "/V" in node:
            names.append(str(node.get("/T", "")))
    return sorted(names)


def _check_pages(pdf: pikepdf.Pdf, max_pixels: int) -> tuple[list[int], list[str]]:
    """Numbers of pages that draw visible text, and the pages that failed to parse."""
    text_pages, broken = [], []
    for number, page in enumerate(pdf.pages, start=1):
        try:
            if _check_page(page, number, max_pixels):
                text_pages.append(number)
        except (pikepdf.PdfError, pikepdf.DataDecodingError) as err:
            broken.append(f"page {number}: {short_message(str(err))}")
    return text_pages, broken


def _check_page(page: pikepdf.Page, number: int, max_pixels: int) -> bool:
    """Parse the page, apply the pixel budget to its images.

    Returns:
        True when the page draws visible text and holds no page-sized image (a scan
        with text added on top is OCR'd as a whole).
    """
    x0, y0, x1, y1 = (float(v) for v in page.mediabox)
    width_pt, height_pt = abs(x1 - x0), abs(y1 - y0)
    scanned = False
    for image in page.get_images().values():
        width, height = int(image.get("/Width", 0)), int(image.get("/Height", 0))
        if width * height > max_pixels:
            raise too_many_pixels(f"page {number} holds a {width}x{height} image")
        scanned |= width * height >= _SCAN_SHARE * width_pt * height_pt * _SCAN_SCALE
    if scanned:
        return False
    mode, visible = 0, False
    for instruction in pikepdf.parse_content_stream(page):
        if isinstance(instruction, pikepdf.ContentStreamInlineImage):
            continue
        operands, name = instruction.operands, str(instruction.operator)
        if name == "Tr" and operands:
            mode = int(operands[0])
        elif name in _TEXT_SHOWING and mode not in _INVISIBLE:
            visible = True
    return visible


def _pdfium_opens(path: Path) -> bool:
    try:
        with _PDFIUM:
            pdfium.PdfDocument(str(path)).close()
    except pdfium.PdfiumError:
        return False
    return True


def _repair(path: Path) -> Path:
    """The one repair step: qpdf rebuilds the file into a clean, unencrypted twin."""
    repaired = path.with_name(path.name + ".repaired.pdf")
    try:
        with pikepdf.open(path) as pdf:
            pdf.save(repaired, encryption=False)
    except (pikepdf.PdfError, ValueError, OSError) as err:
        raise InputError(
            f"the PDF is damaged and could not be repaired: {short_message(str(err))}",
            code="input.damaged_pdf",
        ) from err
    return repaired


def iter_pdf_pages(
    path: Path, dpi: int, max_pixels: int, text_pages: frozenset[int]
) -> Iterator[PageImage]:
    """Render one page at a time, so memory does not grow with the page count.

    PDFium keeps what it decoded for a page (images included) in the document until
    the document is closed, not the page: the document is opened again every
    `_PAGES_PER_OPEN` pages, else memory grew by about 6 MB a page.
    """
    # LIMITATION: PDFium runs in-process, without the time limit external tools get ->
    # a page that hangs it holds the PDFium lock until restart: other PDFs wait (the
    # watcher stays alive, image scans go on); `digitize status` shows it in progress.
    document = None
    try:
        index, count = 0, 1
        while index < count:
            with _PDFIUM:
                if document is None or index % _PAGES_PER_OPEN == 0:
                    if document is not None:
                        document.close()
                    document = pdfium.PdfDocument(str(path))
                    count = len(document)
                    if index >= count:
                        break
                page = document[index]
                width_pt, height_pt = page.get_size()
                scale = dpi / 72
                if width_pt * height_pt * scale * scale > max_pixels:
                    raise too_many_pixels(f"page {index + 1} at {dpi} dpi")
                words = (
                    text_layer_words(page, scale) if index + 1 in text_pages else None
                )
                bitmap = page.render(scale=scale, grayscale=True, may_draw_forms=True)
                image = normalise(bitmap.to_pil())
                page.close()
            yield PageImage(index, image, float(dpi), words=words)
            index += 1
    except pdfium.PdfiumError as err:
        raise InputError(
            f"a PDF page cannot be rendered: {short_message(str(err))}",
            code="input.damaged_pdf",
        ) from err
    finally:
        if document is not None:
            with _PDFIUM:
                document.close()
