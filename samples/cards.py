"""Both sides of fake chip ID cards (CCCD 2021 and Căn cước 2024) as grey images.

Cards are drawn 1.8 times life size at 300 dpi, as a photocopy enlargement, so that
label text is about 30 px high. Each side returns its image and the lines of text drawn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import qrcode  # type: ignore[import-untyped]  # qrcode ships no type hints
from PIL import Image, ImageDraw, ImageFont

from samples.pages import font, wrap_words
from samples.people import Person, dmy

__all__ = ["CARD_SIZE", "Side", "compose_copy", "draw_card"]

_SCALE = 1.8
CARD_SIZE = (round(85.6 / 25.4 * 300 * _SCALE), round(54 / 25.4 * 300 * _SCALE))
_FACE = 224
_INK = 30
_SHEET = 238  # photocopier grey
_FIELDS_X = 470
_HEADER = [
    ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "sans-bold", 32),
    ("SOCIALIST REPUBLIC OF VIET NAM", "sans", 27),
    ("Độc lập - Tự do - Hạnh phúc", "sans-bold", 30),
    ("Independence - Freedom - Happiness", "sans", 27),
]
_LABEL = ("sans", 30)
_VALUE = ("sans-bold", 38)
_BIG = ("sans-bold", 58)
_NAME = ("sans-bold", 46)
_Part = tuple[str, tuple[str, int]]  # text and its (font kind, size in px)


@dataclass
class Side:
    """One card side being drawn: the image and the text lines put on it."""

    image: Image.Image
    lines: list[str] = field(default_factory=list)
    family: str | None = None
    """Font family (`samples.styles`); None for the first installed fonts."""

    def face(self, style: tuple[str, int]) -> ImageFont.FreeTypeFont:
        """The font of `style` (kind, size in px) in this side's family."""
        return font(style[0], style[1], self.family)

    @property
    def draw(self) -> ImageDraw.ImageDraw:
        """A drawing context on the side's image."""
        return ImageDraw.Draw(self.image)

    def row(self, x: float, baseline: float, parts: list[_Part]) -> None:
        """Draw text parts left to right on one baseline and record them as a line."""
        draw = self.draw
        for text, style in parts:
            face = self.face(style)
            draw.text((x, baseline), text, font=face, fill=_INK, anchor="ls")
            x += face.getlength(text + " ")
        self.lines.append(" ".join(text.strip() for text, _ in parts))

    def centred(
        self, cx: float, baseline: float, text: str, style: tuple[str, int]
    ) -> None:
        """Draw one line centred on `cx` and record it."""
        face = self.face(style)
        self.draw.text((cx, baseline), text, font=face, fill=_INK, anchor="ms")
        self.lines.append(text)


def _blank_side(family: str | None = None) -> Side:
    image = Image.new("L", CARD_SIZE, _FACE)
    draw = ImageDraw.Draw(image)
    width, height = CARD_SIZE
    for y0 in range(40, height, 70):  # faint guilloche behind the print
        points = [(x, y0 + 18 * math.sin(x / 90)) for x in range(0, width, 12)]
        draw.line(points, fill=_FACE - 10, width=2)
    draw.rounded_rectangle((2, 2, width - 3, height - 3), 45, outline=140, width=4)
    return Side(image, family=family)


def _emblem(side: Side, cx: int, cy: int, radius: int) -> None:
    draw = side.draw
    draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=170)
    points = []
    for i in range(10):
        r = radius * (0.55 if i % 2 == 0 else 0.22)
        angle = math.pi / 2 + i * math.pi / 5
        points.append((cx + r * math.cos(angle), cy - r * math.sin(angle)))
    draw.polygon(points, fill=225)


def _photo(side: Side, box: tuple[int, int, int, int]) -> None:
    draw = side.draw
    left, top, right, bottom = box
    draw.rectangle(box, fill=185, outline=120, width=3)
    cx, width = (left + right) / 2, right - left
    head = width * 0.22
    draw.ellipse((cx - head, top + 70, cx + head, top + 70 + 2.5 * head), fill=120)
    draw.chord((left + 25, bottom - 160, right - 25, bottom + 140), 180, 360, fill=120)


def _chip(side: Side, left: int, top: int) -> None:
    draw = side.draw
    draw.rounded_rectangle(
        (left, top, left + 170, top + 130), 18, fill=200, outline=110
    )
    for dx in (57, 113):
        draw.line((left + dx, top, left + dx, top + 130), fill=110, width=3)
    draw.line((left, top + 65, left + 170, top + 65), fill=110, width=3)


