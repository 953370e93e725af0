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
    "find_number",
    "is_known_prefix",
    "pin_birth_year",
    "pin_century",
    "pin_sex",
]

# Birth-registration codes of the 63 provinces (Circular 07/2016 annex).
_PROVINCES_63 = frozenset(
    "001 002 004 006 008 010 011 012 014 015 017 019 020 022 024 025 026 027 030 031"
    " 033 034 035 036 037 038 040 042 044 045 046 048 049 051 052 054 056 058 060 062"
    " 064 066 067 068 070 072 074 075 077 079 080 082 083 084 086 087 089 091 092 093"
    " 094 095 096".split()
)
# Codes of the 34 provinces after the 1 Jul 2025 mergers (Decision 19/2025/QĐ-TTg);
# PINs created after that date presumably carry them.
_PROVINCES_34 = frozenset(
    "001 004 008 011 012 014 015 019 020 022 024 025 031 033 037 038 040 042 044 046"
    " 048 051 052 056 066 068 075 079 080 082 086 091 092 096".split()
)
# Births registered abroad use country codes 101-295.
_ABROAD = range(101, 296)
_RUN = re.compile(rf"{DIGITISH}+(?: {DIGITISH}+)*")


def find_number(text: str, length: int) -> str | None:
    """The first run of exactly `length` digits in `text`, OCR look-alikes repaired.

    Letters count as digits only inside a run that is mostly real digits, and groups
    split by single spaces (`001 090 012345`) are joined.
    """
    for match in _RUN.finditer(text):
        for run in _candidate_runs(match.group(0)):
            digits = repair_digits(run)
            if len(digits) == length and digits.isdigit():
                if count_digits(run) * 4 >= length * 3:
                    return digits
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
    passed, failed = ["pin.shape"], []
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
