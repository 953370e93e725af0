import pytest

from digitize.extract.digits import repair_digits
from digitize.extract.idnumber import (
    check_cmnd,
    check_pin,
    find_number,
    is_known_prefix,
    pin_birth_year,
    pin_century,
    pin_sex,
)

PIN = "038090012345"  # Thanh Hóa, man born in 1990


def test_pin_structure():
    assert pin_century(PIN) == 1900
    assert pin_sex(PIN) == "M"
    assert pin_birth_year(PIN) == 1990
    assert pin_sex("001305012345") == "F"
    assert pin_birth_year("001305012345") == 2005
    assert pin_century("001405012345") == 2100


def test_valid_pin_passes_every_check():
    passed, failed = check_pin(PIN, dob="1990-01-01", sex="M")
    assert passed == ["pin.shape", "pin.province", "pin.century_sex"]
    assert failed == []


@pytest.mark.parametrize("pin", ["03809001234", "0380900123456", "03809001234O", ""])
def test_pin_shape_is_hard(pin):
    assert check_pin(pin) == ([], ["pin.shape"])


def test_unknown_province_is_soft():
    passed, failed = check_pin("003090012345")
    assert "pin.shape" in passed
    assert failed == ["pin.province"]


@pytest.mark.parametrize(
    ("dob", "sex"), [("1991-01-01", "M"), ("1990-01-01", "F"), ("2090-01-01", None)]
)
def test_century_sex_disagreement(dob, sex):
    _, failed = check_pin(PIN, dob=dob, sex=sex)
    assert failed == ["pin.century_sex"]


def test_century_sex_not_run_without_dob_or_sex():
    passed, failed = check_pin(PIN)
    assert "pin.century_sex" not in passed + failed


@pytest.mark.parametrize(
    ("prefix", "known"),
    [("001", True), ("096", True), ("003", False), ("175", True), ("295", True),
     ("296", False), ("099", False)],
)  # fmt: skip
def test_province_and_country_prefixes(prefix, known):
    assert is_known_prefix(prefix + "090012345") is known


def test_cmnd_shape():
    assert check_cmnd("123456789") == (["cmnd.shape"], [])
    assert check_cmnd("111111111") == ([], ["cmnd.shape"])
    assert check_cmnd("12345678") == ([], ["cmnd.shape"])


@pytest.mark.parametrize(
    ("text", "length", "expected"),
    [
        ("Số / No.: 038090012345", 12, PIN),
        ("ss/xo:038090012345", 12, PIN),
        ("Số: O38090Ol2345", 12, PIN),  # look-alike letters inside the number
        ("Số: O38O9OOl2345", 12, None),  # too few real digits to trust
        ("038 090 012345", 12, PIN),
        ("SỐ 123456789", 9, "123456789"),
        ("Số: 12345678", 9, None),
        ("Họ và tên: NGUYỄN VĂN HÙNG", 12, None),
        ("IDVNM0900123451038090012345<<8", 12, None),  # MRZ run is longer
        ("OOlOOlOOlOOl", 12, None),  # letters alone are not a number
    ],
)
def test_find_number(text, length, expected):
    assert find_number(text, length) == expected


def test_repair_digits_maps_look_alikes_only():
    assert repair_digits("O1l|IZSGBgq-x") == "0111125689" + "9" + "-x"
