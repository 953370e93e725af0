"""Paper types beyond the chip cards, validators and repairs added with them."""

import pytest

from digitize.extract import classify_page, extract_page
from digitize.extract.dates import parse_date, parse_date_words
from digitize.extract.idnumber import check_tax_code
from digitize.extract.layout import split_columns
from digitize.extract.lexicon import is_known_word, repair_name
from digitize.extract.names import strip_foreign_marks
from digitize.records import PageEvidence, Word


def _page(text, words=()):
    return PageEvidence(0, text, list(words))


def _types(text):
    return [p.paper_type for p in extract_page(_page(text))]


@pytest.mark.parametrize(
    ("code", "ok"),
    [
        ("0100233488", True),  # identity-papers.md 1.8: 010023348 -> check digit 8
        ("0100233488-001", True),  # a branch
        ("0100233487", False),  # wrong check digit
        ("0100233488-000", False),  # no branch 000
        ("0100000000", False),  # sequence all zero
        ("010023348", False),  # nine digits
    ],
)
def test_tax_code(code, ok):
    passed, failed = check_tax_code(code)
    assert (not failed) is ok
    assert ("mst.check_digit" in passed) is ok


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("130412022", "2022-04-13"),  # one slash read as 1, the other lost
        ("12I03/2002", "2002-03-12"),  # a slash read as I
        ("12I03i2027", "2027-03-12"),
        ("Ngày 20 tháng 12 năm 2008", "2008-12-20"),
        ("Sinh ngày: 03-01-1988", "1988-01-03"),
        ("011011990", None),  # 01/01/1990 or 01/10/1990: two readings, none taken
        ("121112022", "2022-11-12"),  # both readings give the same date
    ],
)
def test_date_slips(text, iso):
    assert parse_date(text) == iso


@pytest.mark.parametrize(
    ("read", "mended", "known"),
    [
        ("NGUYÊN THỊ HÃNG", "NGUYỄN THỊ HẰNG", True),  # issue #4's two slips
        ("LY MỸ NGỌC ANH", "LÝ MỸ NGỌC ANH", True),  # family name without its mark
        ("TRỊNH KHÁNH THỦ NGUYỆT", "TRỊNH KHÁNH THU NGUYỆT", True),
        ("NGUYỄN VĂN NGUYÊN", "NGUYỄN VĂN NGUYÊN", True),  # a real given name stays
        ("KSOR PHIN", "KSOR PHIN", False),  # a Jrai name is left as read
        ("VŨ THÀNH TRƯUNG", "VŨ THÀNH TRƯUNG", False),  # letters differ: not guessed
    ],
)
def test_name_repair(read, mended, known):
    assert repair_name(read) == (mended, known)


def test_name_repair_prefers_a_known_other_reading():
    assert repair_name("ĐỖ VĂN HUNG", ("ĐỖ VĂN HÙNG",)) == ("ĐỖ VĂN HÙNG", True)


def test_known_words_by_place():
    assert is_known_word("Nguyễn", first=True)
    assert not is_known_word("Nguyễn", first=False)
    assert is_known_word("hằng", first=False)


def test_foreign_marks_are_dropped_vietnamese_kept():
    assert strip_foreign_marks("Trung tâm Ÿ tế ö") == "Trung tâm Y tế o"
    assert strip_foreign_marks("Nguyễn Hưởng Đức") == "Nguyễn Hưởng Đức"


