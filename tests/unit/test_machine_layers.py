"""QR and MRZ reading from page images; the Tesseract runs are marked slow."""

import pytest
import qrcode
from PIL import Image, ImageDraw, ImageFont

from digitize.extract.mrz import compose_td1
from digitize.machine_layers import (
    _otsu_threshold,
    _pick_mrz_lines,
    read_machine_layers,
    read_mrz_lines,
    read_qr_payloads,
)
from digitize.records import Word

FONTS = "/usr/share/fonts/truetype/dejavu"
PAYLOAD = (
    "038096730274|854433535|ĐỖ MINH ĐẠT|28121996|Nam|"
    "Thôn 2, Ia Dom, Đức Cơ, Gia Lai|24012022"
)
MRZ = compose_td1(
    id_number="038096730274",
    dob_yymmdd="961228",
    sex="M",
    expiry_yymmdd="361228",
    name_mrz="DO<<MINH<DAT",
)


def _qr_image(payload: str, box_size: int = 6) -> Image.Image:
    code = qrcode.QRCode(box_size=box_size, border=3)
    code.add_data(payload.encode("utf-8"))
    code.make(fit=True)
    return code.make_image().get_image().convert("L")


def _card(*, with_qr: bool = True, with_mrz: bool = True) -> Image.Image:
    """A card-like grey page: a few printed lines, a QR top right, an MRZ below."""
    page = Image.new("L", (1900, 1250), 236)
    draw = ImageDraw.Draw(page)
    sans = ImageFont.truetype(f"{FONTS}/DejaVuSans.ttf", 34)
    for row, text in enumerate(
        [
            "Đặc điểm nhân dạng / Personal identification:",
            "Nốt ruồi C:1cm trên trước đầu mày trái",
            "Ngày, tháng, năm / Date, month, year: 24/01/2022",
            "CỤC TRƯỞNG CỤC CẢNH SÁT",
            "Ngón trỏ trái        Ngón trỏ phải",
        ]
    ):
        draw.text((60, 80 + 70 * row), text, font=sans, fill=30)
    if with_qr:
        qr = _qr_image(PAYLOAD)
        page.paste(qr, (1860 - qr.width, 40))
    if with_mrz:
        mono = ImageFont.truetype(f"{FONTS}/DejaVuSansMono.ttf", 64)
        for row, line in enumerate(MRZ):
            draw.text((180, 880 + 95 * row), line, font=mono, fill=30)
    return page


def test_qr_payload_keeps_vietnamese_text_intact():
    assert read_qr_payloads(_card(with_mrz=False)) == [PAYLOAD]


def test_qr_found_on_a_large_page_after_downscaling():
    page = Image.new("L", (2480, 3508), 240)
    page.paste(_qr_image(PAYLOAD, box_size=8), (1500, 300))
    assert read_qr_payloads(page.convert("RGB")) == [PAYLOAD]


def test_no_qr():
    assert read_qr_payloads(Image.new("L", (800, 600), 255)) == []


def test_no_mrz_like_words_means_no_mrz_and_no_tesseract_run():
    words = [Word("Ngày", 10, 10, 50, 20, 95.0), Word("<<", 70, 10, 10, 20, 20.0)]
    assert read_mrz_lines(Image.new("L", (800, 600), 255), words) == []


def test_pick_mrz_lines_fits_and_checks():
    texts = [
        "noise",
        "IDVNM0967302740038096730274«7",
        MRZ[1][:20] + "<<<<4",
        "DO<<MINH",
    ]
    assert _pick_mrz_lines(texts) == [*MRZ[:2], "DO<<MINH" + "<" * 22]
    # Only line 1 read, and correctly: still an MRZ (its check digits hold).
    assert _pick_mrz_lines([MRZ[0], "garbage line"])[0] == MRZ[0]
    # No check digit holds: not an MRZ.
    assert _pick_mrz_lines(["IDVNM0967302749038096730274<<1", "garbage line"]) == []


