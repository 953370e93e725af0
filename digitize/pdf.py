"""PDF stage: assemble the searchable PDF from upright page images and their words.

Each page is the scan image with an invisible text layer (render mode 3) whose words sit
on the boxes Tesseract found, so selecting text in a viewer selects the right words. The
text uses a glyph-less CID font: every code is its own Unicode value (Identity-H and an
identity ToUnicode map), so Vietnamese diacritics survive copy, search and extraction.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass
from functools import cache
from statistics import median

import pikepdf
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen
from PIL import Image

from digitize.mark import ConversionMark, draw_mark
from digitize.records import OcrPage, Word

__all__ = [
    "ConversionMark",
    "EncodedImage",
    "build_searchable_pdf",
    "encode_page_image",
]

_GLYPH_WIDTH = 500  # of 1000 units per em: every code point has this advance
_JPEG_QUALITY = 80


@dataclass(frozen=True)
class EncodedImage:
    """A page image compressed once, ready to embed in the PDF without re-encoding."""

    data: bytes
    width: int
    height: int
    colorspace: str
    bits: int
    filter: str


def encode_page_image(image: Image.Image) -> EncodedImage:
    """Compress a page once: bilevel pages with Flate, grey and colour with JPEG."""
    if image.mode == "1":
        data = zlib.compress(image.tobytes(), 6)
        return EncodedImage(
            data, image.width, image.height, "/DeviceGray", 1, "/FlateDecode"
        )
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=_JPEG_QUALITY, optimize=False)
    colorspace = "/DeviceGray" if image.mode == "L" else "/DeviceRGB"
    return EncodedImage(
        buf.getvalue(), image.width, image.height, colorspace, 8, "/DCTDecode"
    )


@cache
def _glyphless_ttf() -> bytes:
    """A TrueType font with one empty glyph; every CID maps to it."""
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder([".notdef", "blank"])
    builder.setupCharacterMap({})
    empty = TTGlyphPen(None).glyph()
    builder.setupGlyf({".notdef": empty, "blank": empty})
    builder.setupHorizontalMetrics(
        {".notdef": (_GLYPH_WIDTH, 0), "blank": (_GLYPH_WIDTH, 0)}
    )
    builder.setupHorizontalHeader(ascent=1000, descent=0)
    builder.setupNameTable({"familyName": "GlyphLessFont", "styleName": "Regular"})
    builder.setupOS2()
    builder.setupPost()
    buf = io.BytesIO()
    builder.save(buf)
    return buf.getvalue()


def _identity_tounicode() -> bytes:
    ranges = "\n".join(f"<{hi:02X}00> <{hi:02X}FF> <{hi:02X}00>" for hi in range(256))
    return (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        f"100 beginbfrange\n{_first(ranges, 0)}\nendbfrange\n"
        f"100 beginbfrange\n{_first(ranges, 100)}\nendbfrange\n"
        f"56 beginbfrange\n{_first(ranges, 200)}\nendbfrange\n"
        "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
    ).encode()


def _first(ranges: str, start: int) -> str:
    # A bfrange block holds at most 100 entries (PDF 1.7, 9.10.3).
    return "\n".join(ranges.splitlines()[start : start + 100])


def _font(pdf: pikepdf.Pdf) -> pikepdf.Object:
    font_file = pikepdf.Stream(pdf, zlib.compress(_glyphless_ttf()))
    font_file.Filter = pikepdf.Name.FlateDecode
    descriptor = pikepdf.Dictionary(
        Type=pikepdf.Name.FontDescriptor,
        FontName=pikepdf.Name.GlyphLessFont,
        Flags=5,
        FontBBox=[0, 0, _GLYPH_WIDTH, 1000],
        ItalicAngle=0,
        Ascent=1000,
        Descent=0,
        CapHeight=1000,
        StemV=80,
        FontFile2=font_file,
    )
    gid_map = pikepdf.Stream(pdf, zlib.compress(b"\x00\x01" * 65536))
    gid_map.Filter = pikepdf.Name.FlateDecode
    cid_font = pikepdf.Dictionary(
        Type=pikepdf.Name.Font,
        Subtype=pikepdf.Name.CIDFontType2,
        BaseFont=pikepdf.Name.GlyphLessFont,
        CIDSystemInfo=pikepdf.Dictionary(
            Registry=pikepdf.String("Adobe"),
            Ordering=pikepdf.String("Identity"),
            Supplement=0,
        ),
        FontDescriptor=pdf.make_indirect(descriptor),
        DW=_GLYPH_WIDTH,
        CIDToGIDMap=gid_map,
    )
    to_unicode = pikepdf.Stream(pdf, zlib.compress(_identity_tounicode()))
    to_unicode.Filter = pikepdf.Name.FlateDecode
    font = pikepdf.Dictionary(
        Type=pikepdf.Name.Font,
        Subtype=pikepdf.Name.Type0,
        BaseFont=pikepdf.Name.GlyphLessFont,
        Encoding=pikepdf.Name("/Identity-H"),
        DescendantFonts=[pdf.make_indirect(cid_font)],
        ToUnicode=to_unicode,
    )
    return pdf.make_indirect(font)


def _lines(words: list[Word]) -> list[list[Word]]:
    grouped: dict[tuple[int, int, int], list[Word]] = {}
    for word in words:
        grouped.setdefault((word.block, word.par, word.line), []).append(word)
    return list(grouped.values())


def _text_layer(page: OcrPage, height_pt: float) -> str:
    scale = 72.0 / page.dpi
    ops = ["BT", "3 Tr"]
    for line in _lines(page.words):
        size = max(1.0, median(w.height for w in line) * scale)
        baseline = height_pt - median(w.top + w.height for w in line) * scale
        ops.append(f"/F1 {size:.2f} Tf")
        for i, word in enumerate(line):
            last = i == len(line) - 1
            text = word.text if last else word.text + " "
            span = word.width if last else max(line[i + 1].left - word.left, word.width)
            natural = len(text) * _GLYPH_WIDTH / 1000 * size
            stretch = 100.0 * span * scale / natural if natural else 100.0
            ops.append(f"{stretch:.2f} Tz")
            ops.append(f"1 0 0 1 {word.left * scale:.2f} {baseline:.2f} Tm")
            ops.append(f"<{text.encode('utf-16-be').hex().upper()}> Tj")
    ops.append("ET")
    return "\n".join(ops)


def _add_page(
    pdf: pikepdf.Pdf, font: pikepdf.Object, page: OcrPage, image: EncodedImage
) -> None:
    width_pt = image.width * 72.0 / page.dpi
    height_pt = image.height * 72.0 / page.dpi
    xobject = pikepdf.Stream(pdf, image.data)
    xobject.Type = pikepdf.Name.XObject
    xobject.Subtype = pikepdf.Name.Image
    xobject.Width, xobject.Height = image.width, image.height
    xobject.ColorSpace = pikepdf.Name(image.colorspace)
    xobject.BitsPerComponent = image.bits
    xobject.Filter = pikepdf.Name(image.filter)
    drawing = f"q {width_pt:.3f} 0 0 {height_pt:.3f} 0 0 cm /Im0 Do Q\n"
    content = drawing + _text_layer(page, height_pt)
    pdf_page = pikepdf.Page(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Page,
            MediaBox=[0, 0, round(width_pt, 3), round(height_pt, 3)],
            Resources=pikepdf.Dictionary(
                XObject=pikepdf.Dictionary(Im0=xobject),
                Font=pikepdf.Dictionary(F1=font),
            ),
            Contents=pikepdf.Stream(pdf, content.encode("ascii")),
        )
    )
    pdf.pages.append(pdf_page)


def build_searchable_pdf(
    pages: list[tuple[OcrPage, EncodedImage]], mark: ConversionMark | None = None
) -> bytes:
    """One PDF with every page's image and invisible text, in page order.

    With `mark`, page 1 gets a band below the scan with the 'converted from paper'
    mark, the converting unit and a QR code of the record's address.
    """
    pdf = pikepdf.new()
    font = _font(pdf)
    for page, image in pages:
        _add_page(pdf, font, page, image)
    if mark is not None and len(pdf.pages):
        draw_mark(pdf, pdf.pages[0], mark)
    pdf.docinfo[pikepdf.Name.Producer] = pikepdf.String("digitize")
    buf = io.BytesIO()
    pdf.save(
        buf, compress_streams=True, object_stream_mode=pikepdf.ObjectStreamMode.generate
    )
    return buf.getvalue()
