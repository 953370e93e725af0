"""Memory of a long document through the pipeline, OCR replaced by a fixed reading.

Page images, the searchable PDF and its signed copy go through files, so the bytes
Python holds do not grow with the page count (bench/ocr.py --long 500 measures the
whole process, Tesseract and qpdf included).
"""

from __future__ import annotations

import random
import tracemalloc
from dataclasses import replace

import pikepdf
from PIL import Image, ImageDraw

import digitize.ocr as ocr
from digitize.keys import ensure_signing_key
from digitize.pipeline import process_file
from digitize.store import Catalog, blob_path
from digitize.tools.tesseract import TsvResult
from tests.factories import ocr_page_from_lines


def _long_pdf(path, pages: int) -> None:
    # Grain makes the page images as heavy as real scans (JPEG cannot shrink noise).
    size = (827, 1169)
    image = Image.frombytes("L", size, random.Random(7).randbytes(size[0] * size[1]))
    draw = ImageDraw.Draw(image)
    for row in range(40):
        draw.line((80, 60 + 26 * row, 740, 60 + 26 * row), fill=30, width=3)
    image.save(path, "PDF", resolution=100.0, save_all=True,
               append_images=[image] * (pages - 1))  # fmt: skip


def _peak_mb(settings, tmp_path, pages: int) -> float:
    scan = tmp_path / f"long-{pages}.pdf"
    _long_pdf(scan, pages)
    catalog = Catalog(settings.catalog)
    tracemalloc.start()
    try:
        outcome = process_file(scan, settings, catalog)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
        catalog.close()
    assert outcome.status == "stored" and outcome.pages == pages
    signed = blob_path(settings.repository, _signed_sha(settings, outcome), ".signed.pdf")
    with pikepdf.open(signed) as pdf:
        assert len(pdf.pages) == pages
    print(f"{pages} pages: {peak:.1f} MB held by Python, {signed.stat().st_size} bytes")
    return peak


def _signed_sha(settings, outcome) -> str:
    catalog = Catalog(settings.catalog)
    try:
        row = catalog.db.execute(
            "SELECT signed_sha256 FROM documents WHERE id = ?", (outcome.document_id,)
        ).fetchone()
    finally:
        catalog.close()
    return row[0]


def test_memory_does_not_grow_with_the_page_count(settings, tmp_path, monkeypatch):
    words = ocr_page_from_lines(["chữ " * 4] * 4, dpi=100).words
    monkeypatch.setattr(ocr, "ocr_image", lambda image, **_: TsvResult(words, "chữ"))
    settings = replace(settings, ocr_dpi=100)
    ensure_signing_key(settings)
    few, many = _peak_mb(settings, tmp_path, 2), _peak_mb(settings, tmp_path, 40)
    # 40 pages of grain hold about 20 MB of JPEG: in memory, the PDF alone would show.
    assert many < few + 2.0, f"{few:.1f} MB for 2 pages, {many:.1f} MB for 40"
