"""The 'converted from paper' mark and the record's QR code, drawn on page 1.

Law on Electronic Transactions 2023, art. 12.1.c: a data message converted from paper
carries a mark saying so and naming the converter. The mark goes in a band added below
the scan on page 1, so no part of the scanned paper is covered; it is drawn before
signing and is part of what the signature protects. Text uses an embedded subset of
a serif font with a ToUnicode map, so it extracts as written.
"""

from __future__ import annotations

import io
import unicodedata
import zlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pikepdf
import qrcode
from fontTools import subset
from fontTools.ttLib import TTFont

from digitize.config import Settings
from digitize.fonts import find_font

__all__ = ["BAND_PT", "ConversionMark", "conversion_mark", "draw_mark"]

BAND_PT = 64.0
_QR_PT = 52.0
_MARGIN_PT = 6.0
_TEXT_PT = 9.0
_LEADING_PT = 13.0
_FONT_NAME = "DigitizeMarkSerif"
_ADDRESS_CHARS = set("0123456789abcdefghijklmnopqrstuvwxyz:/._-")


@dataclass(frozen=True)
class ConversionMark:
    """What the band on page 1 says and where its QR code points."""

    text: str
    """The mark, e.g. 'Bản số hóa từ bản giấy'."""

    unit: str
    """The converting agency or unit."""

    record_url: str
    """QR payload: the record's address, e.g. digitize:doc/<id>."""

    def lines(self) -> list[str]:
        """Printed lines (NFC, one line each)."""
        first = f"{_one_line(self.text)}. Đơn vị số hóa: {_one_line(self.unit)}"
        return [first, _one_line(self.record_url)]


def conversion_mark(settings: Settings, record_id: str) -> ConversionMark:
    """The mark for record `record_id`: configured text, agency and URL base."""
    return ConversionMark(
        text=settings.mark_text,
        unit=settings.sign_agency,
        record_url=f"{settings.record_url_base}{record_id}",
    )


def _one_line(value: str) -> str:
    return " ".join(unicodedata.normalize("NFC", value).split())


def draw_mark(pdf: pikepdf.Pdf, page: pikepdf.Page, mark: ConversionMark) -> None:
    """Grow `page` by a band at the bottom and draw the mark and QR code in it.

    The page's existing content is shifted up by the band's height, unchanged.
    """
    x1, y1, x2, y2 = (float(v) for v in page.obj.MediaBox)
    page.obj.MediaBox = pikepdf.Array([x1, y1, x2, y2 + BAND_PT])
    shift = pikepdf.Stream(pdf, f"q 1 0 0 1 0 {BAND_PT:g} cm\n".encode())
    lines = mark.lines()
    font = _font_object(pdf, "".join(lines))
    resources = page.obj.Resources
    if "/Font" not in resources:
        resources.Font = pikepdf.Dictionary()
    resources.Font.FMark = font.obj
    band = _band_content(x1, y1, lines, font, mark.record_url)
    closing = pikepdf.Stream(pdf, b"Q\n" + band.encode("ascii"))
    contents = page.obj.Contents
    parts = list(contents) if isinstance(contents, pikepdf.Array) else [contents]
    page.obj.Contents = pikepdf.Array([shift, *parts, closing])


def _band_content(
    x1: float, y1: float, lines: list[str], font: _EmbeddedFont, url: str
) -> str:
    ops = ["q 0 g", _qr_ops(url, x1 + _MARGIN_PT, y1 + (BAND_PT - _QR_PT) / 2)]
    text_x = x1 + _MARGIN_PT * 2 + _QR_PT
    top = y1 + BAND_PT / 2 + _LEADING_PT / 2 - 2
    ops.append("BT")
    for index, line in enumerate(lines):
        ops.append(f"/FMark {_TEXT_PT:g} Tf")
        ops.append(f"1 0 0 1 {text_x:.2f} {top - index * _LEADING_PT:.2f} Tm")
        ops.append(f"<{font.encode(line)}> Tj")
    ops.append("ET Q")
    return "\n".join(ops) + "\n"


def _qr_ops(payload: str, left: float, bottom: float) -> str:
    """Filled squares for the dark modules of the QR code of `payload`."""
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, border=0, box_size=1
    )
    code.add_data(payload)
    code.make(fit=True)
    matrix = code.get_matrix()
    module = _QR_PT / len(matrix)
    rects = [
        f"{left + col * module:.3f} {bottom + _QR_PT - (row + 1) * module:.3f} "
        f"{module:.3f} {module:.3f} re"
        for row, cells in enumerate(matrix)
        for col, dark in enumerate(cells)
        if dark
    ]
    return "\n".join(rects) + "\nf"


