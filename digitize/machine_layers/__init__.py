"""Machine-readable layers of a page image: QR payloads and the MRZ of a card back.

QR codes are decoded with zxing-cpp on a downscaled page (full size only when the
downscaled one shows none), keeping the payload's UTF-8 text intact. The MRZ band is
located from the page's OCR words (lines with `<<` or opening with `IDVNM`, else the
area under a card back's fingerprint or issuer captions), cropped, binarised, scaled
and read again with Tesseract's `eng` model; its lines come back cleaned to
`A-Z 0-9 <`, 30 characters, and only when their check digits hold.
"""

from __future__ import annotations

import logging
import re
import statistics

import zxingcpp
from PIL import Image, ImageOps

from digitize.extract import page_segments
from digitize.extract.layout import CHIP_FAMILIES
from digitize.extract.mrz import clean_mrz_line, fit_td1_lines, parse_td1
from digitize.extract.names import fold
from digitize.machine_layers.engine import read_crop
from digitize.machine_layers.fields import reread_fields
from digitize.records import OcrPage, PageEvidence, Word
from digitize.tools.tesseract import ocr_image

__all__ = [
    "collect_evidence",
    "read_machine_layers",
    "read_mrz_lines",
    "read_qr_payloads",
]

log = logging.getLogger(__name__)

_QR_FORMATS = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
_QR_MAX_SIDE_PX = 1800  # enough for a card QR on an A4 copy at 300 dpi
_MRZ_WIDTH = 30
_MRZ_TEXT_PX = 48  # character height Tesseract reads OCR-B best at, after scaling
_MRZ_LIKE = re.compile(r"<<|«|^[I1lT][DO0][VW]NM|^IDVN|[<KC«]{5,}")
_WORD_LINE = tuple[int, int, int]
# Printed just above the MRZ of a card back, folded (fingerprints, issuer).
_BACK_MARKERS = ("NGON TRO", "INDEX FINGER", "BO CONG AN", "PUBLIC SECURITY")
_BELOW_MARKERS = 25  # caption heights from those captions to the MRZ's last line
_FEW_WORDS = 12  # fewer words than a card side holds
_POOR_CONF = 70.0  # mean word confidence of a page read from garbage
# Turning an upright image back to the page as scanned (`OcrPage.rotation_deg`).
_UNDO_TURN = {
    90: Image.Transpose.ROTATE_90,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_270,
}
_LOCAL_THRESHOLD = {"thresholding_method": "2"}  # Sauvola (Tesseract 5)
_WHITELIST = {"tessedit_char_whitelist": "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<"}


def collect_evidence(page: OcrPage, image: Image.Image) -> PageEvidence:
    """What extraction reads of one page: its OCR, QR payloads and MRZ lines.

    A page on which OCR found almost nothing, or nothing it was sure of, is read
    once more with Sauvola's local threshold: a grey card on white paper can turn
    into one black block under Tesseract's global Otsu threshold, hiding its print.
    When such a page was also turned by orientation detection (which guessed from
    that garbage), the page as scanned is read too, and the best reading wins.
    """
    words, text = page.words, page.text
    if len(words) < _FEW_WORDS or page.mean_conf < _POOR_CONF:
        words, text, image = _second_look(page, image)
    qr, mrz = read_machine_layers(image, words)
    evidence = PageEvidence(page.index, text, words, qr, mrz)
    evidence.field_reads = reread_fields(image, evidence)
    return evidence


def _second_look(
    page: OcrPage, image: Image.Image
) -> tuple[list[Word], str, Image.Image]:
    """The best of the page's reading and local-threshold readings of the page."""
    images = [image]
    if page.rotation_deg in _UNDO_TURN:
        images.append(image.transpose(_UNDO_TURN[page.rotation_deg]))
    best = (_score(page.words), page.words, page.text, image)
    for candidate in images:
        found = ocr_image(
            candidate, lang="vie", dpi=round(page.dpi), config=_LOCAL_THRESHOLD
        )
        score = _score(found.words)
        if score > 1.5 * best[0]:
            best = (score, found.words, found.text, candidate)
    if best[3] is not image or best[1] is not page.words:
        log.debug("page %d: read again with a local threshold", page.index + 1)
    return best[1], best[2], best[3]


