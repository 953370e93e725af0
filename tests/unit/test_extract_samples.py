"""The varied bench pages: truth that agrees with the rules the extractor checks."""

import pytest

from digitize.extract.idnumber import check_pin, check_tax_code
from samples.papers import date_in_words
from samples.styles import available_families
from samples.varied import CARD_FIELDS, _recipe, make_page, page_count


@pytest.mark.parametrize("index", [6, 16])
def test_pages_come_with_their_truth(index):
    image, truth = make_page(3, index)
    assert truth["dpi"] in (200, 300)
    assert -3.0 <= truth["skew_deg"] <= 3.0
    assert 50 <= truth["jpeg_quality"] <= 90
    assert truth["family"] in available_families()
    assert image.mode == "L"
    for paper in truth["papers"]:
        fields = paper["fields"]
        if paper["type"] in CARD_FIELDS:
            assert set(fields) <= set(CARD_FIELDS[paper["type"]])
        if "id_number" in fields:
            dob, sex = fields["date_of_birth"], fields.get("sex")
            assert check_pin(fields["id_number"], dob=dob, sex=sex)[1] == []
        if "enterprise_code" in fields:
            assert check_tax_code(fields["enterprise_code"])[1] == []


def test_every_twenty_first_page_is_plain():
    assert page_count(200) == 210
    assert _recipe(20) == ("other", "", "")
    assert _recipe(21) == _recipe(0)


@pytest.mark.slow
def test_same_seed_same_page():
    first, second = make_page(5, 1), make_page(5, 1)
    assert first[1] == second[1]
    assert first[0].tobytes() == second[0].tobytes()


def test_dates_in_words():
    assert date_in_words("2019-05-12") == (
        "ngày mười hai, tháng năm, năm hai nghìn không trăm mười chín"
    )
    assert date_in_words("2021-04-25") == (
        "ngày hai mươi lăm, tháng tư, năm hai nghìn không trăm hai mươi mốt"
    )
    assert date_in_words("2005-01-01").endswith("hai nghìn không trăm linh năm")
