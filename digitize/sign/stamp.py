"""The visible signature stamp of an electronic copy: text, font and place on page 1.

Decree 30/2020/NĐ-CP (Appendix I) asks for text only, top right of page 1: copy type,
copying agency and signing time (ISO 8601, Vietnam time), serif 10 pt, black.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import tempfile
import threading
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

from fontTools import subset
from fontTools.ttLib import TTFont
from fontTools.ttLib.scaleUpem import scale_upem
from pyhanko.pdf_utils import layout
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator, GlyphAccumulatorFactory
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.stamp import TextStampStyle

from digitize.config import Settings
from digitize.errors import DependencyError, SigningError
from digitize.fonts import find_font

__all__ = [
    "VIETNAM_TZ",
    "StampFont",
    "StampText",
    "format_signing_time",
    "load_stamp_font",
    "stamp_box",
    "stamp_style",
]

log = logging.getLogger(__name__)

VIETNAM_TZ = dt.timezone(dt.timedelta(hours=7), "ICT")
FONT_SIZE = 10
# 1.4 x the size: capitals with stacked marks (Ủ, Ấ) otherwise touch the line above.
LEADING = 14
# pyHanko sets the first baseline one leading below the top, the last on the bottom
# edge: a small top and a larger bottom margin balance the caps and the descenders.
_MARGINS = layout.Margins(left=5, right=5, top=1, bottom=5)
_BORDER_PT = 1
_INSET_PT = 18
_MIN_WIDTH_PT = 200
_MIN_SIDE_PT = 10
_SLOT_GAP_PT = 6
# pyHanko 0.38 writes CIDFont /W widths in raw font units where PDF expects 1/1000 em,
# so a 2048-unit font (DejaVu) comes out letter-spaced; rescale such fonts first.
_UNITS_PER_EM = 1000
_FONT_RECIPE = "latin-vi-upem1000-nohint-v1"
# ASCII, Latin-1, Latin Extended-A/B (Ơ, Ư), combining marks, Latin Extended
# Additional (Vietnamese precomposed letters), general punctuation, currency (₫).
_STAMP_CODEPOINTS = [
    *range(0x20, 0x7F),
    *range(0xA0, 0x250),
    *range(0x300, 0x370),
    *range(0x1E00, 0x1F00),
    *range(0x2000, 0x2070),
    *range(0x20A0, 0x20C0),
]
_TEMPLATE = "%(copy_type)s\n%(agency)s\n%(signed_at)s"

_font_lock = threading.Lock()
_fonts: dict[tuple[str, str], StampFont] = {}


def format_signing_time(moment: dt.datetime) -> str:
    """ISO 8601 in Vietnam time to the second: `2026-12-04T17:11:53+07:00`.

    Raises:
        ValueError: `moment` has no time zone.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("signing time must carry a time zone")
    return moment.astimezone(VIETNAM_TZ).isoformat(timespec="seconds")


@dataclass(frozen=True)
class StampText:
    """The three lines printed in the signature box."""

    copy_type: str
    """Copy type, e.g. SAO Y."""

    agency: str
    """The converting agency."""

    signed_at: str
    """Signing time as printed, see `format_signing_time`."""

    def lines(self) -> list[str]:
        """The lines in print order."""
        return [self.copy_type, self.agency, self.signed_at]

    def params(self) -> dict[str, str]:
        """Values for the pyHanko stamp template."""
        return {
            "copy_type": self.copy_type,
            "agency": self.agency,
            "signed_at": self.signed_at,
        }


@dataclass(frozen=True)
class StampFont:
    """A TrueType font with 1000 units per em, and its glyph advances for measuring."""

    path: Path
    """The prepared font file."""

    data: bytes = field(repr=False)
    """Its bytes, read once."""

    advances: dict[int, int] = field(repr=False)
    """Advance width per code point, in 1/1000 em."""

    def text_width_pt(self, text: str, size_pt: float = FONT_SIZE) -> float:
        """Width of one line set without kerning; unknown characters count 1 em."""
        units = sum(self.advances.get(ord(char), _UNITS_PER_EM) for char in text)
        return units * size_pt / _UNITS_PER_EM


def load_stamp_font(settings: Settings) -> StampFont:
    """The serif stamp font, prepared once and cached under home/fonts.

    Raises:
        DependencyError: no serif font with Vietnamese glyphs is installed, or the
            prepared copy cannot be written.
    """
    source = find_font("serif")
    key = (str(source), str(settings.home))
    with _font_lock:
        if key not in _fonts:
            _fonts[key] = _prepare_font(source, settings.home / "fonts")
        return _fonts[key]