def _score(words: list[Word]) -> float:
    """Words read with some confidence: many good words beat a few or junk."""
    return sum(max(0.0, w.conf - 50) for w in words)


def read_machine_layers(
    image: Image.Image, words: list[Word]
) -> tuple[list[str], list[str]]:
    """(QR payloads, MRZ lines) of an upright page image and its OCR words."""
    return read_qr_payloads(image), read_mrz_lines(image, words)


def read_qr_payloads(image: Image.Image) -> list[str]:
    """Text of every QR code on the page, decoded as UTF-8 when it is UTF-8."""
    gray = image.convert("L")
    scale = min(1.0, _QR_MAX_SIDE_PX / max(gray.size))
    found = []
    if scale < 1.0:
        small = gray.resize((round(gray.width * scale), round(gray.height * scale)))
        found = _decode_qr(small)
    if not found:
        found = _decode_qr(gray)
    log.debug("QR: %d found", len(found))
    return found


def _decode_qr(image: Image.Image) -> list[str]:
    payloads = []
    for code in zxingcpp.read_barcodes(image, formats=_QR_FORMATS):
        try:
            payloads.append(bytes(code.bytes).decode("utf-8"))
        except UnicodeDecodeError:
            # Not UTF-8 (an ECI-tagged or Shift-JIS payload): zxing's own decoding.
            payloads.append(code.text)
    return payloads


def read_mrz_lines(image: Image.Image, words: list[Word]) -> list[str]:
    """The three MRZ lines of a card back on the page, or [] when there is none."""
    band = _mrz_band(words, image.size)
    if band is None and _may_hold_mrz(words):
        band = _below_back_markers(words, image.size)
    if band is None:
        return []
    crop = _prepare_band(image.crop(band), _band_text_height(words, band))
    lines: list[str] = []
    # The whitelist keeps `<` from being read as `c` or `«`; without it as a fallback
    # because a whitelist can also empty a word (tesseract #3485).
    for config in (_WHITELIST, None):
        result = read_crop(crop, lang="eng", psm=6, config=config)
        lines = _pick_mrz_lines(result.text.splitlines())
        if lines:
            break
    # The page's own reading of the MRZ wins when more of its check digits hold.
    page_lines = _pick_mrz_lines(_page_mrz_texts(words))
    if _checks_held(page_lines) > _checks_held(lines):
        lines = page_lines
    log.debug("MRZ: band %s, %d lines", band, len(lines))
    return lines


def _page_mrz_texts(words: list[Word]) -> list[str]:
    """The MRZ-like words of each page line, top to bottom."""
    rows = [
        [w for w in line if _is_mrz_word(w.text)]
        for line in _group_lines(words).values()
    ]
    rows = [row for row in rows if row]
    rows.sort(key=lambda row: row[0].top)
    return ["".join(w.text for w in row) for row in rows]


def _checks_held(lines: list[str]) -> int:
    parsed = parse_td1(lines) if lines else None
    return len(parsed.checks_passed) if parsed else -1


def _may_hold_mrz(words: list[Word]) -> bool:
    """False when the page's papers are known and none is a chip card back.

    CMND and 2016 CCCD backs also print fingerprint captions but have no MRZ.
    """
    segments = page_segments(PageEvidence(0, "", words))
    known = [s for s in segments if s.family is not None]
    return not known or any(
        s.family in CHIP_FAMILIES and s.side != "front" for s in known
    )


def _group_lines(words: list[Word]) -> dict[_WORD_LINE, list[Word]]:
    lines: dict[_WORD_LINE, list[Word]] = {}
    for word in words:
        lines.setdefault((word.block, word.par, word.line), []).append(word)
    return lines


def _mrz_band(
    words: list[Word], size: tuple[int, int]
) -> tuple[int, int, int, int] | None:
    """Box around the OCR lines that look like MRZ, widened to three full lines.

    Only the MRZ-like words of a line count: Tesseract may join an MRZ line with
    print of a card lying beside it.
    """
    hits = [
        mrz_words
        for line in _group_lines(words).values()
        if (mrz_words := [w for w in line if _is_mrz_word(w.text)])
        and _looks_like_mrz("".join(w.text for w in mrz_words))
    ]
    if not hits:
        return None
    boxes = [w for line in hits for w in line]
    height = statistics.median(w.height for w in boxes)
    left = min(w.left for w in boxes)
    right = max(w.left + w.width for w in boxes)
    top = min(w.top for w in boxes)
    bottom = max(w.top + w.height for w in boxes)
    missing = max(0, 3 - len(hits)) * 1.3 * height  # lines the first OCR did not see
    char = (right - left) / _MRZ_WIDTH
    box = (
        left - 2 * char,
        top - height * 0.6 - missing,
        right + 2 * char,
        bottom + height * 0.6 + missing,
    )
    width, page_height = size
    return (
        max(0, round(box[0])),
        max(0, round(box[1])),
        min(width, round(box[2])),
        min(page_height, round(box[3])),
    )


