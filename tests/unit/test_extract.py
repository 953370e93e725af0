"""Extraction from OCR text of cards and forms, written by hand with typical slips."""

from digitize.extract import extract_page, extract_papers
from digitize.extract.mrz import compose_td1
from digitize.records import PageEvidence, Word

PIN = "040195221636"
QR = f"{PIN}||LÝ THU LINH|28081995|Nữ|Thôn 7, Ia Dom, Đức Cơ, Gia Lai|25102021"
MRZ = compose_td1(
    id_number=PIN,
    dob_yymmdd="950828",
    sex="F",
    expiry_yymmdd="350828",
    name_mrz="LY<<THU<LINH",
)

# What Tesseract `vie` gives for a chip CCCD front: `Số / No.:` read as `ss/xo:`,
# `Ia` as `la`, a stray `_` and a mark slip in the name.
FRONT_2021 = """CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM
SOCIALIST REPUBLIC OF VIET NAM
Độc lập - Tự do - Hạnh phúc

CĂN CƯỚC CÔNG DÂN

Citizen Identity Card

ss/xo:040195221636

Họ và tên / Full name:

LÝ THU LlNH

Ngày sinh / Date of birth: 28/08/l995
Giới tính / sex: NỮ _ Quốc tịch / Nationality: Việt Nam

Quê quán / Place of origin:

Hưng Đông, Vinh, Nghệ An

Nơi thường trú / Place of residence: Thôn 7, la Dom, Đức Cơ,
Gia Lai

Có giá trị đến / Date of expiry:
28/08/2035
"""

BACK_2021 = """Đặc điểm nhân dạng / Personal identification:
Seo chấm C:2cm dưới sau mép phải

Ngày, tháng, năm / Date, month, year: 25/10/2021

CỤC TRƯỞNG CỤC CẢNH SÁT
QUẢN LÝ HÀNH CHÍNH VỀ TRẬT TỰ XÃ HỘI

Ngón trỏ trái Ngón trỏ phải
Left index finger Right index finger

TDVNM1952216367040195221636<<9
9508288F3508286VNM<<<<<<<<<<<6
LY<<THU<L TNÑH<<<<<<<<<<<<<<<<<<
"""


def _page(text, qr=(), mrz=(), words=()):
    return PageEvidence(0, text, list(words), list(qr), list(mrz))


def _only(papers, paper_type):
    found = [p for p in papers if p.paper_type == paper_type]
    assert len(found) == 1, [p.paper_type for p in papers]
    return found[0]


def test_front_with_qr_takes_machine_values_and_confirms_print():
    paper = _only(extract_page(_page(FRONT_2021, qr=[QR])), "cccd2021_front")
    f = paper.fields
    assert f["id_number"].value == PIN
    assert f["id_number"].source == "qr"
    assert f["id_number"].verified
    assert "qr.vs.ocr" in f["id_number"].checks_passed
    assert {"pin.shape", "pin.province", "pin.century_sex"} <= set(
        f["id_number"].checks_passed
    )
    assert f["full_name"].value == "LÝ THU LINH"
    assert f["date_of_birth"].value == "1995-08-28"
    assert f["date_of_birth"].raw == "28081995"  # the payload part read
    assert f["sex"].value == "F"
    assert f["residence"].value == "Thôn 7, Ia Dom, Đức Cơ, Gia Lai"
    assert f["issue_date"].value == "2021-10-25"
    assert "old_id_number" not in f
    # Printed only, with the address wrapped onto a second line.
    assert f["place_of_origin"].value == "Hưng Đông, Vinh, Nghệ An"
    assert f["place_of_origin"].source == "ocr"
    assert not f["place_of_origin"].verified
    assert f["nationality"].value == "Việt Nam"
    assert f["expiry_date"].value == "2035-08-28"
    assert "expiry.vs.dob" in f["expiry_date"].checks_passed
    assert paper.warnings == []


def test_front_without_qr_is_read_from_print_but_not_verified():
    paper = _only(extract_page(_page(FRONT_2021)), "cccd2021_front")
    f = paper.fields
    assert f["id_number"].value == PIN  # found without its misread label
    assert f["id_number"].source == "ocr"
    assert not f["id_number"].verified
    assert f["full_name"].value == "LÝ THU LINH"  # `l` in capitals mended
    assert not f["full_name"].verified
    assert f["date_of_birth"].value == "1995-08-28"
    assert f["sex"].value == "F"
    assert "sex.vs.pin" in f["sex"].checks_passed
    assert f["residence"].value == "Thôn 7, Ia Dom, Đức Cơ, Gia Lai"


