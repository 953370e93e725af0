"""Extraction on varied generated pages: real Tesseract, fields against the truth.

Ten pages of `samples.varied` (chip cards of both generations, a CMND, a 2016 card,
both sides side by side, a birth certificate, a CT07, a business licence, a CT01
form), each skewed, blurred, noised and JPEG-compressed.
"""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from digitize.config import load_settings
from digitize.extract import classify_page, extract_papers
from digitize.extract.names import fold
from digitize.machine_layers import collect_evidence
from digitize.ocr import ocr_page
from samples.varied import make_page

pytestmark = pytest.mark.slow

PAGES = (0, 3, 4, 6, 8, 12, 14, 15, 16, 17)
KEY_FIELDS = ("id_number", "old_id_number", "date_of_birth", "sex", "full_name")


def _read(index: int):
    image, truth = make_page(11, index)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=truth["jpeg_quality"])
    scanned = Image.open(buffer).convert("L")
    ocr, upright = ocr_page(scanned, 0, truth["dpi"], load_settings())
    evidence = collect_evidence(ocr, upright)
    return truth, extract_papers([evidence]), classify_page(evidence)


@pytest.fixture(scope="module")
def readings():
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(_read, PAGES))


def _compared(readings):
    """(field, expected, found Field or None) for every key field of every paper."""
    rows = []
    for truth, papers, _ in readings:
        by_type = {p.paper_type: p for p in papers}
        for expected in truth["papers"]:
            paper = by_type.get(expected["type"])
            for name in KEY_FIELDS:
                if name in expected["fields"]:
                    found = paper.fields.get(name) if paper else None
                    rows.append((name, expected["fields"][name], found, expected))
    return rows


def _same(name, expected, found, paper) -> bool:
    if found is None:
        return False
    if name == "full_name" and not paper["name_printed"]:
        return fold(found.value) == fold(expected)
    return found.value == expected


def test_every_paper_type_is_recognised(readings):
    for truth, _, types in readings:
        assert types == [p["type"] for p in truth["papers"]], truth["layout"]


def test_no_wrong_id_number_is_verified(readings):
    for name, expected, found, _ in _compared(readings):
        if name in ("id_number", "old_id_number") and found and found.verified:
            assert found.value == expected


def test_key_fields_match_the_truth(readings):
    rows = _compared(readings)
    right = sum(_same(*row) for row in rows)
    misses = [(r[0], r[3]["type"]) for r in rows if not _same(*r)]
    assert len(rows) >= 45
    assert right >= 0.95 * len(rows), misses
