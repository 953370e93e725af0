"""A4 papers that carry a person's identity: birth certificate, CT07, business licence.

Each function returns the typed lines of one page (drawn by `samples.pages`) and the
fields a reader should find on it, keyed by the canonical names of
`digitize.extract.labels`. Layouts follow identity-papers.md sections 1.6-1.8.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from samples.pages import Line, wrap_block
from samples.people import Person, dmy

__all__ = [
    "Child",
    "birth_certificate",
    "business_registration",
    "date_in_words",
    "make_child",
    "make_tax_code",
    "residence_confirmation",
    "tax_check_digit",
]

_HEAD = ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc"]
_CHILD_GIVEN = {
    "M": ["Gia Huy", "Minh Khôi", "Bảo An", "Đức Anh", "Quốc Bảo", "Hoàng Phúc"],
    "F": ["Bảo Ngọc", "Khánh Linh", "Ngọc Hân", "Minh Thư", "Gia Hân", "Thảo Vy"],
}
_BIRTH_PLACES = [
    "Trạm Y tế xã {place}, huyện Đức Cơ, tỉnh Gia Lai",
    "Bệnh viện Đa khoa tỉnh Gia Lai",
    "Trung tâm Y tế huyện Đức Cơ, tỉnh Gia Lai",
]
_DIGIT_WORDS = ["không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín"]
# Weights of the enterprise/tax code check digit (Circular 105/2020, python-stdnum).
_TAX_WEIGHTS = (31, 29, 23, 19, 17, 13, 7, 5, 3)
_TAX_PROVINCES = ("01", "03", "59", "40", "64")
_TRADES = ["THƯƠNG MẠI DỊCH VỤ", "XÂY DỰNG", "NÔNG NGHIỆP", "CÀ PHÊ", "VẬN TẢI"]
_BRANDS = ["HOÀNG LONG", "PHÚC AN", "THÀNH ĐẠT", "IA DOM XANH", "ĐỨC CƠ", "TÂY NGUYÊN"]


@dataclass(frozen=True)
class Child:
    """A fake child on a birth certificate, with the parents' names."""

    id_number: str
    full_name: str
    date_of_birth: str
    sex: str
    place_of_birth: str
    place_of_origin: str
    mother: str
    father: str

    def truth(self) -> dict[str, str]:
        """The child's fields as a reader should find them."""
        return {
            "id_number": self.id_number,
            "full_name": self.full_name,
            "date_of_birth": self.date_of_birth,
            "sex": self.sex,
            "nationality": "Việt Nam",
            "place_of_birth": self.place_of_birth,
            "place_of_origin": self.place_of_origin,
        }


def make_child(rng: random.Random, parent: Person, place: str) -> Child:
    """A child of `parent` born 2016-2024, registered where the parent comes from."""
    sex = rng.choice("MF")
    born = date(2016, 1, 1) + timedelta(days=rng.randrange(9 * 365))
    born = born.replace(day=min(born.day, 28))
    family = parent.full_name.split()[0]
    name = unicodedata.normalize("NFC", f"{family} {rng.choice(_CHILD_GIVEN[sex])}")
    century_sex = 2 + (sex == "F")
    serial = "".join(rng.choice("0123456789") for _ in range(6))
    pin = f"{parent.id_number[:3]}{century_sex}{born.year % 100:02d}{serial}"
    return Child(
        id_number=pin,
        full_name=name.upper(),
        date_of_birth=born.isoformat(),
        sex=sex,
        place_of_birth=rng.choice(_BIRTH_PLACES).format(place=place),
        place_of_origin=parent.place_of_origin,
        mother=parent.full_name if parent.sex == "F" else "TRẦN THỊ LAN",
        father=parent.full_name if parent.sex == "M" else "LÊ VĂN HÙNG",
    )


def _number_words(number: int) -> str:
    """A day (1-31) or a year (1900-2099) in Vietnamese words, as civil papers write."""
    if number >= 1000:
        thousands, rest = divmod(number, 1000)
        hundreds, tens = divmod(rest, 100)
        words = f"{_DIGIT_WORDS[thousands]} nghìn {_DIGIT_WORDS[hundreds]} trăm"
        if 0 < tens < 10:
            return f"{words} linh {_DIGIT_WORDS[tens]}"
        return f"{words} {_number_words(tens)}" if tens else words
    tens, ones = divmod(number, 10)
    head = "mười" if tens == 1 else f"{_DIGIT_WORDS[tens]} mươi" if tens else ""
    if not ones:
        return head
    tail = "lăm" if ones == 5 and tens else "mốt" if ones == 1 and tens > 1 else None
    return " ".join(p for p in (head, tail or _DIGIT_WORDS[ones]) if p)


