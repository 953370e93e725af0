"""PDF stage: write the searchable PDF from upright page images and their words.

Pages are written to the file one at a time as they arrive (`SearchablePdfWriter`), so
a long document is never held in memory. Each page is the scan image with an invisible
text layer (render mode 3) whose words sit on the boxes Tesseract found, so selecting
text in a viewer selects the right words. The text uses a glyph-less CID font: every
code is its own Unicode value (Identity-H and an identity ToUnicode map), so Vietnamese
diacritics survive copy, search and extraction.
"""

from __future__ import annotations

import io
import secrets
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from statistics import median
from typing import Any, BinaryIO

import pikepdf
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen
from PIL import Image

from digitize.mark import ConversionMark, draw_mark
from digitize.records import OcrPage, Word

__all__ = [
    "ConversionMark",
    "EncodedImage",
    "SearchablePdfWriter",
    "build_searchable_pdf",
    "encode_page_image",
    "write_searchable_pdf",
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



class SearchablePdfWriter:
    """Writes the searchable PDF to a binary file one page at a time.

    Each page's image, text layer and page object go to the file as soon as the page is
    added; only the byte offsets of the objects stay in memory, so a 500-page document
    costs no more memory than a 1-page one. The cross-reference table and the page tree
    are written by `close`.
    """

    _CATALOG, _PAGES, _INFO, _FONT = 1, 2, 3, 4

    def __init__(self, handle: BinaryIO) -> None:
        """Start the file on `handle` (positioned where the PDF begins)."""
        self._out = handle
        self._start = handle.tell()
        self._offsets: dict[int, int] = {}
        self._kids: list[int] = []
        self._next = self._FONT
        self._write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        self._font()

    @property
    def page_count(self) -> int:
        """Pages written so far."""
        return len(self._kids)

    def add_page(self, page: OcrPage, image: EncodedImage) -> None:
        """Write one page: the scan image, its invisible words and the page object."""
        width_pt = image.width * 72.0 / page.dpi
        height_pt = image.height * 72.0 / page.dpi
        image_id = self._stream(
            f"/Type /XObject /Subtype /Image /Width {image.width} "
            f"/Height {image.height} /ColorSpace {image.colorspace} "
            f"/BitsPerComponent {image.bits} /Filter {image.filter}",
            image.data,
        )
        drawing = f"q {width_pt:.3f} 0 0 {height_pt:.3f} 0 0 cm /Im0 Do Q\n"
        content = drawing + _text_layer(page, height_pt)
        content_id = self._stream(
            "/Filter /FlateDecode", zlib.compress(content.encode("ascii"), 6)
        )
        self._kids.append(
            self._object(
                f"<< /Type /Page /Parent {self._PAGES} 0 R "
                f"/MediaBox [0 0 {_num(width_pt)} {_num(height_pt)}] "
                f"/Resources << /XObject << /Im0 {image_id} 0 R >> "
                f"/Font << /F1 {self._FONT} 0 R >> >> "
                f"/Contents {content_id} 0 R >>"
            )
        )

    def close(self) -> None:
        """Write the page tree, catalog, information and cross-reference table."""
        kids = " ".join(f"{kid} 0 R" for kid in self._kids)
        self._object(
            f"<< /Type /Pages /Kids [{kids}] /Count {len(self._kids)} >>", self._PAGES
        )
        self._object(f"<< /Type /Catalog /Pages {self._PAGES} 0 R >>", self._CATALOG)
        self._object("<< /Producer (digitize) >>", self._INFO)
        size = self._next + 1
        xref = self._out.tell() - self._start
        rows = ["xref", f"0 {size}", "0000000000 65535 f\r"]
        rows += [f"{self._offsets[number]:010d} 00000 n\r" for number in range(1, size)]
        file_id = secrets.token_hex(16).upper()
        rows += [
            "trailer",
            f"<< /Size {size} /Root {self._CATALOG} 0 R /Info {self._INFO} 0 R "
            f"/ID [<{file_id}> <{file_id}>] >>",
            "startxref",
            str(xref),
            "%%EOF",
        ]
        self._write(("\n".join(rows) + "\n").encode("ascii"))

    def _write(self, data: bytes) -> None:
        self._out.write(data)

    def _object(self, body: str, number: int = 0) -> int:
        number = number or self._take()
        self._offsets[number] = self._out.tell() - self._start
        self._write(f"{number} 0 obj\n{body}\nendobj\n".encode("ascii"))
        return number

    def _stream(self, entries: str, data: bytes, number: int = 0) -> int:
        number = number or self._take()
        self._offsets[number] = self._out.tell() - self._start
        self._write(
            f"{number} 0 obj\n<< {entries} /Length {len(data)} >>\nstream\n".encode(
                "ascii"
            )
        )
        self._write(data)
        self._write(b"\nendstream\nendobj\n")
        return number

    def _take(self) -> int:
        self._next += 1
        return self._next

    def _font(self) -> None:
        """The glyph-less Type 0 font every page's text layer uses (object 4 on)."""
        font_file = self._stream(
            "/Filter /FlateDecode", zlib.compress(_glyphless_ttf()), self._take()
        )
        descriptor = self._object(
            "<< /Type /FontDescriptor /FontName /GlyphLessFont /Flags 5 "
            f"/FontBBox [0 0 {_GLYPH_WIDTH} 1000] /ItalicAngle 0 /Ascent 1000 "
            f"/Descent 0 /CapHeight 1000 /StemV 80 /FontFile2 {font_file} 0 R >>"
        )
        gid_map = self._stream(
            "/Filter /FlateDecode", zlib.compress(b"\x00\x01" * 65536)
        )
        cid_font = self._object(
            "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /GlyphLessFont "
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
            f"/FontDescriptor {descriptor} 0 R /DW {_GLYPH_WIDTH} "
            f"/CIDToGIDMap {gid_map} 0 R >>"
        )
        to_unicode = self._stream(
            "/Filter /FlateDecode", zlib.compress(_identity_tounicode())
        )
        self._object(
            "<< /Type /Font /Subtype /Type0 /BaseFont /GlyphLessFont "
            f"/Encoding /Identity-H /DescendantFonts [{cid_font} 0 R] "
            f"/ToUnicode {to_unicode} 0 R >>",
            self._FONT,
        )


def _num(value: float) -> str:
    return f"{round(value, 3):g}"


def write_searchable_pdf(
    pages: Iterable[tuple[OcrPage, EncodedImage]],
    target: Path,
    mark: ConversionMark | None = None,
) -> int:
    """Write the searchable PDF of `pages` to `target`, streaming; return its pages.

    Pages are written as they come, so the caller may produce them lazily. With
    `mark`, page 1 gets a band below the scan with the 'converted from paper' mark,
    the converting unit and a QR code of the record's address: qpdf rewrites the
    file once, reading the page images from the first file rather than memory.
    """
    body = target.with_name(target.name + ".body") if mark is not None else target
    with body.open("wb") as handle:
        writer = SearchablePdfWriter(handle)
        for page, image in pages:
            writer.add_page(page, image)
        writer.close()
    if mark is not None:
        try:
            with pikepdf.open(body) as pdf:
                _mark_first_page(pdf, mark)
                pdf.save(target, **_SAVE_OPTIONS)
        finally:
            body.unlink(missing_ok=True)
    return writer.page_count


def build_searchable_pdf(
    pages: list[tuple[OcrPage, EncodedImage]], mark: ConversionMark | None = None
) -> bytes:
    """The searchable PDF of a few pages, in memory (see `write_searchable_pdf`)."""
    buf = io.BytesIO()
    writer = SearchablePdfWriter(buf)
    for page, image in pages:
        writer.add_page(page, image)
    writer.close()
    if mark is None:
        return buf.getvalue()
    with pikepdf.open(buf) as pdf:
        _mark_first_page(pdf, mark)
        out = io.BytesIO()
        pdf.save(out, **_SAVE_OPTIONS)
    return out.getvalue()


_SAVE_OPTIONS: dict[str, Any] = {
    "compress_streams": True,
    "object_stream_mode": pikepdf.ObjectStreamMode.generate,
}


def _mark_first_page(pdf: pikepdf.Pdf, mark: ConversionMark) -> None:
    if len(pdf.pages):
        draw_mark(pdf, pdf.pages[0], mark)