def test_back_with_mrz():
    paper = _only(extract_page(_page(BACK_2021, mrz=MRZ)), "cccd2021_back")
    f = paper.fields
    assert f["id_number"].value == PIN
    assert f["id_number"].source == "mrz"
    assert f["id_number"].verified
    assert {"mrz.check.pin", "mrz.check.docno", "mrz.check.composite"} <= set(
        f["id_number"].checks_passed
    )
    assert f["date_of_birth"].value == "1995-08-28"
    assert f["date_of_birth"].raw == "9508288"  # the MRZ digits and their check
    assert f["expiry_date"].value == "2035-08-28"
    assert f["sex"].value == "F"
    assert f["full_name"].value == "LY THU LINH"
    assert not f["full_name"].verified  # no check digit covers the name
    assert f["issue_date"].value == "2021-10-25"
    assert f["issue_date"].source == "ocr"


def test_both_sides_on_one_photocopy_give_one_paper_per_side():
    page = _page(FRONT_2021 + "\n" + BACK_2021, qr=[QR], mrz=MRZ)
    front, back = extract_page(page)
    assert (front.paper_type, back.paper_type) == ("cccd2021_front", "cccd2021_back")
    assert front.fields["id_number"].source == "qr"
    assert back.fields["id_number"].source == "mrz"
    assert "front.vs.back" in back.fields["id_number"].checks_passed
    # The back's printed issue date is confirmed by the front's QR.
    assert back.fields["issue_date"].verified
    assert back.fields["full_name"].verified
    assert back.fields["full_name"].value == "LÝ THU LINH"  # as the front shows it


def test_mrz_on_a_page_whose_back_text_was_not_read():
    paper = _only(extract_page(_page("", mrz=MRZ)), "cccd2021_back")
    assert paper.fields["id_number"].value == PIN


def test_repaired_mrz_is_still_verified_but_less_sure():
    lines = [MRZ[0].replace("IDVNM", "1DVNM").replace("<<", "«"), MRZ[1], MRZ[2]]
    paper = _only(extract_page(_page(BACK_2021, mrz=lines)), "cccd2021_back")
    assert paper.fields["id_number"].value == PIN
    assert paper.fields["id_number"].confidence < 0.97


def test_mrz_check_failure_is_never_verified():
    lines = [MRZ[0], MRZ[1].replace("950828", "950829"), MRZ[2]]
    paper = _only(extract_page(_page(BACK_2021, mrz=lines)), "cccd2021_back")
    dob = paper.fields["date_of_birth"]
    assert "mrz.check.dob" in dob.checks_failed
    assert not dob.verified
    assert any("mrz.check.dob" in w for w in paper.warnings)


FRONT_2024 = """CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM
CĂN CƯỚC

IDENTITY CARD

Số định danh cá nhân / Personal identification number:
040180528790

Họ, chữ đệm và tên khai sinh / Full name:

LÊ THỊ THU NHUNG
Ngày, tháng, năm sinh / Date of birth: 28/07/1980

đa Giới tính / Sex: Nữ _ Quốc tịch / Nationality: Việt Nam
"""

BACK_2024 = """Nơi cư trú / Place of residence:

Tổ dân phố 8, Chư Ty, Đức Cơ,
Gia Lai

Nơi đăng ký khai sinh / Place of birth:
Hưng Đông, Vinh, Nghệ An

Ngày, tháng, năm cấp / Date of issue: 27/O8/2024
Ngày, tháng, năm hết hạn / Date of expiry: 28/07/2040

BỘ CÔNG AN
MINISTRY OF PUBLIC SECURITY
"""
QR_2024 = (
    "040180528790|LÊ THỊ THU NHUNG|28071980|Nữ|Tổ dân phố 8, Chư Ty, Đức Cơ, Gia Lai"
    "|27082024|"
)


def test_can_cuoc_2024_front_from_print():
    paper = _only(extract_page(_page(FRONT_2024)), "cancuoc2024_front")
    f = paper.fields
    assert f["id_number"].value == "040180528790"
    assert f["full_name"].value == "LÊ THỊ THU NHUNG"
    assert f["date_of_birth"].value == "1980-07-28"
    assert f["sex"].value == "F"
    assert f["nationality"].value == "Việt Nam"


