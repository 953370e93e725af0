"""The quarterly report's one PDF page: drawn with Pillow, text layer from our own PDF.

Every string is drawn at a known place, so its words are known exactly: they become
the invisible text layer of `digitize.pdf`, and the PDF can be searched and copied.
"""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

from digitize.fonts import find_font
from digitize.pdf import build_searchable_pdf, encode_page_image
from digitize.records import OcrPage, Word

__all__ = ["draw_report_page"]

_DPI = 150
_A4_PX = (round(8.27 * _DPI), round(11.69 * _DPI))
_MARGIN = 110
_INK, _GRID, _BAR = 20, 170, 90


class _Canvas:
    """A grey A4 page that remembers every word it draws."""

    def __init__(self) -> None:
        self.image = Image.new("L", _A4_PX, 255)
        self.draw = ImageDraw.Draw(self.image)
        self.words: list[Word] = []
        self._line = 0

    def text(self, xy: tuple[float, float], text: str, size: int, bold: bool = False):
        face = ImageFont.truetype(str(find_font("sans-bold" if bold else "sans")), size)
        x, y = xy
        self.draw.text((x, y), text, font=face, fill=_INK)
        self._line += 1
        space = face.getlength(" ")
        top, bottom = face.getbbox("Ág")[1], face.getbbox("Ág")[3]
        for word in text.split():
            width = face.getlength(word)
            self.words.append(
                Word(word, round(x), round(y + top), max(1, round(width)),
                     max(1, bottom - top), 100.0, 1, self._line, 1)
            )  # fmt: skip
            x += width + space
        return face.getlength(text)


def _table(canvas: _Canvas, head: tuple[str, ...], rows: list[tuple[str, ...]], y: int):
    size = 22
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    scale = (_A4_PX[0] - 2 * _MARGIN) / max(1, sum(widths) + 2 * len(widths))
    xs, x = [], float(_MARGIN)
    for width in widths:
        xs.append(x)
        x += (width + 2) * scale
    for index, row in enumerate([head, *rows]):
        for col, cell in enumerate(row):
            canvas.text((xs[col], y), cell, size, bold=index == 0)
        y += 34
        if index == 0:
            canvas.draw.line((_MARGIN, y - 4, _A4_PX[0] - _MARGIN, y - 4), fill=_GRID)
    return y


def _chart(canvas: _Canvas, bars: list[tuple[str, int]], label: str, y: int) -> None:
    canvas.text((_MARGIN, y), label, 26, bold=True)
    y += 50
    left, right = _MARGIN + 260, _A4_PX[0] - _MARGIN - 80
    bottom = _A4_PX[1] - _MARGIN
    height = min(60, max(14, (bottom - y) // max(1, len(bars)) - 12))
    top_value = max([value for _, value in bars] + [1])
    start = y
    for name, value in bars:
        canvas.text((_MARGIN, y + height / 2 - 12), name[:22], 20)
        length = (right - left) * value / top_value
        canvas.draw.rectangle((left, y, left + max(2, length), y + height), fill=_BAR)
        canvas.text((left + length + 10, y + height / 2 - 12), str(value), 20)
        y += height + 12
    canvas.draw.line((left, start - 6, left, y), fill=_INK)


def draw_report_page(
    *,
    title: str,
    subtitle: str,
    head: tuple[str, ...],
    rows: list[tuple[str, ...]],
    bars: list[tuple[str, int]],
    bar_label: str,
) -> bytes:
    """The PDF bytes of the report page."""
    canvas = _Canvas()
    canvas.text((_MARGIN, _MARGIN), title, 34, bold=True)
    canvas.text((_MARGIN, _MARGIN + 52), subtitle, 24)
    y = _table(canvas, head, rows, _MARGIN + 130)
    _chart(canvas, bars, bar_label, y + 60)
    page = OcrPage(
        index=0,
        width_px=_A4_PX[0],
        height_px=_A4_PX[1],
        dpi=_DPI,
        words=canvas.words,
        text="\n".join(w.text for w in canvas.words),
        mean_conf=100.0,
    )
    return build_searchable_pdf([(page, encode_page_image(canvas.image))])
