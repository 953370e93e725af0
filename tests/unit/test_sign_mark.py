"""The 'converted from paper' mark and QR code on page 1, drawn before signing."""

from __future__ import annotations

import io

import pikepdf
import pypdfium2 as pdfium
import zxingcpp
from PIL import Image

from digitize.config import Settings
from digitize.mark import BAND_PT, ConversionMark
from digitize.pdf import build_searchable_pdf, encode_page_image
from digitize.sign import sign_pdf, verify_pdf
from tests.factories import ocr_page_from_lines

MARK = ConversionMark(
    text="Bản số hóa từ bản giấy",
    unit="UBND xã Ia Krêl (thử nghiệm)",
    record_url="digitize:doc/3f2a9c0011223344",
)
LINES = ["Ủy ban nhân dân huyện Đức Cơ"]


def _pdf(mark: ConversionMark | None = MARK, pages: int = 1) -> bytes:
    made = []
    for index in range(pages):
        page = ocr_page_from_lines(LINES, index=index)
        image = encode_page_image(Image.new("L", (2480, 3508), 255))
        made.append((page, image))
    return build_searchable_pdf(made, mark=mark)


def _text(data: bytes, page: int = 0) -> str:
    doc = pdfium.PdfDocument(data)
    try:
        return doc[page].get_textpage().get_text_range()
    finally:
        doc.close()


def test_mark_text_round_trips_with_the_unit() -> None:
    text = _text(_pdf())
    assert "Bản số hóa từ bản giấy. Đơn vị số hóa: UBND xã Ia Krêl (thử nghiệm)" in text
    assert "digitize:doc/3f2a9c0011223344" in text
    # The scan's text layer is still there, unchanged.
    assert "Ủy ban nhân dân huyện Đức Cơ" in " ".join(text.split())


def test_qr_code_decodes_to_the_record_address() -> None:
    doc = pdfium.PdfDocument(_pdf())
    try:
        image = doc[0].render(scale=3).to_pil()
    finally:
        doc.close()
    band = image.crop((0, image.height - round(BAND_PT * 3), image.width, image.height))
    results = zxingcpp.read_barcodes(band)
    assert [r.text for r in results] == [MARK.record_url]


def test_band_is_added_below_the_scan_on_page_1_only() -> None:
    plain, marked = _pdf(None, pages=2), _pdf(pages=2)
    with pikepdf.open(io.BytesIO(plain)) as a, pikepdf.open(io.BytesIO(marked)) as b:
        h_plain = float(a.pages[0].MediaBox[3])
        assert float(b.pages[0].MediaBox[3]) == h_plain + BAND_PT
        assert float(b.pages[1].MediaBox[3]) == float(a.pages[1].MediaBox[3])
        assert "Bản số hóa" not in _text(marked, page=1)


def test_mark_font_is_embedded_with_tounicode() -> None:
    with pikepdf.open(io.BytesIO(_pdf())) as pdf:
        font = pdf.pages[0].Resources.Font.FMark
        assert "/ToUnicode" in font
        descendant = font.DescendantFonts[0]
        assert "/FontFile2" in descendant.FontDescriptor
        widths = [float(w) for w in descendant.W[1]]
        assert max(widths) < 1100  # 1/1000 em, not raw 2048-unit font units


def test_marked_derivative_signs_and_mark_is_covered(tmp_path) -> None:
    settings = Settings(home=tmp_path / "home")
    unsigned = _pdf()
    signed = sign_pdf(unsigned, settings)
    assert signed.data.startswith(unsigned)
    [report] = verify_pdf(signed.data, settings)
    assert report.ok and report.coverage == "ENTIRE_FILE"
