"""Both sides of the older cards: 9-digit CMND and the 2016 barcode CCCD.

Drawn like `samples.cards` (1.8 times life size at 300 dpi), with the labels of
identity-papers.md sections 1.1 and 1.2: no English, no QR code, no MRZ.
"""

from __future__ import annotations

import random

from samples.cards import (
    _BIG,
    _LABEL,
    _NAME,
    _VALUE,
    CARD_SIZE,
    Side,
    _blank_side,
    _emblem,
    _fingerprint,
    _pair,
    _photo,
    _signature,
    _wrapped,
)
from samples.people import Person, dmy

__all__ = ["OLD_SIDES", "draw_old_card"]

_TOP = [
    ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", ("sans-bold", 34)),
    ("Độc lập - Tự do - Hạnh phúc", ("sans-bold", 32)),
]


def _issue_words(iso: str) -> str:
    year, month, day = iso.split("-")
    return f"Ngày {day} tháng {month} năm {year}"


def _province_of(address: str) -> str:
    return address.rsplit(",", 1)[-1].strip().upper()


def _top(side: Side, cx: int, title: str, baseline: int) -> None:
    for index, (text, style) in enumerate(_TOP):
        side.centred(cx, 75 + 45 * index, text, style)
    side.centred(cx, baseline, title, ("sans-bold", 56))


def _barcode(side: Side, left: int, top: int, seed: str) -> None:
    """Bars standing for the undocumented 2016 barcode; they carry no data."""
    rng = random.Random(seed)
    x = left
    draw = side.draw
    while x < left + 520:
        width = rng.choice((3, 3, 6, 9))
        draw.rectangle((x, top, x + width - 1, top + 110), fill=30)
        x += width + rng.choice((3, 6, 6, 9))


def _cmnd_front(person: Person, family: str | None = None) -> Side:
    side = _blank_side(family)
    _emblem(side, 190, 230, 130)
    _top(side, 1080, "CHỨNG MINH NHÂN DÂN", 235)
    _photo(side, (60, 420, 420, 900))
    x = 500
    side.row(x, 345, [("SỐ", ("sans-bold", 52)), (person.old_id_number, _BIG)])
    side.row(x, 450, [("Họ tên:", _LABEL), (person.full_name, _NAME)])
    side.row(x, 520, [("." * 48, _LABEL)])
    side.row(x, 590, _pair("Sinh ngày:", dmy(person.date_of_birth).replace("/", "-")))
    side.row(x, 660, _pair("Nguyên quán:"))
    side.row(x, 720, [(person.place_of_origin, _VALUE)])
    _wrapped(side, x, 800, "Nơi ĐKHK thường trú:", person.residence)
    return side


def _cmnd_back(person: Person, family: str | None = None) -> Side:
    side = _blank_side(family)
    side.row(60, 90, _pair("Dân tộc:", "Kinh") + _pair("   Tôn giáo:", "Không"))
    side.row(60, 160, _pair("DẤU VẾT RIÊNG VÀ DỊ HÌNH"))
    side.row(60, 220, [(person.features, ("sans", 34))])
    _fingerprint(side, (60, 330, 350, 690), ["NGÓN TRỎ TRÁI", "Left index finger"])
    _fingerprint(side, (400, 330, 690, 690), ["NGÓN TRỎ PHẢI", "Right index finger"])
    side.row(900, 430, [(_issue_words(person.issue_date), ("sans", 36))])
    place = _province_of(person.place_of_origin)
    side.centred(1250, 510, f"GIÁM ĐỐC CA {place}", ("sans-bold", 34))
    _signature(side, 1250, 700)
    return side


def _cccd2016_front(person: Person, family: str | None = None) -> Side:
    side = _blank_side(family)
    _emblem(side, 180, 180, 125)
    _top(side, 1020, "CĂN CƯỚC CÔNG DÂN", 225)
    _photo(side, (50, 360, 420, 830))
    side.row(50, 900, [("Có giá trị đến:", ("sans", 28))])
    side.row(50, 955, [(dmy(person.expiry_date), _VALUE)])
    x = 470
    side.row(x, 330, [("Số:", _LABEL), (person.id_number, _BIG)])
    side.row(x, 410, _pair("Họ và tên:"))
    side.row(x, 470, [(person.full_name, _NAME)])
    born = dmy(person.date_of_birth)
    side.row(x, 540, _pair("Ngày, tháng, năm sinh:", born))
    gap = "   "
    side.row(
        x,
        605,
        _pair("Giới tính:", person.sex_vi) + _pair(gap + "Quốc tịch:", "Việt Nam"),
    )
    side.row(x, 670, _pair("Quê quán:", person.place_of_origin))
    _wrapped(side, x, 740, "Nơi thường trú:", person.residence)
    return side


def _cccd2016_back(person: Person, family: str | None = None) -> Side:
    side = _blank_side(family)
    _barcode(side, CARD_SIZE[0] - 600, 40, person.id_number)
    side.row(50, 90, _pair("Đặc điểm nhận dạng:"))
    side.row(50, 150, [(person.features, ("sans-bold", 34))])
    issued = dmy(person.issue_date)
    side.row(50, 230, _pair("Ngày, tháng, năm:", issued))
    side.centred(560, 320, "CỤC TRƯỞNG CỤC CẢNH SÁT", ("sans-bold", 30))
    side.centred(560, 360, "ĐKQL CƯ TRÚ VÀ DLQG VỀ DÂN CƯ", ("sans-bold", 30))
    _signature(side, 560, 560)
    _fingerprint(side, (1100, 420, 1400, 800), ["Ngón trỏ trái", ""])
    _fingerprint(side, (1450, 420, 1750, 800), ["Ngón trỏ phải", ""])
    return side


OLD_SIDES = {
    ("cmnd", "front"): _cmnd_front,
    ("cmnd", "back"): _cmnd_back,
    ("cccd2016", "front"): _cccd2016_front,
    ("cccd2016", "back"): _cccd2016_back,
}


def draw_old_card(person: Person, side: str, family: str | None = None) -> Side:
    """Draw the `side` (front or back) of a CMND or 2016 CCCD in font `family`."""
    return OLD_SIDES[(person.card, side)](person, family)
