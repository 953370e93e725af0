"""Typed A4 pages for the samples: the district plan corpus, wrapped and paginated.

Layout is measured once at 300 dpi and drawn at any resolution, so the text of a page
(what truth.json records) does not depend on the dpi it is scanned at.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from digitize.fonts import find_font
from samples.styles import family_font_path

__all__ = [
    "A4_MM",
    "Line",
    "font",
    "lines_per_page",
    "load_corpus",
    "paginate",
    "render_page",
    "wrap_block",
    "wrap_words",
]

A4_MM = (210.0, 297.0)
CORPUS = Path(__file__).with_name("corpus") / "ke-hoach-cai-cach-tthc-duc-co.txt"
_LAYOUT_DPI = 300
_FONT_PT = 12.0
_LINE_SPACING = 1.45
# Margins of Decree 30/2020 for administrative papers: top/bottom 20, left 30, right 20.
_MARGINS_MM = (30.0, 20.0, 20.0, 22.0)  # left, top, right, bottom
_INDENT_MM = 10.0
_PARAGRAPH_GAP = 0.3  # in line heights
_PAPER = 250
_INK = 25
_NEW_ITEM = re.compile(r"^(-|\+|[IVX]+\.|\d+\.|\d+$)")


@dataclass(frozen=True)
class Line:
    """One drawn line of a page: its exact text and how it is placed."""

    text: str
    align: str = "left"
    bold: bool = False
    indent_mm: float = 0.0
    space_before: float = 0.0
    """Extra gap above the line, in line heights."""


@lru_cache(maxsize=256)
def font(kind: str, size_px: int, family: str | None = None) -> ImageFont.FreeTypeFont:
    """A cached TrueType font of `kind` (see `digitize.fonts.find_font`).

    `family` (dejavu, liberation, noto: `samples.styles`) picks one family; without
    it the first installed font of `kind` is used.
    """
    path = family_font_path(family, kind) if family else find_font(kind)
    return ImageFont.truetype(str(path), size_px)


def _mm_to_px(mm: float, dpi: int) -> int:
    return round(mm / 25.4 * dpi)


def _body_font(
    dpi: int, *, bold: bool = False, family: str | None = None
) -> ImageFont.FreeTypeFont:
    return font("serif-bold" if bold else "serif", round(_FONT_PT / 72 * dpi), family)


def wrap_words(text: str, face: ImageFont.FreeTypeFont, width_px: float) -> list[str]:
    """Greedy word wrap of `text` into lines no wider than `width_px`."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if current and face.getlength(candidate) > width_px:
            lines.append(current)
            candidate = word
        current = candidate
    if current:
        lines.append(current)
    return lines


def _clean(line: str) -> str:
    return " ".join(unicodedata.normalize("NFC", line).split())


def _starts_paragraph(previous: str, line: str) -> bool:
    if not previous:
        return True
    if previous.endswith((".", ":", ";")) or previous.isupper() or line.isupper():
        return True
    return bool(_NEW_ITEM.match(line))


def load_corpus(path: Path = CORPUS) -> list[str]:
    """Paragraphs of the corpus: PDF line breaks joined, whitespace collapsed, NFC."""
    paragraphs: list[str] = []
    previous = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = _clean(raw)
        if raw and not line:
            previous = ""  # a line of spaces separates blocks in the extracted text
        if not line:
            continue
        if _starts_paragraph(previous, line):
            paragraphs.append(line)
        else:
            paragraphs[-1] += " " + line
        previous = line
    return paragraphs


def _paragraph_lines(paragraph: str, width_px: int) -> list[Line]:
    if paragraph.isupper() and not _NEW_ITEM.match(paragraph):
        face = _body_font(_LAYOUT_DPI, bold=True)
        texts = wrap_words(paragraph, face, width_px)
        return [Line(t, align="center", bold=True) for t in texts]
    bold = paragraph.isupper()
    indent_px = _mm_to_px(_INDENT_MM, _LAYOUT_DPI)
    texts = wrap_words(
        paragraph, _body_font(_LAYOUT_DPI, bold=bold), width_px - indent_px
    )
    first = Line(texts[0], bold=bold, indent_mm=_INDENT_MM)
    if len(texts) == 1:
        return [first]
    rest = " ".join(texts[1:])
    more = wrap_words(rest, _body_font(_LAYOUT_DPI, bold=bold), width_px)
    return [first] + [Line(t, bold=bold) for t in more]


def wrap_block(
    text: str, *, align: str = "left", bold: bool = False, space_before: float = 0.0
) -> list[Line]:
    """Wrap `text` to the page width; `space_before` applies to its first line."""
    left, _, right, _ = _MARGINS_MM
    width_px = _mm_to_px(A4_MM[0] - left - right, _LAYOUT_DPI)
    texts = wrap_words(text, _body_font(_LAYOUT_DPI, bold=bold), width_px)
    lines = [Line(t, align=align, bold=bold) for t in texts]
    lines[0] = replace(lines[0], space_before=space_before)
    return lines


def lines_per_page() -> int:
    """How many body lines fit between the top and bottom margins."""
    _, top, _, bottom = _MARGINS_MM
    usable_mm = A4_MM[1] - top - bottom
    return int(usable_mm / (_FONT_PT * _LINE_SPACING * 25.4 / 72))


def paginate(paragraphs: list[str], *, spare_lines: int = 2) -> list[list[Line]]:
    """Wrap paragraphs and cut them into pages, leaving `spare_lines` free on each."""
    left, _, right, _ = _MARGINS_MM
    width_px = _mm_to_px(A4_MM[0] - left - right, _LAYOUT_DPI)
    capacity = lines_per_page() - spare_lines
    pages: list[list[Line]] = [[]]
    used = 0.0
    for paragraph in paragraphs:
        for index, line in enumerate(_paragraph_lines(paragraph, width_px)):
            gap = _PARAGRAPH_GAP if index == 0 and pages[-1] else 0.0
            if used + gap + 1 > capacity:
                pages.append([])
                used, gap = 0.0, 0.0
            pages[-1].append(replace(line, space_before=gap))
            used += gap + 1
    return pages


def render_page(
    lines: list[Line], dpi: int, *, family: str | None = None
) -> Image.Image:
    """Draw `lines` on a blank A4 sheet at `dpi` (grey-scale), in font `family`."""
    size = (_mm_to_px(A4_MM[0], dpi), _mm_to_px(A4_MM[1], dpi))
    image = Image.new("L", size, _PAPER)
    draw = ImageDraw.Draw(image)
    left, top, right, _ = (_mm_to_px(m, dpi) for m in _MARGINS_MM)
    step = _FONT_PT / 72 * dpi * _LINE_SPACING
    y = float(top)
    for line in lines:
        y += line.space_before * step
        face = _body_font(dpi, bold=line.bold, family=family)
        width = face.getlength(line.text)
        if line.align == "center":
            x = (left + size[0] - right - width) / 2
        elif line.align == "right":
            x = size[0] - right - width
        else:
            x = left + _mm_to_px(line.indent_mm, dpi)
        draw.text((x, round(y)), line.text, font=face, fill=_INK)
        y += step
    return image