CMND_BACK = """Dân tộc: Kinh Tôn giáo: Không
DẤU VẾT RIÊNG VÀ DỊ HÌNH
Sẹo chấm C:1cm trên sau đuôi mắt trái
Ngày 21 tháng 10 năm 2008
GIÁM ĐỐC CA THÁI BÌNH
NGÓN TRỎ TRÁI NGÓN TRỎ PHẢI
"""
CCCD2016_FRONT = """CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM
Độc lập - Tự do - Hạnh phúc
CĂN CƯỚC CÔNG DÂN
Số: 051085571237
Họ và tên:
SIU BLƠNG
Ngày, tháng, năm sinh: 07/08/1985
Giới tính:Nam Quốc tịch: Việt Nam
Quê quán: Tịnh Khê, Quảng Ngãi, Quảng Ngãi
Nơi thường trú: Thôn 5, Ia Kla, Đức Cơ, Gia Lai
Có giá trị đến:
07/08/2025
"""
CCCD2016_BACK = """Đặc điểm nhận dạng:
Nốt ruồi C:1,5cm dưới trước cánh mũi phải
Ngày, tháng, năm: 28/03/2020
CỤC TRƯỞNG CỤC CẢNH SÁT
ĐKQL CƯ TRÚ VÀ DLQG VỀ DÂN CƯ
Ngón trỏ trái Ngón trỏ phải
"""
BIRTH = """CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM
GIẤY KHAI SINH
Số: 238 - Quyển số: 01/2024
Họ, chữ đệm, tên: ĐỖ QUỐC BẢO
Ngày, tháng, năm sinh: 22/04/2024
Giới tính: Nam Dân tộc: Kinh Quốc tịch: Việt Nam
Nơi sinh: Trạm Y tế xã Ia Dom, huyện Đức Cơ, tỉnh Gia Lai
Quê quán: Thạch Long, Thạch Hà, Hà Tĩnh
Số định danh cá nhân: 042224423327
Họ, chữ đệm, tên người mẹ: TRẦN THỊ LAN
Năm sinh: 1987 Dân tộc: Kinh Quốc tịch: Việt Nam
Nơi cư trú: Thôn 6, Ia Dom, Đức Cơ, Gia Lai
"""
CT07 = """GIẤY XÁC NHẬN THÔNG TIN VỀ CƯ TRÚ
1. Họ, chữ đệm và tên: HỒ THỊ THU NHUNG
2. Ngày, tháng, năm sinh: 26/07/1995
3. Giới tính: Nữ
4. Số định danh cá nhân: 042195107129
9. Nơi thường trú: Thôn 4, Ia Kla, Đức Cơ, Gia Lai
12. Họ, chữ đệm và tên chủ hộ: HỒ VĂN NAM
14. Số định danh cá nhân của chủ hộ: 042160000001
"""
BUSINESS = """GIẤY CHỨNG NHẬN ĐĂNG KÝ DOANH NGHIỆP
Mã số doanh nghiệp: 0100233488
Tên công ty viết bằng tiếng Việt: CÔNG TY TNHH CÀ PHÊ THÀNH ĐẠT
2. Địa chỉ trụ sở chính
Thôn 4, Ia Kla, Đức Cơ, Gia Lai
Họ và tên: HOÀNG TRỌNG QUÝ Giới tính: Nam
Sinh ngày: 06/08/1985 Dân tộc: Kinh Quốc tịch: Việt Nam
Số giấy tờ pháp lý của cá nhân: 051085799469
"""


def test_cmnd_back_with_its_issue_date_in_words():
    (paper,) = extract_page(_page(CMND_BACK))
    assert paper.paper_type == "cmnd_back"
    assert paper.fields["issue_date"].value == "2008-10-21"


def test_2016_card_has_no_english():
    (front,) = extract_page(_page(CCCD2016_FRONT))
    assert front.paper_type == "cccd2016_front"
    f = front.fields
    assert f["id_number"].value == "051085571237"
    assert f["full_name"].value == "SIU BLƠNG"  # not a known name: kept as read
    assert (f["date_of_birth"].value, f["sex"].value) == ("1985-08-07", "M")
    assert f["expiry_date"].value == "2025-08-07"
    assert "expiry.vs.dob" in f["expiry_date"].checks_passed
    assert _types(CCCD2016_BACK) == ["cccd2016_back"]


def test_birth_certificate_reads_the_child_not_the_parents():
    (paper,) = extract_page(_page(BIRTH))
    assert paper.paper_type == "birth_certificate"
    f = paper.fields
    assert f["full_name"].value == "ĐỖ QUỐC BẢO"
    assert f["date_of_birth"].value == "2024-04-22"
    assert f["id_number"].value == "042224423327"
    assert "pin.century_sex" in f["id_number"].checks_passed  # 2 = boy born 2000s
    assert f["place_of_birth"].value.startswith("Trạm Y tế xã Ia Dom")
    assert "residence" not in f  # the mother's, not the child's


def test_residence_confirmation_stops_before_the_household_head():
    (paper,) = extract_page(_page(CT07))
    assert paper.paper_type == "residence_confirmation"
    assert paper.fields["full_name"].value == "HỒ THỊ THU NHUNG"
    assert paper.fields["id_number"].value == "042195107129"
    assert paper.fields["sex"].value == "F"


def test_business_registration_code_is_verified_by_its_check_digit():
    (paper,) = extract_page(_page(BUSINESS))
    assert paper.paper_type == "business_registration"
    f = paper.fields
    assert f["enterprise_code"].value == "0100233488"
    assert f["enterprise_code"].verified
    assert f["company_name"].value == "CÔNG TY TNHH CÀ PHÊ THÀNH ĐẠT"
    assert f["id_number"].value == "051085799469"
    assert f["full_name"].value == "HOÀNG TRỌNG QUÝ"


def test_wrong_enterprise_code_is_never_verified():
    (paper,) = extract_page(_page(BUSINESS.replace("0100233488", "0100233487")))
    code = paper.fields["enterprise_code"]
    assert "mst.check_digit" in code.checks_failed
    assert not code.verified


