"""Fake card holders for the sample dossiers: names, ID numbers, dates, MRZ and QR.

Every person is drawn from a seeded RNG out of common Vietnamese name parts; the ID
number follows the PPP C YY RRRRRR structure of identity-papers.md section 2.
"""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

from digitize.extract.mrz import compose_td1

__all__ = ["Person", "dmy", "fold_name", "make_person"]

_FAMILY = [
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng",
    "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý",
]  # fmt: skip
_MIDDLE = {
    "M": ["Văn", "Hữu", "Đức", "Minh", "Quốc", "Thành", "Công"],
    "F": ["Thị", "Ngọc", "Thu", "Thanh", "Kim", "Mỹ", "Thị Thu"],
}
_GIVEN = {
    "M": ["Hùng", "Dũng", "Tuấn", "Nam", "Long", "Quang", "Phúc", "Đạt", "Hiếu",
          "Trung", "Thắng", "Khánh", "Sơn", "Lộc"],
    "F": ["Hằng", "Lan", "Hương", "Mai", "Thảo", "Trang", "Linh", "Hạnh", "Yến",
          "Phượng", "Nhung", "Ngân", "Duyên", "Thủy"],
}  # fmt: skip

# Place of origin by the province code that starts the ID number (identity-papers.md
# section 2.2): the birth is registered in the province of origin for every fake person.
_ORIGINS = [
    ("064", "Ia Dom, Đức Cơ, Gia Lai"),
    ("064", "Ia Kla, Đức Cơ, Gia Lai"),
    ("038", "Hoằng Lộc, Hoằng Hóa, Thanh Hóa"),
    ("040", "Hưng Đông, Vinh, Nghệ An"),
    ("042", "Thạch Long, Thạch Hà, Hà Tĩnh"),
    ("034", "Vũ Hội, Vũ Thư, Thái Bình"),
    ("051", "Tịnh Khê, Quảng Ngãi, Quảng Ngãi"),
    ("052", "Phước Hưng, Tuy Phước, Bình Định"),
]
_FEATURES = [
    "Nốt ruồi C:1cm trên trước đầu mày trái",
    "Sẹo chấm C:2cm dưới sau mép phải",
    "Nốt ruồi C:1,5cm dưới trước cánh mũi phải",
    "Sẹo chấm C:1cm trên sau đuôi mắt trái",
]
# Renewal ages: Luật CCCD 2014 and Circular 06/2021 for CCCD cards, Law 26/2023
# art. 21 for Căn cước. A 9-digit CMND is valid 15 years from issue (Decree 05/1999).
_THRESHOLDS = {
    "cccd2016": (25, 40, 60),
    "cccd2021": (25, 40, 60),
    "cancuoc2024": (14, 25, 40, 60),
}
_CMND_YEARS = 15
_ISSUE_WINDOWS = {
    "cmnd": (date(2008, 1, 1), date(2015, 12, 31)),
    "cccd2016": (date(2016, 6, 1), date(2020, 12, 31)),
    "cccd2021": (date(2021, 3, 1), date(2023, 12, 31)),
    "cancuoc2024": (date(2024, 7, 1), date(2025, 12, 31)),
}


@dataclass(frozen=True)
class Person:
    """One fake card holder, with the fields truth.json records for them."""

    id_number: str
    old_id_number: str
    full_name: str
    date_of_birth: str
    sex: str
    nationality: str
    place_of_origin: str
    residence: str
    issue_date: str
    expiry_date: str
    card: str
    mrz: list[str]
    qr: str
    features: str

    def to_truth(self) -> dict[str, Any]:
        """The person as truth.json stores it (features are page text only)."""
        data = asdict(self)
        del data["features"]
        return data

    @property
    def sex_vi(self) -> str:
        """Sex as printed on cards and forms."""
        return "Nam" if self.sex == "M" else "Nữ"