def _qr(side: Side, payload: str, right: int, top: int) -> None:
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=6, border=3
    )
    code.add_data(payload.encode("utf-8"))
    code.make(fit=True)
    image = code.make_image().get_image().convert("L")
    side.image.paste(image, (right - image.width, top))


def _signature(side: Side, cx: int, cy: int) -> None:
    draw = side.draw
    draw.ellipse((cx - 95, cy - 95, cx + 95, cy + 95), outline=150, width=5)
    draw.ellipse((cx - 65, cy - 65, cx + 65, cy + 65), outline=150, width=3)
    stroke = [(cx - 40 + t * 2.2, cy + 10 + 28 * math.sin(t / 6)) for t in range(80)]
    draw.line(stroke, fill=60, width=4)


def _fingerprint(side: Side, box: tuple[int, int, int, int], labels: list[str]) -> None:
    draw = side.draw
    left, top, right, bottom = box
    draw.rectangle(box, fill=238, outline=120, width=3)
    cx, cy = (left + right) / 2, (top + bottom) / 2
    for r in range(12, 130, 14):
        draw.ellipse((cx - r * 0.8, cy - r, cx + r * 0.8, cy + r), outline=120, width=3)
    side.centred(cx, bottom + 40, labels[0], ("sans-bold", 26))
    side.centred(cx, bottom + 74, labels[1], ("sans", 26))


def _mrz(side: Side, lines: list[str]) -> None:
    face: ImageFont.FreeTypeFont = font("mono", 86)
    width, height = CARD_SIZE
    x = (width - face.getlength(lines[0])) / 2
    for index, text in enumerate(lines):
        baseline = height - 300 + 100 * index
        side.draw.text((x, baseline), text, font=face, fill=_INK, anchor="ls")
        side.lines.append(text)


def _header(side: Side, cx: int, title: str, subtitle: str) -> None:
    for index, (text, kind, size) in enumerate(_HEADER):
        side.centred(cx, 80 + 40 * index, text, (kind, size))
    side.centred(cx, 275, title, ("sans-bold", 54))
    side.centred(cx, 318, subtitle, ("sans", 30))


def _pair(label: str, value: str = "") -> list[_Part]:
    """Row parts: a small label, then a bold value if there is one."""
    return [(label, _LABEL), (value, _VALUE)] if value else [(label, _LABEL)]


def _sex_and_nationality(person: Person) -> list[_Part]:
    gap = "   "  # drawn wider apart than one space; recorded as one
    return _pair("Giới tính / Sex:", person.sex_vi) + _pair(
        gap + "Quốc tịch / Nationality:", person.nationality
    )


def _wrapped(side: Side, x: int, baseline: int, label: str, value: str) -> int:
    """Label then value on the same line, the rest wrapped below; next baseline."""
    start = x + side.face(_LABEL).getlength(label + " ")
    first, *rest = wrap_words(value, side.face(_VALUE), CARD_SIZE[0] - 40 - start)
    side.row(x, baseline, [(label, _LABEL), (first, _VALUE)])
    remainder = " ".join(rest)
    for text in wrap_words(remainder, side.face(_VALUE), CARD_SIZE[0] - 40 - x):
        baseline += 52
        side.row(x, baseline, [(text, _VALUE)])
    return baseline + 60


def _cccd2021_front(person: Person, family: str | None = None) -> Side:
    side = _blank_side(family)
    _emblem(side, 170, 170, 120)
    _qr(side, person.qr, CARD_SIZE[0] - 40, 40)
    _header(side, 880, "CĂN CƯỚC CÔNG DÂN", "Citizen Identity Card")
    _photo(side, (50, 380, 420, 850))
    x = _FIELDS_X
    side.row(x, 415, [("Số / No.:", _LABEL), (person.id_number, _BIG)])
    side.row(x, 475, _pair("Họ và tên / Full name:"))
    side.row(x, 535, [(person.full_name, _NAME)])
    side.row(x, 600, _pair("Ngày sinh / Date of birth:", dmy(person.date_of_birth)))
    side.row(x, 660, _sex_and_nationality(person))
    side.row(x, 720, _pair("Quê quán / Place of origin:"))
    side.row(x, 775, [(person.place_of_origin, _VALUE)])
    _wrapped(side, x, 840, "Nơi thường trú / Place of residence:", person.residence)
    side.row(50, 1010, [("Có giá trị đến / Date of expiry:", ("sans", 28))])
    side.row(50, 1065, [(dmy(person.expiry_date), _VALUE)])
    return side


