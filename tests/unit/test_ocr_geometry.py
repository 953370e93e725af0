"""Orientation and skew decided from the first reading's word boxes (digitize.ocr)."""

from __future__ import annotations

import math
import random

import pytest
from PIL import Image

import digitize.ocr as ocr
from digitize.ocr import ocr_page, sideways_turn, skew_deg, turn_words
from digitize.records import Word
from digitize.tools.tesseract import TsvResult


def _lines(n: int = 6, *, slope_deg: float = 0.0, size=(2480, 3508)) -> list[Word]:
    """Horizontal lines of five words whose bottoms follow `slope_deg`."""
    slope = math.tan(math.radians(slope_deg))
    words = []
    for line in range(n):
        for k in range(5):
            left = 300 + 300 * k
            top = round(400 + 80 * line + slope * (left + 100))
            words.append(Word("chữ", left, top, 200, 40, 95.0, 1, 1, line + 1))
    return words


def test_turn_words_there_and_back():
    words = _lines()
    size = (2480, 3508)
    turned = turn_words(words, 90, size)
    assert turn_words(turned, 270, (size[1], size[0])) == words
    assert turn_words(turn_words(words, 180, size), 180, size) == words


def test_sideways_words_give_the_turn_back():
    size = (2480, 3508)
    # The page lies turned 90 degrees clockwise: lines run top to bottom.
    lying = turn_words(_lines(), 90, size)
    assert all(w.height > w.width for w in lying)
    assert sideways_turn(lying) == 270
    assert sideways_turn(turn_words(_lines(), 270, size)) == 90
    assert sideways_turn(_lines()) == 0


def test_skew_from_the_slope_of_word_lines():
    assert skew_deg(_lines(slope_deg=2.0)) == pytest.approx(2.0, abs=0.05)
    assert skew_deg(_lines(slope_deg=-1.2)) == pytest.approx(-1.2, abs=0.05)
    assert skew_deg(_lines(n=2, slope_deg=3.0)) == 0.0  # too few lines to tell


def _fake_reader(monkeypatch, words: list[Word]) -> list[int]:
    calls: list[int] = []

    def read(image, **_):
        calls.append(1)
        return TsvResult(words, "chữ")

    def no_osd(*_, **__):
        raise AssertionError("an upright or sideways page needs no OSD")

    monkeypatch.setattr(ocr, "ocr_image", read)
    monkeypatch.setattr(ocr, "detect_orientation", no_osd)
    return calls


def test_a_sideways_page_is_turned_without_a_second_reading(settings, monkeypatch):
    image = Image.new("L", (3508, 2480), 255)  # A4 lying on its side
    words = turn_words(_lines(), 90, (2480, 3508))
    calls = _fake_reader(monkeypatch, words)
    page, upright = ocr_page(image, 0, 300, settings)
    assert page.rotation_deg == 270 and upright.size == (2480, 3508)
    assert calls == [1]
    assert sideways_turn(page.words) == 0


def test_a_skewed_page_is_straightened_with_its_words(settings, monkeypatch):
    image = Image.new("L", (2480, 3508), 255)
    calls = _fake_reader(monkeypatch, _lines(slope_deg=1.0))
    page, straight = ocr_page(image, 0, 300, settings)
    assert calls == [1]
    assert abs(skew_deg(page.words)) < 0.1
    assert straight.size == image.size and straight is not image


def test_a_page_skewed_past_the_reading_order_is_read_again(settings, monkeypatch):
    image = Image.new("L", (2480, 3508), 255)
    calls = _fake_reader(monkeypatch, _lines(slope_deg=2.5))
    _, straight = ocr_page(image, 0, 300, settings)
    assert calls == [1, 1] and straight is not image


def test_limitation_pages_skewed_over_10_degrees_keep_their_skew(settings, monkeypatch):
    image = Image.new("L", (2480, 3508), 255)
    _fake_reader(monkeypatch, _lines(slope_deg=12.0))
    page, kept = ocr_page(image, 0, 300, settings)
    assert kept is image
    assert skew_deg(page.words) == pytest.approx(12.0, abs=0.1)


@pytest.mark.slow
@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_real_pages_come_out_upright(settings, rotation):
    from rapidfuzz.distance import Levenshtein

    from samples.pages import load_corpus, paginate, render_page
    from samples.scan import LOOKS, degrade

    lines = paginate(load_corpus())[2][:14]
    truth = " ".join(line.text for line in lines)
    image = degrade(render_page(lines, 300), LOOKS["mild"], random.Random(3),
                    rotation=rotation)  # fmt: skip
    page, upright = ocr_page(image, 0, 300, settings)
    assert (page.rotation_deg + rotation) % 360 == 0
    assert upright.width < upright.height
    text = " ".join(page.text.split())
    assert Levenshtein.normalized_distance(truth, text) < 0.02
