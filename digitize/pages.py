"""Pages stage: split a scan file into upright-ready page images.

Takes a private copy of the input (PDF, TIFF, JPEG, PNG); gives `PageImage`s one by one, so
a long PDF streams page by page. Content is sniffed, not the extension.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium
from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from digitize.errors import InputError

__all__ = ["PageImage", "count_pages", "iter_pages", "sniff_format"]

log = logging.getLogger(__name__)

A4_WIDTH_IN = 8.27
_MIN_DPI, _MAX_DPI = 100, 1200


@dataclass
class PageImage:
    """One page as pixels, with the resolution it was scanned at."""

    index: int
    image: Image.Image
    dpi: float
    dpi_estimated: bool = False


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
        "the file is not a PDF, TIFF, JPEG or PNG scan; save it as one of these",
        code="input.unsupported_format",
    )


def count_pages(
    path: Path, fmt: str, *, max_pages: int, max_pixels: int = 200_000_000
) -> int:
    """Open the file structurally and count its pages.

    Raises:
        InputError: encrypted, damaged, or over the page limit.
    """
    if fmt == "pdf":
        count = _count_pdf_pages(path)
    else:
        with _open_image(path, max_pixels) as image:
            count = getattr(image, "n_frames", 1)
    if count == 0:
        raise InputError("the document has no pages", code="input.no_pages")
    if count > max_pages:
        raise InputError(
            f"the document has {count} pages, more than the limit of {max_pages}; "
            "split it or raise max_pages",
            code="input.too_many_pages",
        )
    return count


def _count_pdf_pages(path: Path) -> int:
    try:
        with pikepdf.open(path) as pdf:
            return len(pdf.pages)
    except pikepdf.PasswordError as err:
        raise InputError(
            "the PDF is encrypted with a password; ask for an unprotected copy",
            code="input.encrypted",
        ) from err
    except pikepdf.PdfError as err:
        raise InputError(
            f"the PDF is damaged and cannot be read: {err}", code="input.damaged_pdf"
        ) from err


def _open_image(path: Path, max_pixels: int) -> Image.Image:
    # Pillow's own bomb check is process-wide: only ever raise it to our budget, and
    # apply the budget ourselves on each frame's declared size before decoding.
    if Image.MAX_IMAGE_PIXELS is not None and max_pixels > Image.MAX_IMAGE_PIXELS:
        Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        image = Image.open(path)
    except Image.DecompressionBombError as err:
        raise _too_many_pixels() from err
    except (UnidentifiedImageError, OSError) as err:
        raise InputError(
            f"the image cannot be decoded: {err}", code="input.damaged_image"
        ) from err
    _check_pixels(image, max_pixels)
    return image


def _check_pixels(image: Image.Image, max_pixels: int) -> None:
    width, height = image.size
    if width * height > max_pixels:
        image.close()
        raise _too_many_pixels()


def _too_many_pixels() -> InputError:
    return InputError(
        "the image has more pixels than the configured budget (max_pixels); "
        "scan at a lower resolution or raise max_pixels",
        code="input.too_many_pixels",
    )


def iter_pages(path: Path, fmt: str, *, dpi: int, max_pixels: int) -> Iterator[PageImage]:
    """Yield each page as an 8-bit grey, bilevel or RGB image on white."""
    if fmt == "pdf":
        yield from _iter_pdf(path, dpi, max_pixels)
        return
    with _open_image(path, max_pixels) as image:
        for index, frame in enumerate(ImageSequence.Iterator(image)):
            _check_pixels(frame, max_pixels)
            yield _image_page(index, frame)


def _iter_pdf(path: Path, dpi: int, max_pixels: int) -> Iterator[PageImage]:
    document = pdfium.PdfDocument(str(path))
    try:
        for index in range(len(document)):
            page = document[index]
            width_pt, height_pt = page.get_size()
            scale = dpi / 72
            if width_pt * height_pt * scale * scale > max_pixels:
                raise InputError(
                    f"page {index + 1} would render to more pixels than max_pixels",
                    code="input.too_many_pixels",
                )
            bitmap = page.render(scale=scale, grayscale=True, may_draw_forms=True)
            image = bitmap.to_pil()
            page.close()
            yield PageImage(index=index, image=_normalise(image), dpi=float(dpi))
    finally:
        document.close()


def _image_page(index: int, frame: Image.Image) -> PageImage:
    try:
        upright = ImageOps.exif_transpose(frame)
    except (ValueError, KeyError, OSError) as err:
        log.warning("page %d: ignoring invalid EXIF orientation (%s)", index + 1, err)
        upright = frame
    image = _normalise(upright)
    dpi, estimated = _page_dpi(frame, image)
    return PageImage(index=index, image=image, dpi=dpi, dpi_estimated=estimated)


def _page_dpi(frame: Image.Image, image: Image.Image) -> tuple[float, bool]:
    raw = frame.info.get("dpi")
    try:
        dpi = float(raw[0]) if raw else 0.0
    except (TypeError, ValueError, IndexError):
        dpi = 0.0
    if _MIN_DPI <= dpi <= _MAX_DPI:
        return dpi, False
    # Never fail on a missing or absurd resolution: assume the shorter side is A4's width.
    estimate = min(image.size) / A4_WIDTH_IN
    return max(72.0, min(estimate, 600.0)), True


def _normalise(image: Image.Image) -> Image.Image:
    """Flatten alpha onto white and reduce every pixel format to 1, L or RGB, 8-bit."""
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGB", image.size, "white")
        background.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
        return background
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return ImageOps.autocontrast(image.convert("I").point(lambda v: v / 256).convert("L"))
    if image.mode in ("1", "L", "RGB"):
        return image.copy()
    return image.convert("RGB")
