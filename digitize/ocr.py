"""OCR stage: read one page with Tesseract, upright and straight, at one reading's cost.

Orientation and skew are decided from the first reading, so an upright page costs one
recognition and nothing more: Tesseract reads sideways text as vertical lines, which the
word boxes show (taller than wide), so a page lying turned clockwise is turned back with
its words, without reading it again; a page that reads badly (one lying the other way,
or upside down) gets orientation detection (OSD) and a second reading; the skew comes
from the slope of the word lines and is straightened with the words.
"""

from __future__ import annotations

import itertools
import logging
import math
import statistics
import time
from dataclasses import replace

from PIL import Image

from digitize.config import Settings
from digitize.records import OcrPage, Word
from digitize.tools.tesseract import TsvResult, detect_orientation, ocr_image

__all__ = ["ocr_page", "sideways_turn", "skew_deg", "turn_words"]

log = logging.getLogger(__name__)

# Tesseract reports the clockwise turn the page needs; PIL rotates counter-clockwise.
_TRANSPOSE = {
    90: Image.Transpose.ROTATE_270,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_90,
}
# Straighten pages skewed more than this; below it the text layer sits on the words
# within a pixel or two across an A4 line and the scan is left as it is.
_DESKEW_FROM_DEG = 0.5
# Measured on generated A4 pages at 300 dpi: 2 degrees still read in order, 2.5 to 3.5
# degrees scrambled whole lines (character error rate 0.7-0.85 at 96% confidence).
_REREAD_FROM_DEG = 1.5
# LIMITATION: pages skewed over 10 degrees are not straightened -> they keep their
# skew (Tesseract still reads them; the text layer follows the words' boxes).
_DESKEW_UP_TO_DEG = 10.0
_MIN_LINES = 3  # lines of 3+ words needed to trust a skew or a reading direction
_WHITE = {"1": 1, "L": 255, "RGB": (255, 255, 255)}
# Tesseract 5 reads every doubtful line a second time inverted (white on black); dossier
# pages print dark on light, and skipping it saves about 5% at the same error rate.
_PAGE_CONFIG = {"tessedit_do_invert": "0"}


def _score(result: TsvResult) -> float:
    return result.mean_conf * len(result.words)


def ocr_page(
    image: Image.Image, index: int, dpi: float, settings: Settings
) -> tuple[OcrPage, Image.Image]:
    """OCR one page; return the reading and the upright image it was read from."""
    started = time.perf_counter()
    ocr_dpi = round(dpi)
    result = _read(image, ocr_dpi, settings)

    # Orientation: free from the word boxes when sideways, OSD when it reads badly
    # (Tesseract reads vertical lines downwards: a page lying the other way reads
    # badly, and OSD then finds it upside down once turned).
    rotation = sideways_turn(result.words)
    if rotation:
        image, result = _turn(image, result, rotation)
    if result.mean_conf < settings.osd_below_conf or len(result.words) < 3:
        image, result, more = _second_look(image, result, ocr_dpi, settings)
        rotation = (rotation + more) % 360
        log.debug("page %d: orientation checked, turned %d", index + 1, rotation)

    # Skew: from the slope of the word lines; image and words turn together. Past a
    # few degrees Tesseract loses the reading order: that page is read again straight.
    skew = skew_deg(result.words)
    if _DESKEW_FROM_DEG <= abs(skew) <= _DESKEW_UP_TO_DEG:
        image, result = _straighten(image, result, skew)
        if abs(skew) >= _REREAD_FROM_DEG:
            result = _read(image, ocr_dpi, settings)
        log.debug("page %d: straightened by %.2f degrees", index + 1, skew)

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


def _read(image: Image.Image, dpi: int, settings: Settings) -> TsvResult:
    return ocr_image(
        image,
        lang=settings.ocr_lang,
        dpi=dpi,
        timeout_s=settings.ocr_timeout_s,
        config=_PAGE_CONFIG,
    )