def test_otsu_threshold_splits_ink_from_paper():
    image = Image.new("L", (100, 100), 230)
    ImageDraw.Draw(image).rectangle((0, 0, 49, 99), fill=40)
    assert 40 <= _otsu_threshold(image) < 230


@pytest.mark.slow
def test_machine_layers_of_a_rendered_card():
    from digitize.tools.tesseract import ocr_image

    page = _card()
    words = ocr_image(page, lang="vie", psm=3).words
    qr, mrz = read_machine_layers(page, words)
    assert qr == [PAYLOAD]
    assert mrz == MRZ


@pytest.mark.slow
def test_page_without_machine_layers():
    from digitize.tools.tesseract import ocr_image

    page = _card(with_qr=False, with_mrz=False)
    words = ocr_image(page, lang="vie", psm=3).words
    assert read_machine_layers(page, words) == ([], [])


@pytest.mark.slow
def test_mrz_found_under_the_captions_when_page_ocr_missed_it():
    from digitize.tools.tesseract import ocr_image

    page = _card(with_qr=False)
    words = ocr_image(page, lang="vie", psm=3).words
    words = [w for w in words if "<" not in w.text and "VNM" not in w.text]
    assert read_mrz_lines(page, words)[:2] == MRZ[:2]


def test_skew_is_measured_from_long_lines():
    import math

    from digitize.machine_layers.fields import skew_deg

    slope = math.tan(math.radians(2.0))  # lines falling 2 degrees to the right
    words = [
        Word(
            "chữ",
            100 + 150 * i,
            round(300 + 80 * row + slope * 150 * i),
            120,
            30,
            90.0,
            1,
            1,
            row,
        )
        for row in range(4)
        for i in range(6)
    ]
    assert abs(skew_deg(words) - 2.0) < 0.2
    assert skew_deg(words[:2]) == 0.0  # too few words to tell


@pytest.mark.slow
def test_field_crops_are_read_again():
    from digitize.machine_layers.fields import reread_fields
    from digitize.records import PageEvidence

    page = Image.new("L", (1400, 400), 240)
    draw = ImageDraw.Draw(page)
    sans = ImageFont.truetype(f"{FONTS}/DejaVuSans.ttf", 40)
    words, x = [], 60
    for token in ("Họ", "và", "tên", "/", "Full", "name:"):
        left, top, right, bottom = draw.textbbox((x, 80), token, font=sans)
        words.append(Word(token, left, top, right - left, bottom - top, 90.0, 1, 1, 1))
        draw.text((x, 80), token, font=sans, fill=30)
        x = right + 14
    x = 60
    for token in ("NGUYỄN", "THỊ", "HẰNG"):
        left, top, right, bottom = draw.textbbox((x, 160), token, font=sans)
        words.append(Word(token, left, top, right - left, bottom - top, 60.0, 2, 1, 1))
        draw.text((x, 160), token, font=sans, fill=30)
        x = right + 14
    reads = reread_fields(page, PageEvidence(0, "", words))
    ((text, conf),) = reads.values()
    assert text == "NGUYỄN THỊ HẰNG"
    assert conf > 60


def test_mrz_band_leaves_out_print_joined_to_an_mrz_line():
    from digitize.machine_layers import _mrz_band

    junk = [Word(t, 40 + 120 * i, 1000, 100, 40, 60.0, 1, 1, 1)
            for i, t in enumerate(["đà", "tạbesgt9/nc", "tin"])]  # fmt: skip
    mrz = [
        Word(MRZ[0], 1800, 1000 + 0, 1500, 50, 90.0, 1, 1, 1),
        Word(MRZ[1], 1800, 1000 + 90, 1500, 50, 90.0, 1, 1, 2),
        Word(MRZ[2], 1800, 1000 + 180, 1500, 50, 90.0, 1, 1, 3),
    ]
    left, _, right, _ = _mrz_band(junk + mrz, (3500, 2500))
    assert left > 1500 and right > 3300
