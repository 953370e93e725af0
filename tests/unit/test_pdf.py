import io

import pikepdf
import pypdfium2 as pdfium
from PIL import Image

from digitize.pdf import build_searchable_pdf, encode_page_image
from tests.factories import ocr_page_from_lines

LINES = ["Ủy ban nhân dân huyện Đức Cơ", "Số hóa hồ sơ thủ tục hành chính"]


def _extract(pdf_bytes: bytes, page: int = 0) -> str:
    doc = pdfium.PdfDocument(pdf_bytes)
    try:
        return doc[page].get_textpage().get_text_range()
    finally:
        doc.close()


def test_text_layer_round_trips_vietnamese():
    page = ocr_page_from_lines(LINES)
    image = encode_page_image(Image.new("L", (2480, 3508), 255))
    data = build_searchable_pdf([(page, image)])
    text = " ".join(_extract(data).split())
    assert "Ủy ban nhân dân huyện Đức Cơ" in text
    assert "Số hóa hồ sơ thủ tục hành chính" in text


def test_page_count_and_size_follow_the_scan():
    pages = []
    for i, dpi in enumerate((300, 200)):
        page = ocr_page_from_lines(LINES, index=i, dpi=dpi)
        image = encode_page_image(Image.new("1", (2480, 3508), 1))
        pages.append((page, image))
    with pikepdf.open(io.BytesIO(build_searchable_pdf(pages))) as pdf:
        assert len(pdf.pages) == 2
        width, height = (float(v) for v in pdf.pages[0].MediaBox[2:])
        assert abs(width - 595.2) < 0.5 and abs(height - 841.9) < 0.5
        width = float(pdf.pages[1].MediaBox[2])
        assert abs(width - 2480 * 72 / 200) < 0.5


def test_bilevel_and_colour_pages_embed_without_loss():
    bilevel = Image.new("1", (100, 50), 1)
    bilevel.putpixel((10, 10), 0)
    encoded = encode_page_image(bilevel)
    assert encoded.bits == 1 and encoded.filter == "/FlateDecode"
    page = ocr_page_from_lines([], dpi=72)
    page.width_px, page.height_px = 100, 50
    data = build_searchable_pdf([(page, encoded)])
    with pikepdf.open(io.BytesIO(data)) as pdf:
        raw = pikepdf.PdfImage(pdf.pages[0].Resources.XObject.Im0).as_pil_image()
    assert raw.convert("L").getpixel((10, 10)) == 0
    assert raw.convert("L").getpixel((11, 10)) == 255
    assert (
        encode_page_image(Image.new("RGB", (10, 10), "red")).colorspace == "/DeviceRGB"
    )
