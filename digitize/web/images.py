"""Page pictures for the page view: the scan image of one PDF page, scaled, as JPEG.

The searchable PDFs hold each page as one image, so pikepdf extracts it directly; no
rasteriser runs in the web process (pdfium is not thread-safe). Results are cached by
the PDF's hash, page and width.
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

import pikepdf
from PIL import Image

from digitize.errors import NotFoundError, StorageError

__all__ = ["WIDTHS", "page_image"]

WIDTHS = (240, 1200)
_JPEG_QUALITY = 82
_lock = threading.Lock()


def page_image(pdf_path: Path, cache: Path, page: int, width: int) -> Path:
    """The cached JPEG of page `page` (1-based) of `pdf_path`, `width` pixels wide.

    Raises:
        NotFoundError: `width` not one of `WIDTHS`, or the page holds no image.
        StorageError: the PDF cannot be read.
    """
    if width not in WIDTHS:
        raise NotFoundError(f"page pictures come in widths {WIDTHS}, not {width}")
    target = cache / pdf_path.name[:2] / f"{pdf_path.name[:64]}-{page}-{width}.jpg"
    if target.is_file():
        return target
    with _lock:
        image = _page_picture(pdf_path, page)
    image.thumbnail((width, width * 2))
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as handle:
        image.convert("RGB" if image.mode not in ("L", "RGB") else image.mode).save(
            handle, format="JPEG", quality=_JPEG_QUALITY
        )
    Path(tmp).replace(target)
    return target


def _page_picture(pdf_path: Path, page: int) -> Image.Image:
    # LIMITATION: the picture is the scan image alone -> the signature stamp drawn
    # over page 1 shows only in the PDF itself.
    try:
        with pikepdf.open(pdf_path) as pdf:
            found = pdf.pages[page - 1]
            # pikepdf 10 renamed Page.images to get_images(); older ones lack it.
            images = list(
                (
                    found.get_images() if hasattr(found, "get_images") else found.images
                ).values()
            )
            if not images:
                raise NotFoundError(f"page {page} holds no scan image")
            biggest = max(images, key=lambda im: int(im.Width) * int(im.Height))
            picture = pikepdf.PdfImage(biggest).as_pil_image()
            picture.load()
            return picture
    except (pikepdf.PdfError, OSError, ValueError) as err:
        raise StorageError(f"cannot read page {page} of a stored PDF: {err}") from err