def _prepare_font(source: Path, cache_dir: Path) -> StampFont:
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:12]
    target = cache_dir / f"{source.stem}-{digest}-{_FONT_RECIPE}.ttf"
    if target.is_file():
        return _stamp_font(target)

    font = _stamp_subset(TTFont(source))
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(suffix=".ttf", dir=cache_dir)
        with os.fdopen(fd, "wb") as out:
            font.save(out)
        # Atomic: other processes see no file or the whole file.
        Path(temp).replace(target)
    except OSError as err:
        raise DependencyError(
            f"cannot write the stamp font to {cache_dir} ({err.strerror}); "
            "check that the data folder (setting home) is writable",
            code="dependency.font",
        ) from err
    log.debug("prepared stamp font %s from %s", target.name, source.name)
    return _stamp_font(target)


def _stamp_subset(font: TTFont) -> TTFont:
    """Keep Latin and Vietnamese glyphs only, at 1000 units per em.

    The subset makes pyHanko's per-signature parsing and subsetting about 10x faster.
    """
    if "FFTM" in font:
        # FontForge's timestamp table: fontTools cannot subset it and says so on stderr.
        del font["FFTM"]
    options = subset.Options()
    options.name_IDs = ["*"]
    options.notdef_outline = True
    # Hinting is for screens at small sizes; scaled instructions misdraw in pdfium.
    options.hinting = False
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=_STAMP_CODEPOINTS)
    subsetter.subset(font)
    if font["head"].unitsPerEm != _UNITS_PER_EM:
        scale_upem(font, _UNITS_PER_EM)
    return font


def _stamp_font(path: Path) -> StampFont:
    data = path.read_bytes()
    font = TTFont(BytesIO(data))
    metrics = font["hmtx"].metrics
    advances = {code: metrics[name][0] for code, name in font.getBestCmap().items()}
    return StampFont(path=path, data=data, advances=advances)


@dataclass(frozen=True)
class _MemoryFontFactory(GlyphAccumulatorFactory):
    """Feeds pyHanko the cached font bytes.

    pyHanko 0.38's GlyphAccumulatorFactory opens the font file at every signature
    and never closes it (a ResourceWarning each time).
    """

    font_bytes: bytes = field(default=b"", repr=False)

    def create_font_engine(
        self, writer: BasePdfFileWriter, obj_stream: Any = None
    ) -> GlyphAccumulator:
        """A glyph accumulator over an in-memory copy of the font."""
        if (
            obj_stream is None
            and writer.stream_xrefs
            and self.create_objstream_if_needed
        ):
            obj_stream = writer.prepare_object_stream()
        return GlyphAccumulator(
            writer=writer,
            font_handle=BytesIO(self.font_bytes),
            font_size=self.font_size,
            obj_stream=obj_stream,
        )


def stamp_style(font: StampFont) -> TextStampStyle:
    """Black serif text, left-aligned, at its natural size unless the box is smaller."""
    text_box = TextBoxStyle(
        font=_MemoryFontFactory(
            str(font.path), font_size=FONT_SIZE, font_bytes=font.data
        ),
        font_size=FONT_SIZE,
        leading=LEADING,
        box_layout_rule=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MIN,
            y_align=layout.AxisAlignment.ALIGN_MID,
            margins=_MARGINS,
        ),
    )
    return TextStampStyle(
        stamp_text=_TEMPLATE,
        text_box_style=text_box,
        border_width=_BORDER_PT,
        inner_content_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MIN,
            y_align=layout.AxisAlignment.ALIGN_MID,
            inner_content_scaling=layout.InnerScaling.SHRINK_TO_FIT,
        ),
    )


def stamp_box(
    page_box: tuple[float, float, float, float],
    text: StampText,
    font: StampFont,
    *,
    slot: int = 0,
) -> tuple[int, int, int, int]:
    """Field rectangle (x1, y1, x2, y2) inset from the top-right corner of `page_box`.

    Wide enough for the longest line at 10 pt; on a page too small for that the box
    shrinks and pyHanko scales the text down to fit. A later signature (`slot` 1, 2,
    ...) goes below the earlier ones while the page has room, else on top of slot 0.
    """
    left, bottom, right, top = page_box
    text_width = max(font.text_width_pt(line) for line in text.lines())
    frame_x = _MARGINS.left + _MARGINS.right + 2 * _BORDER_PT
    frame_y = _MARGINS.top + _MARGINS.bottom + 2 * _BORDER_PT
    inset = min(_INSET_PT, (right - left) / 10, (top - bottom) / 10)
    # +2 pt: HarfBuzz kerning and rounding may add a little to the measured width.
    width = min(max(_MIN_WIDTH_PT, text_width + frame_x + 2), right - left - 2 * inset)
    height = min(LEADING * len(text.lines()) + frame_y, top - bottom - 2 * inset)
    if width < _MIN_SIDE_PT or height < _MIN_SIDE_PT:
        raise SigningError(
            f"page 1 is {right - left:.0f} x {top - bottom:.0f} pt, too small for the "
            "signature stamp; check the page size of the searchable PDF",
            code="sign.page_too_small",
        )
    x2, y2 = right - inset, top - inset - slot * (height + _SLOT_GAP_PT)
    if y2 - height < bottom + inset:
        y2 = top - inset
    return (round(x2 - width), round(y2 - height), round(x2), round(y2))
