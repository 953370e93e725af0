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


@dataclass
class _Texts:
    """Free-text parts of the payload with their positions, sorted out at the end."""

    items: list[tuple[int, str]] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)
    sex_at: int = -1


def parse_qr_payload(payload: str) -> QrData | None:
    """Read an ID-card QR payload; None when it holds no 12-digit number."""
    data, texts = QrData(raw=payload), _Texts()
    for index, part in enumerate(nfc(p) for p in payload.split("|")):
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
        data.id_number = part
    elif re.fullmatch(r"\d{9}", part) and data.old_id_number is None:
        data.old_id_number = part
    elif re.fullmatch(r"\d{8}", part) and parse_ddmmyyyy(part):
        texts.dates.append(part)
    elif fold(part) in _SEX and data.sex is None:
        data.sex, texts.sex_at = _SEX[fold(part)], index
    elif re.fullmatch(r"[\d\s]*", part):
        data.extras.append(part)
    else:
        texts.items.append((index, part))


def _assign_dates(data: QrData, dates: list[str]) -> None:
    """First date is the birth, second the issue; swapped if out of order."""
    isos = [iso for iso in (parse_ddmmyyyy(d) for d in dates) if iso]
    if len(isos) >= 2 and isos[0] > isos[1]:
        isos[0], isos[1] = isos[1], isos[0]
    data.date_of_birth = isos[0] if isos else None
    data.issue_date = isos[1] if len(isos) > 1 else None
    data.extras.extend(dates[2:])


def _assign_texts(data: QrData, texts: _Texts) -> None:
    """First name-like text is the name; the address has a comma or a digit."""
    items = list(texts.items)
    name = next((item for item in items if _is_name_like(item[1])), None)
    if name:
        data.full_name = name[1]
        items.remove(name)
    address = next((item for item in items if re.search(r"[,\d]", item[1])), None)
    if address is None:
        address = next((item for item in items if item[0] > texts.sex_at), None)
    if address:
        data.residence = address[1]
        items.remove(address)
    data.extras.extend(text for _, text in items)


def _is_name_like(text: str) -> bool:
    words = text.split()
    return 1 <= len(words) <= 8 and not re.search(r"[\d,;/]", text)