def fold_name(name: str) -> str:
    """Upper-case ASCII form of a name: marks dropped, Đ to D."""
    decomposed = unicodedata.normalize("NFD", name.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn").upper()


def dmy(iso: str) -> str:
    """`YYYY-MM-DD` as printed on cards: `dd/mm/yyyy`."""
    year, month, day = iso.split("-")
    return f"{day}/{month}/{year}"


def _random_date(rng: random.Random, first: date, last: date) -> date:
    day = first + timedelta(days=rng.randrange((last - first).days + 1))
    # Keep clear of 29 February so birthdays exist in every year.
    return day.replace(day=min(day.day, 28))


def _card_expiry(dob: date, issued: date, card: str) -> date:
    """Birthday at the next renewal age, skipping one that is under two years away."""
    if card == "cmnd":
        return issued.replace(year=issued.year + _CMND_YEARS)
    for age in _THRESHOLDS[card]:
        birthday = dob.replace(year=dob.year + age)
        if issued < birthday.replace(year=birthday.year - 2):
            return birthday
    raise ValueError("holders are kept under 58 so that every card expires")


def _make_name(rng: random.Random, sex: str) -> str:
    parts = [rng.choice(_FAMILY), rng.choice(_MIDDLE[sex]), rng.choice(_GIVEN[sex])]
    return unicodedata.normalize("NFC", " ".join(parts).upper())


def _make_id_number(rng: random.Random, province: str, dob: date, sex: str) -> str:
    century_sex = (dob.year // 100 - 19) * 2 + (1 if sex == "F" else 0)
    serial = "".join(rng.choice("0123456789") for _ in range(6))
    return f"{province}{century_sex}{dob.year % 100:02d}{serial}"


def _make_old_id(rng: random.Random, dob: date, card: str) -> str:
    # Only people old enough to have held a 9-digit CMND before 2021 get one.
    if card == "cmnd":
        return str(rng.randrange(100_000_000, 999_999_999))
    if dob.year > 2003 or rng.random() < 0.3:
        return ""
    return str(rng.randrange(100_000_000, 999_999_999))


def _mrz_name(full_name: str) -> str:
    family, *rest = re.sub(r"[^A-Z ]", "", fold_name(full_name)).split()
    return family + "<<" + "<".join(rest)


def _qr_payload(person: dict[str, str]) -> str:
    fields = [
        person["id_number"],
        person["old_id_number"],
        person["full_name"],
        dmy(person["date_of_birth"]).replace("/", ""),
        "Nam" if person["sex"] == "M" else "Nữ",
        person["residence"],
        dmy(person["issue_date"]).replace("/", ""),
    ]
    return "|".join(fields)


def make_person(
    rng: random.Random,
    *,
    card: str,
    sex: str,
    residence: str,
    name: str | None = None,
) -> Person:
    """Draw one fake person holding a `card` (cmnd, cccd2016, cccd2021, cancuoc2024).

    `name`, when given, is used instead of drawing one.
    """
    first, last = _ISSUE_WINDOWS[card]
    issued = _random_date(rng, first, last)
    dob = _random_date(rng, date(issued.year - 55, 1, 1), date(issued.year - 18, 1, 1))
    expiry = _card_expiry(dob, issued, card)
    province, origin = rng.choice(_ORIGINS)

    fields = {
        "id_number": _make_id_number(rng, province, dob, sex),
        "old_id_number": _make_old_id(rng, dob, card),
        "full_name": unicodedata.normalize("NFC", name)
        if name
        else _make_name(rng, sex),
        "date_of_birth": dob.isoformat(),
        "sex": sex,
        "nationality": "Việt Nam",
        "place_of_origin": origin,
        "residence": unicodedata.normalize("NFC", residence),
        "issue_date": issued.isoformat(),
        "expiry_date": expiry.isoformat(),
        "card": card,
    }
    mrz = compose_td1(
        id_number=fields["id_number"],
        dob_yymmdd=dob.strftime("%y%m%d"),
        sex=sex,
        expiry_yymmdd=expiry.strftime("%y%m%d"),
        name_mrz=_mrz_name(fields["full_name"]),
    )
    return Person(
        **fields, mrz=mrz, qr=_qr_payload(fields), features=rng.choice(_FEATURES)
    )
