"""OCR stage: read one page image with Tesseract and turn it upright when needed.

Orientation detection is costly, so it runs only when the first reading looks wrong (low
mean word confidence); the better of the two readings wins.
"""

from __future__ import annotations

import logging
import time

from PIL import Image

from digitize.config import Settings
from digitize.records import OcrPage
from digitize.tools.tesseract import TsvResult, detect_orientation, ocr_image

__all__ = ["ocr_page"]

log = logging.getLogger(__name__)

# Tesseract reports the clockwise turn the page needs; PIL rotates counter-clockwise.
_TRANSPOSE = {
    90: Image.Transpose.ROTATE_270,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_90,
}


def _score(result: TsvResult) -> float:
    return result.mean_conf * len(result.words)


def ocr_page(
    image: Image.Image, index: int, dpi: float, settings: Settings
) -> tuple[OcrPage, Image.Image]:
    """OCR one page; return the reading and the upright image it was read from."""
    started = time.perf_counter()
    ocr_dpi = round(dpi)
    result = ocr_image(
        image, lang=settings.ocr_lang, dpi=ocr_dpi, timeout_s=settings.ocr_timeout_s
    )
    rotation = 0

    if result.mean_conf < settings.osd_below_conf or len(result.words) < 3:
        osd = detect_orientation(image, timeout_s=settings.ocr_timeout_s)
        if osd.rotate_deg in _TRANSPOSE and osd.confidence >= settings.osd_min_conf:
            turned = image.transpose(_TRANSPOSE[osd.rotate_deg])
            second = ocr_image(
                turned,
                lang=settings.ocr_lang,
                dpi=ocr_dpi,
                timeout_s=settings.ocr_timeout_s,
            )
            if _score(second) > _score(result):
                image, result, rotation = turned, second, osd.rotate_deg
        log.debug("page %d: OSD %s, turned %d", index + 1, osd, rotation)

    page = OcrPage(
        index=index,
        width_px=image.width,
        height_px=image.height,
        dpi=dpi,
        words=result.words,
        text=result.text,
        mean_conf=result.mean_conf,
        rotation_deg=rotation,
        seconds=time.perf_counter() - started,
    )
    return page, image