def _below_back_markers(
    words: list[Word], size: tuple[int, int]
) -> tuple[int, int, int, int] | None:
    """The bottom of a card back whose MRZ the page OCR did not read as such.

    The MRZ sits under the fingerprint captions (2021) or the issuer (2024), within
    about 25 caption heights; the full page width is taken as the card's place is
    not known.
    """
    markers = [
        line
        for line in _group_lines(words).values()
        if any(m in fold(" ".join(w.text for w in line)) for m in _BACK_MARKERS)
    ]
    if not markers:
        return None
    lowest = max(markers, key=lambda line: line[0].top)
    height = statistics.median(w.height for w in lowest)
    top = max(w.top + w.height for w in lowest)
    bottom = min(size[1], round(top + _BELOW_MARKERS * height))
    return (0, top, size[0], bottom) if bottom - top > 2 * height else None


def _is_mrz_word(text: str) -> bool:
    """A word of MRZ characters: capitals, digits and fillers only, mostly."""
    return len(re.findall(r"[A-Z0-9<«]", text)) >= max(2, 0.8 * len(text))


def _looks_like_mrz(text: str) -> bool:
    """Long, nearly all MRZ characters, and with fillers or the `IDVNM` opening.

    Half a line counts: Tesseract may cut each MRZ line in two at the chip.
    """
    if len(text) < _MRZ_WIDTH // 2 - 3 or not _MRZ_LIKE.search(text):
        return False
    return len(re.findall(r"[A-Z0-9<«]", text)) >= 0.8 * len(text)


def _band_text_height(words: list[Word], band: tuple[int, int, int, int]) -> float:
    inside = [
        w.height
        for w in words
        if band[1] <= w.top and w.top + w.height <= band[3] and _MRZ_LIKE.search(w.text)
    ]
    return statistics.median(inside) if inside else _MRZ_TEXT_PX


def _prepare_band(crop: Image.Image, text_px: float) -> Image.Image:
    """Grey, contrast-stretched, scaled to a good text height, then black and white."""
    gray = ImageOps.autocontrast(crop.convert("L"), cutoff=1)
    scale = _MRZ_TEXT_PX / max(text_px, 1.0)
    if abs(scale - 1.0) > 0.15:
        size = (max(1, round(gray.width * scale)), max(1, round(gray.height * scale)))
        gray = gray.resize(size, Image.Resampling.LANCZOS)
    threshold = _otsu_threshold(gray)
    return gray.point(lambda v: 255 if v > threshold else 0, mode="L")


def _otsu_threshold(gray: Image.Image) -> int:
    """The grey level that best splits ink from paper (Otsu's method)."""
    histogram = gray.histogram()
    total = sum(histogram)
    weighted = sum(i * n for i, n in enumerate(histogram))
    best, best_level, below, below_weighted = 0.0, 127, 0, 0
    for level, count in enumerate(histogram):
        below += count
        below_weighted += level * count
        above = total - below
        if below == 0 or above == 0:
            continue
        mean_low = below_weighted / below
        mean_high = (weighted - below_weighted) / above
        spread = below * above * (mean_low - mean_high) ** 2
        if spread > best:
            best, best_level = spread, level
    return best_level


def _pick_mrz_lines(texts: list[str]) -> list[str]:
    """The three fitted 30-character lines from the `IDVNM` line on, if they check."""
    cleaned = [c for c in (clean_mrz_line(t) for t in texts) if len(c) >= 5]
    for start in range(len(cleaned) - 1):
        lines = fit_td1_lines(cleaned[start : start + 3])
        parsed = parse_td1(lines) if lines else None
        if lines and parsed is not None and parsed.any_check_digit_passed:
            return lines
    return []