def _second_look(
    image: Image.Image, result: TsvResult, dpi: int, settings: Settings
) -> tuple[Image.Image, TsvResult, int]:
    """OSD on a page that read badly; read it again turned when OSD says so."""
    osd = detect_orientation(image, timeout_s=settings.ocr_timeout_s, dpi=dpi)
    if osd.rotate_deg not in _TRANSPOSE or osd.confidence < settings.osd_min_conf:
        return image, result, 0
    turned = image.transpose(_TRANSPOSE[osd.rotate_deg])
    second = _read(turned, dpi, settings)
    if _score(second) > _score(result):
        return turned, second, osd.rotate_deg
    return image, result, 0


def sideways_turn(words: list[Word]) -> int:
    """Clockwise degrees (90 or 270) that make a sideways-read page upright, else 0.

    Tesseract finds vertical text lines by itself: their words are taller than wide,
    and follow each other downwards (the page lies turned clockwise) or upwards.
    """
    long = [w for w in words if len(w.text) >= 3]
    tall = sum(w.height > w.width for w in long)
    if len(long) < 5 or tall < 0.7 * len(long):
        return 0
    down = 0
    for line in _lines(words):
        down += sum(
            (b.top > a.top) - (b.top < a.top) for a, b in itertools.pairwise(line)
        )
    if down == 0:
        return 0
    return 270 if down > 0 else 90


def turn_words(words: list[Word], turn: int, size: tuple[int, int]) -> list[Word]:
    """Word boxes on an image of `size` once it is turned `turn` degrees clockwise."""
    width, height = size
    turned = []
    for w in words:
        if turn == 90:
            box = (height - w.top - w.height, w.left, w.height, w.width)
        elif turn == 270:
            box = (w.top, width - w.left - w.width, w.height, w.width)
        else:
            box = (
                width - w.left - w.width,
                height - w.top - w.height,
                w.width,
                w.height,
            )
        turned.append(replace(w, left=box[0], top=box[1], width=box[2], height=box[3]))
    return turned


def _turn(
    image: Image.Image, result: TsvResult, turn: int
) -> tuple[Image.Image, TsvResult]:
    words = turn_words(result.words, turn, image.size)
    return image.transpose(_TRANSPOSE[turn]), TsvResult(words, result.text)


def _lines(words: list[Word]) -> list[list[Word]]:
    grouped: dict[tuple[int, int, int], list[Word]] = {}
    for word in words:
        grouped.setdefault((word.block, word.par, word.line), []).append(word)
    return list(grouped.values())


def skew_deg(words: list[Word]) -> float:
    """How far the text lines slope, in degrees (positive: down to the right).

    The median over lines of 3 or more words of the least-squares slope of the word
    bottoms; 0 when fewer than 3 such lines.
    """
    slopes = []
    for line in _lines(words):
        if len(line) < 3:
            continue
        xs = [w.left + w.width / 2 for w in line]
        ys = [w.top + w.height for w in line]
        mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
        spread = sum((x - mean_x) ** 2 for x in xs)
        if spread > 0:
            cov = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
            slopes.append(cov / spread)
    if len(slopes) < _MIN_LINES:
        return 0.0
    return math.degrees(math.atan(statistics.median(slopes)))


def _straighten(
    image: Image.Image, result: TsvResult, skew: float
) -> tuple[Image.Image, TsvResult]:
    """Turn the image by `skew` degrees counter-clockwise; move each word's box."""
    if image.mode not in _WHITE:
        image = image.convert("RGB")
    # Below the re-reading angle the turn is for the eye only: nearest-neighbour steps
    # of one pixel at 300 dpi, four times cheaper than bilinear (0.02 s, not 0.1 s).
    smooth = image.mode != "1" and abs(skew) >= _REREAD_FROM_DEG
    resample = Image.Resampling.BILINEAR if smooth else Image.Resampling.NEAREST
    straight = image.rotate(skew, resample=resample, fillcolor=_WHITE[image.mode])
    theta = math.radians(skew)
    cos, sin = math.cos(theta), math.sin(theta)
    cx, cy = image.width / 2, image.height / 2
    words = []
    for w in result.words:
        dx, dy = w.left + w.width / 2 - cx, w.top + w.height / 2 - cy
        x = cx + dx * cos + dy * sin
        y = cy - dx * sin + dy * cos
        left, top = round(x - w.width / 2), round(y - w.height / 2)
        words.append(replace(w, left=max(0, left), top=max(0, top)))
    return straight, TsvResult(words, result.text)
