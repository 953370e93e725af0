"""Field values read a second time from their own crops.

The page reading is one pass over the whole sheet at scan resolution. The values
that matter (numbers, dates, names, addresses) are cut out again along their line,
turned upright by the page's measured skew, enlarged to a text height Tesseract
reads well and read as one line (`--psm 7`). Extraction then takes the better of the
two readings, and leaves a number or a date unverified when they disagree.
"""

from __future__ import annotations

import logging
import math
import statistics

from PIL import Image, ImageOps

from digitize.extract import value_boxes
from digitize.machine_layers.engine import read_crop
from digitize.records import PageEvidence, Word

__all__ = ["reread_fields", "skew_deg"]

log = logging.getLogger(__name__)

_TEXT_PX = 44  # word height after scaling; Tesseract's LSTM reads 30-50 px best
_MAX_SCALE = 3.0
_MIN_LINE_WORDS = 3
_DIGIT_FIELDS = frozenset(
    {"id_number", "old_id_number", "date_of_birth", "issue_date", "expiry_date"}
)


def reread_fields(
    image: Image.Image, page: PageEvidence
) -> dict[str, tuple[str, float]]:
    """Crop readings of the page's field values: box key -> (text, conf 0-100)."""
    boxes = value_boxes(page)
    if not boxes:
        return {}
    gray = image.convert("L")
    angle = skew_deg(page.words)
    reads: dict[str, tuple[str, float]] = {}
    for field, key in boxes:
        box = tuple(int(v) for v in key.split(","))
        crop = _upright_crop(gray, box, _text_height(page.words, box), angle)  # type: ignore[arg-type]
        if crop is not None:
            # Digits alone: `eng` tells 5, 6 and 8 apart better than `vie` does,
            # and reads them independently of the page's `vie` reading.
            lang = "eng" if field in _DIGIT_FIELDS else "vie"
            found = read_crop(crop, lang=lang, psm=7)
            reads[key] = (found.text, found.conf)
    log.debug("read %d field values again, skew %.2f deg", len(reads), angle)
    return reads


def skew_deg(words: list[Word]) -> float:
    """How far the text lines turn clockwise, in degrees (median over long lines)."""
    lines: dict[tuple[int, int, int], list[Word]] = {}
    for word in words:
        lines.setdefault((word.block, word.par, word.line), []).append(word)
    slopes = []
    for line in lines.values():
        if len(line) < _MIN_LINE_WORDS:
            continue
        xs = [w.left + w.width / 2 for w in line]
        ys = [w.top + w.height / 2 for w in line]
        spread = max(xs) - min(xs)
        if spread < 4 * statistics.median(w.height for w in line):
            continue
        mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
        num = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
        den = sum((x - mean_x) ** 2 for x in xs)
        slopes.append(num / den)
    return math.degrees(math.atan(statistics.median(slopes))) if slopes else 0.0


def _text_height(words: list[Word], box: tuple[int, int, int, int]) -> float:
    left, top, right, bottom = box
    inside = [
        w.height
        for w in words
        if left <= w.left + w.width / 2 <= right
        and top <= w.top + w.height / 2 <= bottom
    ]
    return statistics.median(inside) if inside else float(bottom - top)


def _upright_crop(
    gray: Image.Image, box: tuple[int, int, int, int], text_px: float, angle: float
) -> Image.Image | None:
    """The value's line, turned level, enlarged and with a margin of paper."""
    left, top, right, bottom = box
    width = right - left
    if width < 4 or text_px < 4:
        return None
    cx, cy = (left + right) / 2, (top + bottom) / 2
    reach_x = width / 2 + text_px
    reach_y = abs(width * math.sin(math.radians(angle))) / 2 + 2 * text_px
    region = gray.crop(
        (
            round(cx - reach_x),
            round(cy - reach_y),
            round(cx + reach_x),
            round(cy + reach_y),
        )
    )
    paper = max(region.getextrema()[1], 1)
    level = region.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=paper)
    keep_y = 0.85 * text_px
    middle = level.height / 2
    line = level.crop((0, round(middle - keep_y), level.width, round(middle + keep_y)))
    scale = min(_MAX_SCALE, _TEXT_PX / text_px)
    size = (max(1, round(line.width * scale)), max(1, round(line.height * scale)))
    return ImageOps.autocontrast(line.resize(size, Image.Resampling.LANCZOS), cutoff=1)
