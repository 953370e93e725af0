import unicodedata

import pytest

from digitize.extract.names import fold, fold_mrz_name, nfc


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Nguyễn\u00a0 Văn   A ", "Nguyễn Văn A"),
        ("HOÀ", "HÒA"),
        ("Hoà,", "Hòa,"),
        ("THUỶ", "THỦY"),
        ("Thuý", "Thúy"),
        ("KHOẺ", "KHỎE"),
        ("QUÝ", "QUÝ"),  # the u of qu is a consonant: the mark stays on y
        ("Hoàng", "Hoàng"),  # closed syllable: never moved
        ("Thuyền", "Thuyền"),
        ("ĐẶNG THỊ HOÀ", "ĐẶNG THỊ HÒA"),
    ],
)
def test_nfc_normalises_spaces_and_tone_placement(raw, expected):
    assert nfc(raw) == expected


def test_nfc_composes_decomposed_input():
    decomposed = unicodedata.normalize("NFD", "Trần Thị Hoà")
    assert nfc(decomposed) == "Trần Thị Hòa"
    assert unicodedata.is_normalized("NFC", nfc(decomposed))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Nguyễn Văn A", "NGUYEN VAN A"),
        ("Đặng Thị  Hoà-Bình!", "DANG THI HOA BINH"),
        ("đường số 12", "DUONG SO 12"),
        (unicodedata.normalize("NFD", "Nguyễn Ngọc Ánh"), "NGUYEN NGOC ANH"),
        ("HÙNG", "HUNG"),
        ("HƯNG", "HUNG"),
        ("Thôn 7, Ia Dom, Đức Cơ", "THON 7 IA DOM DUC CO"),
        ("", ""),
    ],
)
def test_fold(raw, expected):
    assert fold(raw) == expected


def test_fold_is_the_same_for_both_tone_placements():
    assert fold("HOÀ") == fold("HÒA") == "HOA"


def test_fold_mrz_name():
    assert fold_mrz_name("NGUYEN<<VAN<A<<<<<") == "NGUYEN VAN A"
