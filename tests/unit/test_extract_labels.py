import pytest

from digitize.extract.labels import FIELD_LABELS, find_labels, units_of
from digitize.extract.layout import Line, split_papers


def _fields(line: str) -> list[tuple[str, bool]]:
    return [(h.field, h.english) for h in find_labels(units_of(line.split()))]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Số / No.: 038090012345", [("id_number", False), ("id_number", True)]),
        ("Họ và tên / Full name:", [("full_name", False), ("full_name", True)]),
        (
            "Giới tính / Sex: Nam Quốc tịch / Nationality: Việt Nam",
            [("sex", False), ("sex", True), ("nationality", False),
             ("nationality", True)],
        ),
        # The longest label wins: expiry, not the issue date's `Ngày, tháng, năm`.
        (
            "Ngày, thảng, năm hết han / Date of expiry: 01/01/2030",
            [("expiry_date", False), ("expiry_date", True)],
        ),
        ("Ngày, tháng, năm / Date, month, year: 10/08/2021",
         [("issue_date", False), ("issue_date", True)]),
        ("Ngàv, thảng, nam sinh / Date ot birth: 12/03/1990",
         [("date_of_birth", False), ("date_of_birth", True)]),
        ("Họ, chữ đệm và tên: ĐỖ MINH ĐẠT", [("full_name", False)]),
        ("Nơi thườngtrú/Place of residence:",
         [("residence", False), ("residence", True)]),
        ("Đặc điểm nhân dạng / Personal identification:", [("", False)] * 2),
        ("SỐ 123456789", [("id_number", False)]),
    ],
)  # fmt: skip
def test_labels_found(line, expected):
    assert _fields(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        "Số 12, ngõ 5",  # a house number, not the `Số` label
        "NGUYỄN QUANG HẢI",  # looks like `Nguyên quán` but has no separator
        "Họ và tên: NGUYỄN QUÂN",
        "Hà Nội, ngày 05 tháng 3 năm 2024",
    ],
)
def test_values_are_not_taken_for_labels(line):
    assert [f for f, _ in _fields(line) if f != "full_name"] == []


def test_every_field_has_vietnamese_labels():
    assert set(FIELD_LABELS) == {
        "id_number", "old_id_number", "full_name", "date_of_birth", "sex",
        "nationality", "place_of_origin", "place_of_birth", "residence",
        "issue_date", "expiry_date", "enterprise_code", "company_name",
    }  # fmt: skip
    assert all(vi for vi, _ in FIELD_LABELS.values())


def _lines(text: str) -> list[Line]:
    return [Line(row.split()) for row in text.splitlines() if row.strip()]


def test_front_and_back_on_one_page_are_two_papers():
    text = """CĂN CƯỚC CÔNG DÂN
Citizen Identity Card
Họ và tên / Full name:
Quê quán / Place of origin:
Đặc điểm nhân dạng / Personal identification:
Ngón trỏ trái Ngón trỏ phải
TDVNM1952216367040195221636<<9"""
    segments = split_papers(_lines(text))
    assert [s.paper_type for s in segments] == ["cccd2021_front", "cccd2021_back"]
    assert len(segments[0].lines) == 4


def test_two_card_fronts_on_one_page():
    card = """CĂN CƯỚC CÔNG DÂN
Họ và tên / Full name:
Quê quán / Place of origin:
Nơi thường trú / Place of residence:
"""
    segments = split_papers(_lines(card + card))
    assert [s.paper_type for s in segments] == ["cccd2021_front"] * 2


@pytest.mark.parametrize(
    ("text", "paper_type"),
    [
        ("CĂN CƯỚC\nIDENTITY CARD\nSố định danh cá nhân / Personal identification "
         "number:", "cancuoc2024_front"),
        ("Nơi cư trú / Place of residence:\nNơi đăng ký khai sinh / Place of birth:\n"
         "BỘ CÔNG AN", "cancuoc2024_back"),
        ("CHỨNG MINH NHÂN DÂN\nSỐ 123456789\nNguyên quán: Hà Nội", "cmnd_front"),
        ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nTỜ KHAI THAY ĐỔI THÔNG TIN CƯ TRÚ\n"
         "Họ, chữ đệm và tên: A", "registration_form"),
    ],
)  # fmt: skip
def test_paper_types(text, paper_type):
    assert [s.paper_type for s in split_papers(_lines(text))] == [paper_type]
