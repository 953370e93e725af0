"""The `|`-separated QR payload of chip CCCD (2021) and Căn cước (2024) cards.

Field order differs between the two cards and is not officially published for 2024, so
fields are recognised by shape: 12 digits (PIN), 9 digits (old CMND), 8-digit dates
(birth, then issue), `Nam`/`Nữ`, a name, an address; anything else is kept as extra.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from digitize.extract.dates import parse_ddmmyyyy
from digitize.extract.names import fold, nfc

__all__ = ["QrData", "parse_qr_payload"]

_SEX = {"NAM": "M", "NU": "F"}


@dataclass
class QrData:
    """What a card's QR payload says; None where the payload lacks the field."""

    raw: str
    id_number: str | None = None
    old_id_number: str | None = None
    full_name: str | None = None
    date_of_birth: str | None = None
    sex: str | None = None
    residence: str | None = None
    issue_date: str | None = None
    extras: list[str] = field(default_factory=list)
    parts: dict[str, str] = field(default_factory=dict)  # field -> payload part read
    card: str = "cccd2021"  # `cancuoc2024` when the name follows the number


@dataclass
class _Texts:
    """Free-text parts of the payload with their positions, sorted out at the end."""

    items: list[tuple[int, str]] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)
    sex_at: int = -1


def parse_qr_payload(payload: str) -> QrData | None:
    """Read an ID-card QR payload; None when it holds no 12-digit number."""
    data, texts = QrData(raw=payload), _Texts()
    parts = payload.split("|")
    # The chip CCCD keeps slot 2 for the old CMND (9 digits or empty); Căn cước 2024
    # payloads seen so far go on with the name.
    if len(parts) > 1 and not re.fullmatch(r"\s*(\d{9})?\s*", parts[1]):
        data.card = "cancuoc2024"
    for index, part in enumerate(nfc(p) for p in parts):
        if part:
            _take_part(data, texts, index, part)
    if data.id_number is None:
        return None
    _assign_dates(data, texts.dates)
    _assign_texts(data, texts)
    return data


def _take_part(data: QrData, texts: _Texts, index: int, part: str) -> None:
    """Put one non-empty payload part where its shape says it belongs."""
    if re.fullmatch(r"\d{12}", part) and data.id_number is None:
        data.id_number = data.parts["id_number"] = part
    elif re.fullmatch(r"\d{9}", part) and data.old_id_number is None:
        data.old_id_number = data.parts["old_id_number"] = part
    elif re.fullmatch(r"\d{8}", part) and parse_ddmmyyyy(part):
        texts.dates.append(part)
    elif fold(part) in _SEX and data.sex is None:
        data.sex, texts.sex_at = _SEX[fold(part)], index
        data.parts["sex"] = part
    elif re.fullmatch(r"[\d\s]*", part):
        data.extras.append(part)
    else:
        texts.items.append((index, part))


def _assign_dates(data: QrData, dates: list[str]) -> None:
    """Of the first two dates the earlier is the birth, the later the issue."""
    first_two = sorted(dates[:2], key=lambda part: parse_ddmmyyyy(part) or "")
    for name, part in zip(("date_of_birth", "issue_date"), first_two, strict=False):
        setattr(data, name, parse_ddmmyyyy(part))
        data.parts[name] = part
    data.extras.extend(dates[2:])


def _assign_texts(data: QrData, texts: _Texts) -> None:
    """First name-like text is the name; the address has a comma or a digit."""
    items = list(texts.items)
    name = next((item for item in items if _is_name_like(item[1])), None)
    if name:
        data.full_name = data.parts["full_name"] = name[1]
        items.remove(name)
    address = next((item for item in items if re.search(r"[,\d]", item[1])), None)
    if address is None:
        address = next((item for item in items if item[0] > texts.sex_at), None)
    if address:
        data.residence = data.parts["residence"] = address[1]
        items.remove(address)
    data.extras.extend(text for _, text in items)


def _is_name_like(text: str) -> bool:
    words = text.split()
    return 1 <= len(words) <= 8 and not re.search(r"[\d,;/]", text)