def test_can_cuoc_2024_back_with_qr():
    paper = _only(extract_page(_page(BACK_2024, qr=[QR_2024])), "cancuoc2024_back")
    f = paper.fields
    assert f["id_number"].value == "040180528790"
    assert f["id_number"].source == "qr"
    assert f["residence"].value == "Tổ dân phố 8, Chư Ty, Đức Cơ, Gia Lai"
    assert "qr.vs.ocr" in f["residence"].checks_passed
    assert f["place_of_birth"].value == "Hưng Đông, Vinh, Nghệ An"
    assert f["issue_date"].value == "2024-08-27"
    assert "qr.vs.ocr" in f["issue_date"].checks_passed
    assert f["expiry_date"].value == "2040-07-28"
    assert f["expiry_date"].verified


def test_can_cuoc_2024_both_sides_confirm_the_front():
    page = _page(FRONT_2024 + BACK_2024, qr=[QR_2024])
    front, back = extract_page(page)
    assert front.paper_type == "cancuoc2024_front"
    assert back.fields["id_number"].source == "qr"  # the QR is on the back
    assert front.fields["id_number"].verified
    assert front.fields["full_name"].verified


FORM = """CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM
Độc lập - Tự do - Hạnh phúc

TỜ KHAI THAY ĐỔI THÔNG TIN CƯ TRÚ

Kính gửi: Công an xã la Dom

Họ, chữ đệm và tên: ĐỖ MINH ĐẠT

Ngày, tháng, năm sinh: 28/12/1996

Giới tính: Nam

Số định danh cá nhân: O38096730274

Nơi thường trú: Thôn 2, la Dom, Đức Cơ, Gia Lai

Nơi ở hiện tại: Thôn 2, la Dom, Đức Cơ, Gia Lai

Nghề nghiệp: Buôn bán

Ia Dom, ngày 24 tháng 05 năm 2025
NGƯỜI KẾ KHAI
(Ký, ghi rõ họ tên)

Đỗ Minh Đạt
"""


def test_registration_form():
    paper = _only(extract_page(_page(FORM)), "registration_form")
    f = paper.fields
    assert f["id_number"].value == "038096730274"
    assert "pin.century_sex" in f["id_number"].checks_passed
    assert f["full_name"].value == "ĐỖ MINH ĐẠT"
    assert f["date_of_birth"].value == "1996-12-28"
    assert f["sex"].value == "M"
    assert f["residence"].value == "Thôn 2, Ia Dom, Đức Cơ, Gia Lai"
    assert "issue_date" not in f


def test_cmnd_number_is_the_old_id_number():
    text = """CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM
GIẤY CHỨNG MINH NHÂN DÂN
SỐ 182345678
Họ tên: NGUYỄN VĂN BA
Sinh ngày: 12-03-1975
Nguyên quán: Xã Hưng Đông, TP Vinh, Nghệ An
Nơi ĐKHK thường trú: Xóm 3, Hưng Lộc,
TP Vinh, Nghệ An
"""
    paper = _only(extract_page(_page(text)), "cmnd_front")
    f = paper.fields
    assert f["old_id_number"].value == "182345678"
    assert "cmnd.shape" in f["old_id_number"].checks_passed
    assert "id_number" not in f
    assert f["full_name"].value == "NGUYỄN VĂN BA"
    assert f["date_of_birth"].value == "1975-03-12"
    assert f["place_of_origin"].value == "Xã Hưng Đông, TP Vinh, Nghệ An"
    assert f["residence"].value == "Xóm 3, Hưng Lộc, TP Vinh, Nghệ An"


def test_disagreeing_sources_lower_confidence_and_warn():
    text = FRONT_2021.replace("28/08/l995", "28/08/1996")
    paper = _only(extract_page(_page(text, qr=[QR])), "cccd2021_front")
    dob = paper.fields["date_of_birth"]
    assert dob.value == "1995-08-28"  # the QR wins
    assert "qr.vs.ocr" in dob.checks_failed
    assert not dob.verified
    assert dob.confidence <= 0.6
    assert "date_of_birth: qr and ocr disagree" in paper.warnings


