"""ICAO 9303 TD1 machine-readable zone as Vietnamese ID cards fill it.

Line 1 carries the last 9 digits of the personal ID number as document number and the
full 12-digit number in the optional data (positions 16-27) with its own check digit at
position 30; see shared/reference/identity-papers.md section 3.
"""

from __future__ import annotations

__all__ = ["check_digit", "compose_td1"]

_WEIGHTS = (7, 3, 1)


def _char_value(char: str) -> int:
    if char.isdigit():
        return int(char)
    if "A" <= char <= "Z":
        return ord(char) - ord("A") + 10
    if char == "<":
        return 0
    raise ValueError(f"character {char!r} is not allowed in an MRZ")


def check_digit(data: str) -> str:
    """ICAO 7-3-1 check digit of `data` as a one-character string."""
    total = sum(_char_value(c) * _WEIGHTS[i % 3] for i, c in enumerate(data))
    return str(total % 10)


def _pad(text: str, width: int = 30) -> str:
    return (text + "<" * width)[:width]


def compose_td1(
    *,
    id_number: str,
    dob_yymmdd: str,
    sex: str,
    expiry_yymmdd: str,
    name_mrz: str,
) -> list[str]:
    """The three 30-character lines of a Vietnamese chip card's MRZ.

    `name_mrz` is the folded name already in MRZ form, e.g. `NGUYEN<<VAN<A`.
    """
    doc = id_number[3:]
    line1 = _pad(f"IDVNM{doc}{check_digit(doc)}{id_number}<<{check_digit(id_number)}")
    line2 = (
        f"{dob_yymmdd}{check_digit(dob_yymmdd)}{sex}"
        f"{expiry_yymmdd}{check_digit(expiry_yymmdd)}VNM"
    )
    line2 = _pad(line2, 29)
    composite = line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29]
    line2 += check_digit(composite)
    return [line1, line2, _pad(name_mrz)]
