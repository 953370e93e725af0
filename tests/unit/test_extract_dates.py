import pytest

from digitize.extract.dates import (
    date_precision,
    make_iso,
    parse_date,
    parse_ddmmyyyy,
    parse_yymmdd,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("01/01/1990", "1990-01-01"),
        ("Ngày sinh / Date of birth: 28/08/1995", "1995-08-28"),
        ("15-03-2021", "2021-03-15"),
        ("15.03.2021", "2021-03-15"),
        ("15 03 2021", "2021-03-15"),
        ("15 / 03 / 2021", "2021-03-15"),
        ("0l/O1/199O", "1990-01-01"),  # l and O inside the numbers
        ("2l/09/2O21", "2021-09-21"),
        ("01l01l1990", "1990-01-01"),  # slashes read as l
        ("28101119", None),  # not a date: day 28, month 10, year 1119 out of range
        ("01011990", "1990-01-01"),
        ("ngày 05 tháng 3 năm 2021", "2021-03-05"),
        ("Ia Dom, ngày 24 tháng 05 năm 2025", "2025-05-24"),
        ("Ngày 5 tháng O3 năm 2O21", "2021-03-05"),
        ("NGAY 5 THANG 3 NAM 2021", "2021-03-05"),
        ("tháng 3 năm 2020", "2020-03"),
        ("03/2020", "2020-03"),
        ("Năm sinh: 1985", "1985"),
        ("29/02/2000", "2000-02-29"),
        ("29/02/2001", None),
        ("31/04/1990", None),
        ("ngày 31 tháng 2 năm 2020", None),
        ("tháng 13 năm 2020", None),
        ("không có ngày", None),
        ("", None),
    ],
)
def test_parse_date(text, expected):
    assert parse_date(text) == expected


def test_parse_date_does_not_read_letters_of_words_as_digits():
    assert parse_date("Số 12, ngõ 5") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("28081995", "1995-08-28"), ("29022000", "2000-02-29"), ("29022001", None),
     ("2808199", None), ("28O81995", None)],
)  # fmt: skip
def test_parse_ddmmyyyy(text, expected):
    assert parse_ddmmyyyy(text) == expected


@pytest.mark.parametrize(
    ("text", "century", "expected"),
    [("900101", 1900, "1990-01-01"), ("050315", 2000, "2005-03-15"),
     ("901301", 1900, None), ("9001O1", 1900, None)],
)  # fmt: skip
def test_parse_yymmdd(text, century, expected):
    assert parse_yymmdd(text, century) == expected


def test_precision_is_kept():
    assert date_precision("1990-01-01") == "day"
    assert date_precision("1990-01") == "month"
    assert date_precision("1990") == "year"


def test_make_iso_rejects_impossible_dates():
    assert make_iso(1990, 2, 30) is None
    assert make_iso(1850) is None
    assert make_iso(1990, 0) is None
    assert make_iso(1990, 12) == "1990-12"