@dataclass(frozen=True)
class _EmbeddedFont:
    obj: pikepdf.Object
    gids: dict[str, int]

    def encode(self, text: str) -> str:
        """Hex of the 2-byte glyph ids (Identity-H) for `text`."""
        return "".join(f"{self.gids.get(char, 0):04X}" for char in text)


def _font_object(pdf: pikepdf.Pdf, text: str) -> _EmbeddedFont:
    # The record id varies per document: subsetting for every character a record
    # address may hold keeps the (costly) subset cached across documents.
    data, gids, widths = _subset_font(
        str(find_font("serif")), "".join(sorted(set(text) | _ADDRESS_CHARS))
    )
    font_file = pikepdf.Stream(pdf, zlib.compress(data))
    font_file.Filter = pikepdf.Name.FlateDecode
    descriptor = pikepdf.Dictionary(
        Type=pikepdf.Name.FontDescriptor,
        FontName=pikepdf.Name("/" + _FONT_NAME),
        Flags=6,  # serif, symbolic (glyphs addressed by id)
        FontBBox=[-200, -300, 1200, 1000],
        ItalicAngle=0,
        Ascent=900,
        Descent=-250,
        CapHeight=700,
        StemV=80,
        FontFile2=font_file,
    )
    cid_font = pikepdf.Dictionary(
        Type=pikepdf.Name.Font,
        Subtype=pikepdf.Name.CIDFontType2,
        BaseFont=pikepdf.Name("/" + _FONT_NAME),
        CIDSystemInfo=pikepdf.Dictionary(
            Registry=pikepdf.String("Adobe"),
            Ordering=pikepdf.String("Identity"),
            Supplement=0,
        ),
        FontDescriptor=pdf.make_indirect(descriptor),
        W=pikepdf.Array([0, pikepdf.Array(widths)]),
        CIDToGIDMap=pikepdf.Name.Identity,
    )
    to_unicode = pikepdf.Stream(pdf, zlib.compress(_to_unicode(gids)))
    to_unicode.Filter = pikepdf.Name.FlateDecode
    font = pikepdf.Dictionary(
        Type=pikepdf.Name.Font,
        Subtype=pikepdf.Name.Type0,
        BaseFont=pikepdf.Name("/" + _FONT_NAME),
        Encoding=pikepdf.Name("/Identity-H"),
        DescendantFonts=[pdf.make_indirect(cid_font)],
        ToUnicode=to_unicode,
    )
    return _EmbeddedFont(pdf.make_indirect(font), gids)


@cache
def _subset_font(path: str, chars: str) -> tuple[bytes, dict[str, int], list[int]]:
    """Subset with glyph ids kept compact; widths per gid in 1/1000 em."""
    font = TTFont(Path(path))
    options = subset.Options()
    options.hinting = False
    options.notdef_outline = True
    options.name_IDs = ["*"]
    options.layout_features = []
    if "FFTM" in font:
        del font["FFTM"]  # FontForge timestamp table; fontTools cannot subset it
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[ord(c) for c in chars])
    subsetter.subset(font)
    cmap = font.getBestCmap()
    order = font.getGlyphOrder()
    gids = {chr(code): order.index(name) for code, name in cmap.items()}
    scale = 1000 / font["head"].unitsPerEm
    widths = [round(font["hmtx"].metrics[name][0] * scale) for name in order]
    out = io.BytesIO()
    font.save(out)
    return out.getvalue(), gids, widths


def _to_unicode(gids: dict[str, int]) -> bytes:
    entries = sorted((gid, char) for char, gid in gids.items())
    blocks = []
    for start in range(0, len(entries), 100):  # at most 100 per block (PDF 9.10.3)
        chunk = entries[start : start + 100]
        rows = "\n".join(
            f"<{gid:04X}> <{char.encode('utf-16-be').hex().upper()}>"
            for gid, char in chunk
        )
        blocks.append(f"{len(chunk)} beginbfchar\n{rows}\nendbfchar")
    return (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        + "\n".join(blocks)
        + "\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
    ).encode("ascii")