def test_failed_soft_check_is_not_verified_and_warns_without_values():
    bad = "003195221636"  # no province has code 003
    text = FRONT_2021.replace("ss/xo:040195221636", f"Số / No.: {bad}")
    paper = _only(extract_page(_page(text)), "cccd2021_front")
    pin = paper.fields["id_number"]
    assert pin.value == bad
    assert "pin.province" in pin.checks_failed
    assert not pin.verified
    assert "id_number: pin.province failed" in paper.warnings
    assert not any(bad in w or "LINH" in w for w in paper.warnings)


def test_page_with_nothing_identity_like_gives_no_paper():
    text = """ỦY BAN NHÂN DÂN TỈNH GIA LAI
Số: 123/KH-UBND
KẾ HOẠCH
Cải cách thủ tục hành chính năm 2025, người dân chỉ cần căn cước công dân.
Gia Lai, ngày 05 tháng 3 năm 2025
"""
    assert extract_page(_page(text)) == []
    assert extract_page(_page("")) == []


def test_non_id_qr_alone_gives_no_paper():
    assert extract_page(_page("", qr=["https://dichvucong.gov.vn"])) == []


def test_qr_alone_gives_a_card_paper():
    (paper,) = extract_page(_page("", qr=[QR]))
    assert paper.paper_type == "cccd2021_front"
    assert paper.fields["id_number"].value == PIN
    (paper,) = extract_page(_page("", qr=[QR_2024]))
    assert paper.paper_type == "cancuoc2024_back"


def _words(rows):
    """Word boxes for (left, top, text) rows; one Tesseract line per row."""
    words = []
    for number, (left, top, text) in enumerate(rows, 1):
        x = left
        for token in text.split():
            words.append(Word(token, x, top, 20 * len(token), 30, 95.0, number, 1, 1))
            x += 20 * len(token) + 15
    return words


def test_wrapped_address_follows_word_boxes():
    rows = [
        (470, 700, "Họ và tên / Full name: LÝ THU LINH"),
        (470, 800, "Nơi thường trú / Place of residence: Thôn 7, Ia Dom,"),
        (470, 850, "Đức Cơ, Gia Lai"),
        (50, 900, "Có giá trị đến / Date of expiry: 28/08/2035"),
    ]
    (paper,) = extract_page(_page("", words=_words(rows)))
    assert paper.fields["residence"].value == "Thôn 7, Ia Dom, Đức Cơ, Gia Lai"
    assert paper.fields["residence"].confidence == 0.85


def test_line_left_of_the_label_is_not_a_wrapped_address():
    rows = [
        (470, 700, "Họ và tên / Full name: LÝ THU LINH"),
        (470, 800, "Nơi thường trú / Place of residence: Thôn 7, Ia Dom"),
        (50, 850, "Ghi chú ở cột ảnh"),
    ]
    (paper,) = extract_page(_page("", words=_words(rows)))
    assert paper.fields["residence"].value == "Thôn 7, Ia Dom"


def test_extract_papers_keeps_page_order():
    pages = [
        PageEvidence(0, FORM),
        PageEvidence(1, "KẾ HOẠCH"),
        PageEvidence(2, BACK_2021, mrz_lines=MRZ),
    ]
    papers = extract_papers(pages)
    assert [(p.page_index, p.paper_type) for p in papers] == [
        (0, "registration_form"),
        (2, "cccd2021_back"),
    ]


def test_card_without_expiry_has_no_expiry_field():
    text = FRONT_2021.replace(":\n28/08/2035", ": Không thời hạn")
    assert "Date of expiry: Không thời hạn" in text
    paper = _only(extract_page(_page(text)), "cccd2021_front")
    assert "expiry_date" not in paper.fields
    assert not any("expiry" in w for w in paper.warnings)


def test_card_back_without_readable_mrz_still_gives_its_paper():
    (paper,) = extract_page(_page(BACK_2021.split("TDVNM")[0]))
    assert paper.paper_type == "cccd2021_back"
    assert paper.fields["issue_date"].value == "2021-10-25"
    assert "id_number: not found" in paper.warnings


def test_side_whose_number_ocr_missed_takes_the_other_sides_verified_one():
    front = "\n".join(
        line for line in FRONT_2024.splitlines() if "040180528790" not in line
    )
    first, _ = extract_page(_page(front + "\n" + BACK_2024, qr=[QR_2024]))
    assert first.paper_type == "cancuoc2024_front"
    pin = first.fields["id_number"]
    assert (pin.value, pin.source) == ("040180528790", "qr")
    assert "other_side" in pin.checks_passed
    assert "id_number: not found" not in first.warnings