def _cccd2021_back(person: Person, family: str | None = None) -> Side:
    side = _blank_side(family)
    side.row(50, 80, _pair("Đặc điểm nhân dạng / Personal identification:"))
    side.row(50, 135, [(person.features, ("sans-bold", 36))])
    issued = dmy(person.issue_date)
    side.row(50, 205, _pair("Ngày, tháng, năm / Date, month, year:", issued))
    side.centred(600, 285, "CỤC TRƯỞNG CỤC CẢNH SÁT", ("sans-bold", 30))
    side.centred(600, 325, "QUẢN LÝ HÀNH CHÍNH VỀ TRẬT TỰ XÃ HỘI", ("sans-bold", 30))
    _chip(side, 70, 400)
    _signature(side, 600, 460)
    _fingerprint(side, (1160, 40, 1450, 400), ["Ngón trỏ trái", "Left index finger"])
    _fingerprint(side, (1490, 40, 1780, 400), ["Ngón trỏ phải", "Right index finger"])
    _mrz(side, person.mrz)
    return side


def _cancuoc2024_front(person: Person, family: str | None = None) -> Side:
    side = _blank_side(family)
    _emblem(side, 170, 170, 120)
    _chip(side, CARD_SIZE[0] - 240, 110)
    _header(side, 900, "CĂN CƯỚC", "IDENTITY CARD")
    _photo(side, (50, 380, 420, 850))
    x = _FIELDS_X
    side.row(x, 415, _pair("Số định danh cá nhân / Personal identification number:"))
    side.row(x, 485, [(person.id_number, _BIG)])
    side.row(x, 555, _pair("Họ, chữ đệm và tên khai sinh / Full name:"))
    side.row(x, 615, [(person.full_name, _NAME)])
    born = dmy(person.date_of_birth)
    side.row(x, 685, _pair("Ngày, tháng, năm sinh / Date of birth:", born))
    side.row(x, 750, _sex_and_nationality(person))
    return side


def _cancuoc2024_back(person: Person, family: str | None = None) -> Side:
    side = _blank_side(family)
    _qr(side, person.qr, CARD_SIZE[0] - 40, 40)
    x = 50
    side.row(x, 80, _pair("Nơi cư trú / Place of residence:"))
    side.row(x, 135, [(person.residence, _VALUE)])
    # The birth is registered where the fake person's family comes from (people.py).
    side.row(x, 205, _pair("Nơi đăng ký khai sinh / Place of birth:"))
    side.row(x, 260, [(person.place_of_origin, _VALUE)])
    issued, expiry = dmy(person.issue_date), dmy(person.expiry_date)
    side.row(x, 330, _pair("Ngày, tháng, năm cấp / Date of issue:", issued))
    side.row(x, 390, _pair("Ngày, tháng, năm hết hạn / Date of expiry:", expiry))
    side.centred(1000, 470, "BỘ CÔNG AN", ("sans-bold", 34))
    side.centred(1000, 510, "MINISTRY OF PUBLIC SECURITY", ("sans", 28))
    _signature(side, 1000, 620)
    _mrz(side, person.mrz)
    return side


_SIDES = {
    ("cccd2021", "front"): _cccd2021_front,
    ("cccd2021", "back"): _cccd2021_back,
    ("cancuoc2024", "front"): _cancuoc2024_front,
    ("cancuoc2024", "back"): _cancuoc2024_back,
}


def draw_card(person: Person, side: str, family: str | None = None) -> Side:
    """Draw the `side` (front or back) of the person's card in font `family`."""
    return _SIDES[(person.card, side)](person, family)


def compose_copy(sides: list[Side], *, on_a4: bool) -> tuple[Image.Image, list[str]]:
    """Photocopy layout: sides stacked on an A4 sheet, or on a margin-wide crop."""
    width, height = CARD_SIZE
    gap = 160
    if on_a4:
        sheet = Image.new("L", (2480, 3508), _SHEET)
        left, top = (2480 - width) // 2, 300
    else:
        sheet = Image.new("L", (width + 2 * 110, len(sides) * (height + gap)), _SHEET)
        left, top = 110, gap // 2
    lines: list[str] = []
    for index, side in enumerate(sides):
        sheet.paste(side.image, (left, top + index * (height + gap)))
        lines += side.lines
    return sheet, lines