def test_plain_page_is_other():
    assert classify_page(_page("KẾ HOẠCH\nCải cách thủ tục hành chính năm 2025")) == [
        "other"
    ]


def test_lost_name_label_on_a_cmnd_front():
    text = (
        "CHỨNG MINH NHÂN DÂN\nSỐ 91 5044777\n"
        "nọ te: HỒ ĐỨC THÀNH HƯNG\nSinh ngày: 03-01-1988"
    )
    (paper,) = extract_page(_page(text))
    assert paper.fields["old_id_number"].value == "915044777"  # number split by OCR
    assert paper.fields["full_name"].value == "HỒ ĐỨC THÀNH HƯNG"
    assert not paper.fields["full_name"].verified


def _row_words(rows, block):
    words = []
    for number, (left, top, text) in enumerate(rows, 1):
        x = left
        for token in text.split():
            words.append(
                Word(token, x, top, 20 * len(token), 30, 95.0, block, 1, number)
            )
            x += 20 * len(token) + 15
    return words


FRONT_ROWS = [
    (100, 100, "CĂN CƯỚC CÔNG DÂN"),
    (100, 160, "Số / No.: 064090012345"),
    (100, 220, "Họ và tên / Full name: NGUYỄN VĂN HÙNG"),
    (100, 280, "Ngày sinh / Date of birth: 12/05/1990"),
    (100, 340, "Nơi thường trú / Place of residence: Thôn 5, Ia Kla,"),
    (100, 380, "Đức Cơ, Gia Lai"),
]
BACK_ROWS = [
    (1400, 100, "Đặc điểm nhân dạng / Personal identification:"),
    (1400, 160, "Nốt ruồi C:1cm trên trước đầu mày trái"),
    (1400, 220, "Ngày, tháng, năm / Date, month, year: 25/10/2021"),
    (1400, 300, "CỤC TRƯỞNG CỤC CẢNH SÁT"),
]


def test_side_by_side_card_is_cut_into_columns():
    # Tesseract lists the back's lines between the front's (one block per row).
    front, back = _row_words(FRONT_ROWS, 1), _row_words(BACK_ROWS, 2)
    words = front[:14] + back + front[14:]
    assert len(split_columns(words)) == 2
    papers = extract_page(_page("", words))
    assert [p.paper_type for p in papers] == ["cccd2021_front", "cccd2021_back"]
    assert papers[0].fields["residence"].value == "Thôn 5, Ia Kla, Đức Cơ, Gia Lai"
    assert papers[1].fields["issue_date"].value == "2021-10-25"


def test_one_card_is_not_cut():
    assert len(split_columns(_row_words(FRONT_ROWS, 1))) == 1


@pytest.mark.parametrize(
    ("words", "iso"),
    [
        ("ngày mười hai, tháng năm, năm hai nghìn không trăm mười chín", "2019-05-12"),
        ("ngày hai mươi lăm, tháng tư, năm hai nghìn không trăm hai mươi mốt",
         "2021-04-25"),
        ("ngày ba mươi mốt, tháng mười hai, năm một nghìn chín trăm chín mươi chín",
         "1999-12-31"),
        ("ngày mồng một, tháng một, năm hai nghìn", None),  # `mồng` is not read
        ("ngày ba mươi, tháng hai, năm hai nghìn không trăm linh năm", None),  # 30 Feb
    ],
)  # fmt: skip
def test_date_in_words(words, iso):
    assert parse_date_words(words) == iso


WORDS = (
    "Ghi bằng chữ: ngày hai mươi hai, tháng tư, năm hai nghìn không trăm hai\nmươi bốn"
)


def test_birth_date_in_digits_confirmed_by_words():
    text = BIRTH.replace("Giới tính:", WORDS + "\nGiới tính:")
    (paper,) = extract_page(_page(text))
    dob = paper.fields["date_of_birth"]
    assert "digits.vs.words" in dob.checks_passed
    assert dob.verified


def test_birth_date_words_disagreeing_are_not_verified():
    text = BIRTH.replace(
        "Giới tính:", WORDS.replace("hai mươi hai", "hai mươi ba") + "\nGiới tính:"
    )
    (paper,) = extract_page(_page(text))
    dob = paper.fields["date_of_birth"]
    assert "digits.vs.words" in dob.checks_failed
    assert not dob.verified


def test_residence_stops_at_the_temporary_residence_line():
    text = CT07.replace(
        "9. Nơi thường trú: Thôn 4, Ia Kla, Đức Cơ, Gia Lai",
        "9. Nơi thường trú: Thôn 4, 1a Kla, Đức Cơ, Gia Lai\n10. Nơi tạm trú: Không",
    )
    (paper,) = extract_page(_page(text))
    assert paper.fields["residence"].value == "Thôn 4, Ia Kla, Đức Cơ, Gia Lai"