def date_in_words(iso: str) -> str:
    """`2019-05-12` as `ngày mười hai, tháng năm, năm hai nghìn không trăm ...`."""
    year, month, day = (int(p) for p in iso.split("-"))
    months = "tháng " + ("tư" if month == 4 else _number_words(month))
    return f"ngày {_number_words(day)}, {months}, năm {_number_words(year)}"


def _centred(texts: list[str], *, bold: bool = True, space: float = 0.0) -> list[Line]:
    lines: list[Line] = []
    for index, text in enumerate(texts):
        gap = space if index == 0 else 0.0
        lines += wrap_block(text, align="center", bold=bold, space_before=gap)
    return lines


def _rows(texts: list[str], *, gap: float = 0.35) -> list[Line]:
    lines: list[Line] = []
    for text in texts:
        lines += wrap_block(text, space_before=gap)
    return lines


def birth_certificate(child: Child, *, place: str, rng: random.Random) -> list[Line]:
    """The lines of a Giấy khai sinh (Circular 04/2020 form) of `child`."""
    registered = date.fromisoformat(child.date_of_birth) + timedelta(rng.randrange(60))
    sex = "Nam" if child.sex == "M" else "Nữ"
    lines = _centred(_HEAD)
    lines += _centred(["GIẤY KHAI SINH"], space=1.2)
    lines += _rows([f"Số: {rng.randrange(1, 300)} - Quyển số: 01/{registered.year}"])
    lines += _rows(
        [
            f"Họ, chữ đệm, tên: {child.full_name}",
            f"Ngày, tháng, năm sinh: {dmy(child.date_of_birth)}",
            f"Ghi bằng chữ: {date_in_words(child.date_of_birth)}",
            f"Giới tính: {sex}   Dân tộc: Kinh   Quốc tịch: Việt Nam",
            f"Nơi sinh: {child.place_of_birth}",
            f"Quê quán: {child.place_of_origin}",
            f"Số định danh cá nhân: {child.id_number}",
        ],
        gap=0.5,
    )
    for role, name in (("mẹ", child.mother), ("cha", child.father)):
        lines += _rows(
            [
                f"Họ, chữ đệm, tên người {role}: {name}",
                f"Năm sinh: {rng.randrange(1975, 1998)}   Dân tộc: Kinh"
                "   Quốc tịch: Việt Nam",
                f"Nơi cư trú: Thôn {rng.randrange(1, 9)}, {place}, Đức Cơ, Gia Lai",
            ],
            gap=0.5,
        )
    lines += _rows(
        [
            f"Nơi đăng ký khai sinh: Ủy ban nhân dân xã {place}, huyện Đức Cơ,"
            " tỉnh Gia Lai",
            f"Ngày, tháng, năm đăng ký: {dmy(registered.isoformat())}",
        ],
        gap=0.8,
    )
    lines += wrap_block("NGƯỜI KÝ GIẤY KHAI SINH", align="right", bold=True)
    return lines


