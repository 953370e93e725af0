"""Personal identification numbers: the 12-digit PIN and the 9-digit CMND.

The PIN is `PPP C YY RRRRRR` (identity-papers.md section 2): only its shape is a hard
rule; province, century/sex and birth year are soft checks, as the circular that
published the structure has expired.
"""

from __future__ import annotations

import re

from digitize.extract.digits import DIGITISH, count_digits, repair_digits

__all__ = [
    "check_cmnd",
    "check_pin",
    "check_tax_code",
    "find_number",
    "is_known_prefix",
    "pin_birth_year",
    "pin_century",
    "pin_sex",
]

# Birth-registration codes of the 63 provinces (Circular 07/2016 annex).
_PROVINCES_63 = frozenset(
    f"{code:03d}"
    for code in (
        1, 2, 4, 6, 8, 10, 11, 12, 14, 15, 17, 19, 20, 22, 24, 25, 26, 27, 30, 31,
        33, 34, 35, 36, 37, 38, 40, 42, 44, 45, 46, 48, 49, 51, 52, 54, 56, 58, 60,
        62, 64, 66, 67, 68, 70, 72, 74, 75, 77, 79, 80, 82, 83, 84, 86, 87, 89, 91,
        92, 93, 94, 95, 96,
    )
)  # fmt: skip
# Codes of the 34 provinces after the 1 Jul 2025 mergers (Decision 19/2025/QĐ-TTg);
# PINs created after that date presumably carry them.
_PROVINCES_34 = frozenset(
    f"{code:03d}"
    for code in (
        1, 4, 8, 11, 12, 14, 15, 19, 20, 22, 24, 25, 31, 33, 37, 38, 40, 42, 44, 46,
        48, 51, 52, 56, 66, 68, 75, 79, 80, 82, 86, 91, 92, 96,
    )
)  # fmt: skip
# Births registered abroad use country codes 101-295.
_ABROAD = range(101, 296)
_RUN = re.compile(rf"{DIGITISH}+(?: {DIGITISH}+)*")
# Weights of the enterprise (tax) code check digit: Circular 105/2020/TT-BTC art. 5,
# as python-stdnum's stdnum/vn/mst.py computes it.
_TAX_WEIGHTS = (31, 29, 23, 19, 17, 13, 7, 5, 3)


def find_number(text: str, length: int) -> str | None:
    """The first run of exactly `length` digits in `text`, OCR look-alikes repaired.

    Letters count as digits only inside a run that is mostly real digits, and groups
    split by single spaces (`001 090 012345`) are joined.
    """
    for match in _RUN.finditer(text):
        for run in _candidate_runs(match.group(0)):
            digits = repair_digits(run)
            mostly_real = count_digits(run) * 4 >= length * 3
            if len(digits) == length and digits.isdigit() and mostly_real:
                return digits
            if len(run) == length + 1 and count_digits(run) == length:
                return re.sub(r"[^0-9]", "", run)  # one stray letter: `0B51166601984`
    return None


def _candidate_runs(run: str) -> list[str]:
    """The run with its spaces removed, then each of its space-separated parts."""
    parts = run.split(" ")
    return ["".join(parts), *parts] if len(parts) > 1 else parts


def is_known_prefix(pin: str) -> bool:
    """True when the first three digits are a province or a country code."""
    prefix = pin[:3]
    if prefix in _PROVINCES_63 or prefix in _PROVINCES_34:
        return True
    return prefix.isdigit() and int(prefix) in _ABROAD


def pin_century(pin: str) -> int:
    """First year of the birth century encoded by digit 4 (`0`/`1` -> 1900)."""
    return 1900 + 100 * (int(pin[3]) // 2)


def pin_sex(pin: str) -> str:
    """Sex encoded by digit 4: `M` for even, `F` for odd."""
    return "F" if int(pin[3]) % 2 else "M"


def pin_birth_year(pin: str) -> int:
    """Birth year encoded by digits 4-6."""
    return pin_century(pin) + int(pin[4:6])


def check_pin(
    pin: str, *, dob: str | None = None, sex: str | None = None
) -> tuple[list[str], list[str]]:
    """Run the PIN checks; return the names of those passed and those failed.

    `pin.shape` is hard (12 ASCII digits); `pin.province` and `pin.century_sex`
    (digits 4-6 against the birth year of `dob` and against `sex`) are soft.
    """
    if not re.fullmatch(r"[0-9]{12}", pin):
        return [], ["pin.shape"]
    passed: list[str] = ["pin.shape"]
    failed: list[str] = []
    (passed if is_known_prefix(pin) else failed).append("pin.province")
    if dob or sex:
        year_ok = not dob or int(dob[:4]) == pin_birth_year(pin)
        sex_ok = not sex or sex == pin_sex(pin)
        (passed if year_ok and sex_ok else failed).append("pin.century_sex")
    return passed, failed


def check_cmnd(number: str) -> tuple[list[str], list[str]]:
    """Check a 9-digit CMND: nine ASCII digits, not all the same digit."""
    if re.fullmatch(r"[0-9]{9}", number) and len(set(number)) > 1:
        return ["cmnd.shape"], []
    return [], ["cmnd.shape"]


def check_tax_code(code: str) -> tuple[list[str], list[str]]:
    """Check a 10-digit enterprise code (or 13 with a `-NNN` branch suffix).

    `mst.shape`: ten digits, sequence part N3-N9 not all zero, branch not `000`;
    `mst.check_digit`: N10 is `10 - (sum of weighted N1-N9 mod 11)`, a result of 10
    never being valid. Both are hard: a code failing either is wrong.
    """
    match = re.fullmatch(r"([0-9]{10})(?:-([0-9]{3}))?", code)
    if not match or match.group(1)[2:9] == "0000000" or match.group(2) == "000":
        return [], ["mst.shape"]
    digits = match.group(1)
    total = sum(int(d) * w for d, w in zip(digits[:9], _TAX_WEIGHTS, strict=True))
    if str(10 - total % 11) == digits[9]:
        return ["mst.shape", "mst.check_digit"], []
    return ["mst.shape"], ["mst.check_digit"]
