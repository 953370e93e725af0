"""A typed residence form (mẫu CT01) filled in with a fake card holder's identity."""

from __future__ import annotations

import random
from datetime import date

from samples.pages import Line, wrap_block
from samples.people import Person, dmy

__all__ = ["form_lines"]

_JOBS = ["Làm nông", "Buôn bán", "Công nhân", "Giáo viên", "Lao động tự do"]
_REQUEST = "Điều chỉnh thông tin về nơi ở hiện tại."


def _fields(person: Person, rng: random.Random) -> list[str]:
    return [
        f"Họ, chữ đệm và tên: {person.full_name}",
        f"Ngày, tháng, năm sinh: {dmy(person.date_of_birth)}",
        f"Giới tính: {person.sex_vi}",
        f"Số định danh cá nhân: {person.id_number}",
        f"Nơi thường trú: {person.residence}",
        f"Nơi ở hiện tại: {person.residence}",
        f"Nghề nghiệp: {rng.choice(_JOBS)}",
        "Mối quan hệ với chủ hộ: Chủ hộ",
        f"Nội dung đề nghị: {_REQUEST}",
        "Những thành viên trong hộ gia đình cùng thay đổi: Không",
    ]


def form_lines(
    person: Person, *, place: str, authority: str, signed: date, rng: random.Random
) -> list[Line]:
    """Lines of a one-page CT01 form signed by `person` at `place` on `signed`."""
    lines = wrap_block("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", align="center", bold=True)
    lines += wrap_block("Độc lập - Tự do - Hạnh phúc", align="center", bold=True)
    lines += wrap_block(
        "TỜ KHAI THAY ĐỔI THÔNG TIN CƯ TRÚ", align="center", bold=True, space_before=1.5
    )
    lines += wrap_block(f"Kính gửi: {authority}", align="center", space_before=0.5)
    for index, text in enumerate(_fields(person, rng)):
        lines += wrap_block(text, space_before=1.0 if index == 0 else 0.4)

    when = f"{place}, ngày {signed:%d} tháng {signed:%m} năm {signed:%Y}"
    lines += wrap_block(when, align="right", space_before=1.5)
    lines += wrap_block("NGƯỜI KÊ KHAI", align="right", bold=True)
    lines += wrap_block("(Ký, ghi rõ họ tên)", align="right")
    lines += wrap_block(person.full_name.title(), align="right", space_before=2.5)
    return lines