def residence_confirmation(
    person: Person, *, place: str, signed: date, rng: random.Random
) -> list[Line]:
    """The lines of a CT07 residence confirmation (Circular 66/2023) of `person`."""
    sex = "Nam" if person.sex == "M" else "Nữ"
    lines = _centred(["CÔNG AN TỈNH GIA LAI", f"CÔNG AN XÃ {place.upper()}"])
    lines += _centred(_HEAD, space=0.6)
    lines += _rows([f"Số: {rng.randrange(10, 999)}/XNCT"])
    lines += _centred(["GIẤY XÁC NHẬN THÔNG TIN VỀ CƯ TRÚ"], space=0.8)
    lines += _rows(
        [
            f"Công an xã {place} xác nhận thông tin về cư trú của công dân như sau:",
            f"1. Họ, chữ đệm và tên: {person.full_name}",
            f"2. Ngày, tháng, năm sinh: {dmy(person.date_of_birth)}",
            f"3. Giới tính: {sex}",
            f"4. Số định danh cá nhân: {person.id_number}",
            "5. Dân tộc: Kinh   6. Tôn giáo: Không   7. Quốc tịch: Việt Nam",
            f"8. Quê quán: {person.place_of_origin}",
            f"9. Nơi thường trú: {person.residence}",
            "10. Nơi tạm trú: Không",
            f"11. Nơi ở hiện tại: {person.residence}",
            f"12. Họ, chữ đệm và tên chủ hộ: {person.full_name}",
            "13. Quan hệ với chủ hộ: Chủ hộ",
            f"14. Số định danh cá nhân của chủ hộ: {person.id_number}",
            "15. Thông tin về các thành viên khác trong hộ gia đình: Không",
            "Giấy xác nhận có giá trị 01 năm kể từ ngày cấp.",
        ],
        gap=0.45,
    )
    when = f"{place}, ngày {signed:%d} tháng {signed:%m} năm {signed:%Y}"
    lines += wrap_block(when, align="right", space_before=1.0)
    lines += wrap_block("TRƯỞNG CÔNG AN XÃ", align="right", bold=True)
    return lines


def tax_check_digit(first_nine: str) -> str | None:
    """Check digit of a tax code's first 9 digits; None when no digit can fit."""
    total = sum(int(d) * w for d, w in zip(first_nine, _TAX_WEIGHTS, strict=True))
    digit = 10 - total % 11
    return None if digit == 10 else str(digit)


def make_tax_code(rng: random.Random) -> str:
    """A 10-digit enterprise code with a valid check digit."""
    while True:
        first = rng.choice(_TAX_PROVINCES) + f"{rng.randrange(1, 10**7):07d}"
        digit = tax_check_digit(first)
        if digit is not None:
            return first + digit


def business_registration(
    person: Person, *, rng: random.Random
) -> tuple[list[Line], dict[str, Any]]:
    """Lines of an enterprise registration certificate owned by `person`, and truth."""
    code = make_tax_code(rng)
    name = f"CÔNG TY TNHH {rng.choice(_TRADES)} {rng.choice(_BRANDS)}"
    first = date(2015, 1, 1) + timedelta(days=rng.randrange(3000))
    sex = "Nam" if person.sex == "M" else "Nữ"
    issued = dmy(person.issue_date)
    lines = _centred(["SỞ KẾ HOẠCH VÀ ĐẦU TƯ TỈNH GIA LAI", "PHÒNG ĐĂNG KÝ KINH DOANH"])
    lines += _centred(_HEAD, space=0.6)
    lines += _centred(["GIẤY CHỨNG NHẬN ĐĂNG KÝ DOANH NGHIỆP"], space=0.8)
    lines += _centred(["CÔNG TY TRÁCH NHIỆM HỮU HẠN MỘT THÀNH VIÊN"], bold=False)
    lines += _rows(
        [
            f"Mã số doanh nghiệp: {code}",
            f"Đăng ký lần đầu: ngày {first:%d} tháng {first:%m} năm {first:%Y}",
            "1. Tên công ty",
            f"Tên công ty viết bằng tiếng Việt: {name}",
            "2. Địa chỉ trụ sở chính",
            person.residence,
            f"3. Vốn điều lệ: {rng.randrange(1, 20) * 100}.000.000 đồng",
            "4. Thông tin về chủ sở hữu",
            f"Họ và tên: {person.full_name}   Giới tính: {sex}",
            f"Sinh ngày: {dmy(person.date_of_birth)}   Dân tộc: Kinh"
            "   Quốc tịch: Việt Nam",
            "Loại giấy tờ pháp lý của cá nhân: Căn cước công dân",
            f"Số giấy tờ pháp lý của cá nhân: {person.id_number}",
            f"Ngày cấp: {issued}   Nơi cấp: Cục Cảnh sát quản lý hành chính"
            " về trật tự xã hội",
            f"Địa chỉ thường trú: {person.residence}",
        ],
        gap=0.45,
    )
    lines += wrap_block("TRƯỞNG PHÒNG", align="right", bold=True, space_before=1.0)
    truth = {
        "enterprise_code": code,
        "company_name": name,
        "full_name": person.full_name,
        "date_of_birth": person.date_of_birth,
        "sex": person.sex,
        "id_number": person.id_number,
        "residence": person.residence,
    }
    return lines, truth
