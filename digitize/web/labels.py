"""Vietnamese wording for the page: paper types, field names, dates; Jinja filters."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment

__all__ = ["FIELD_LABELS", "PAPER_LABELS", "install_filters"]

PAPER_LABELS = {
    "cccd2021_front": "CCCD gắn chip - mặt trước",
    "cccd2021_back": "CCCD gắn chip - mặt sau",
    "cancuoc2024_front": "Thẻ căn cước - mặt trước",
    "cancuoc2024_back": "Thẻ căn cước - mặt sau",
    "cmnd_front": "CMND - mặt trước",
    "cmnd_back": "CMND - mặt sau",
    "registration_form": "Tờ khai (CT01)",
    "id_card": "Giấy tờ tùy thân",
}
FIELD_LABELS = {
    "id_number": "Số định danh",
    "old_id_number": "Số CMND cũ",
    "full_name": "Họ và tên",
    "date_of_birth": "Ngày sinh",
    "sex": "Giới tính",
    "nationality": "Quốc tịch",
    "place_of_origin": "Quê quán",
    "place_of_birth": "Nơi đăng ký khai sinh",
    "residence": "Nơi thường trú",
    "issue_date": "Ngày cấp",
    "expiry_date": "Có giá trị đến",
}
_READ_BY = {"qr": "mã QR", "mrz": "vùng MRZ", "ocr": "chữ in (OCR)"}
_SEX = {"M": "Nam", "F": "Nữ"}


def paper_label(paper_type: str) -> str:
    """`cccd2021_front` -> `CCCD gắn chip - mặt trước`; unknown types as they are."""
    return PAPER_LABELS.get(paper_type, paper_type or "Văn bản")


def field_label(name: str) -> str:
    """The Vietnamese label of an identity field."""
    return FIELD_LABELS.get(name, name)


def dmy(value: Any) -> str:
    """`2024-10-18...` -> `18/10/2024`; anything else as it is."""
    text = str(value or "")
    if len(text) >= 10 and text[4] == "-" and text[7] == "-":
        return f"{text[8:10]}/{text[5:7]}/{text[0:4]}"
    return text


def field_value(name: str, value: str) -> str:
    """A stored field value as printed on papers (dates d/m/y, sex in Vietnamese)."""
    if name == "sex":
        return _SEX.get(value, value)
    if name.endswith("_date") or name == "date_of_birth":
        return dmy(value)
    return value


def ordered_fields(fields: dict[str, Any]) -> list[tuple[str, Any]]:
    """Identity fields in the order printed on a card, unknown names last."""
    order = {name: i for i, name in enumerate(FIELD_LABELS)}
    return sorted(fields.items(), key=lambda item: order.get(item[0], len(order)))


def install_filters(env: Environment) -> None:
    """Register the filters above on a Jinja environment."""
    env.filters.update(
        paper_label=paper_label,
        field_label=field_label,
        dmy=dmy,
        ordered_fields=ordered_fields,
        field_value=field_value,
        read_by=lambda s: _READ_BY.get(s, s),
        sex_vi=lambda s: _SEX.get(s or "", s or "—"),
    )
