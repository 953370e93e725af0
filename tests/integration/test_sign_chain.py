"""The legal chain end to end: scan -> marked derivative -> signed file -> new version.

Real Tesseract, real signing (development key), real SQLite: one scan goes through the
pipeline, then is reprocessed from the stored scan into a second signed version.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pypdfium2 as pdfium
import pytest
import zxingcpp
from PIL import Image, ImageDraw, ImageFont

from digitize.config import load_settings
from digitize.fonts import find_font
from digitize.pipeline import process_file
from digitize.reprocess import reprocess_document
from digitize.sign import verify_pdf
from digitize.sign.chain import list_versions
from digitize.store import Catalog, blob_path

pytestmark = pytest.mark.slow

LINES = ["ỦY BAN NHÂN DÂN XÃ THỬ NGHIỆM", "Giấy xác nhận cư trú", "Số hồ sơ 2026-0042"]


def _scan(path: Path) -> Path:
    image = Image.new("L", (1240, 1754), 255)  # A4 at 150 dpi
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(find_font("serif")), 40)
    for index, line in enumerate(LINES):
        draw.text((120, 160 + 90 * index), line, fill=0, font=font)
    image.save(path, dpi=(150, 150))
    return path


def _page_text(data: bytes) -> str:
    doc = pdfium.PdfDocument(data)
    try:
        return doc[0].get_textpage().get_text_range()
    finally:
        doc.close()


def _qr(data: bytes) -> list[str]:
    doc = pdfium.PdfDocument(data)
    try:
        image = doc[0].render(scale=3).to_pil()
    finally:
        doc.close()
    return [r.text for r in zxingcpp.read_barcodes(image)]


@pytest.fixture
def stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for key in [k for k in __import__("os").environ if k.startswith("DIGITIZE_")]:
        monkeypatch.delenv(key)
    settings = replace(load_settings(), home=tmp_path / "home", ocr_dpi=150)
    catalog = Catalog(settings.catalog)
    outcome = process_file(_scan(tmp_path / "giay.png"), settings, catalog)
    yield settings, catalog, outcome
    catalog.close()


def test_scan_derivative_and_signed_file_form_the_chain(stored) -> None:
    settings, catalog, outcome = stored
    assert outcome.status == "stored" and outcome.sign_level == "B-B"
    doc = catalog.db.execute("SELECT * FROM documents").fetchone()
    scan = blob_path(settings.repository, doc["sha256"], ".png")
    unsigned = blob_path(settings.repository, doc["unsigned_sha256"], ".unsigned.pdf")
    signed = blob_path(settings.repository, doc["signed_sha256"], ".signed.pdf")
    assert scan.read_bytes().startswith(b"\x89PNG")
    assert signed.read_bytes().startswith(unsigned.read_bytes())
    text = _page_text(unsigned.read_bytes())
    assert "Bản số hóa từ bản giấy" in text and settings.sign_agency in text
    assert _qr(unsigned.read_bytes()) == [f"digitize:doc/{doc['id']}"]
    [report] = verify_pdf(signed.read_bytes(), settings)
    assert report.ok and report.coverage == "ENTIRE_FILE"


def test_reprocess_makes_a_new_version_and_keeps_the_old(stored) -> None:
    settings, catalog, outcome = stored
    first = catalog.db.execute("SELECT * FROM documents").fetchone()
    again = reprocess_document(outcome.document_id, settings, catalog)
    assert again.status == "stored" and again.signed
    versions = list_versions(catalog, settings, outcome.document_id)
    assert [(v["version"], v["kind"], v["current"]) for v in versions] == [
        (1, "signed", False),
        (2, "reprocessed", True),
    ]
    assert versions[0]["signed_sha256"] == first["signed_sha256"]
    assert versions[1]["signed_sha256"] != first["signed_sha256"]
    for version in versions:
        data = Path(version["signed_path"]).read_bytes()
        assert verify_pdf(data, settings)[0].ok
    current = catalog.db.execute("SELECT * FROM documents").fetchone()
    assert current["signed_sha256"] == versions[1]["signed_sha256"]
    assert current["sha256"] == first["sha256"]


def test_third_party_signed_input_is_verified_and_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    import pikepdf

    from digitize.sign import sign_pdf

    for key in [k for k in __import__("os").environ if k.startswith("DIGITIZE_")]:
        monkeypatch.delenv(key)
    settings = replace(load_settings(), home=tmp_path / "home", ocr_dpi=150)
    image = Image.open(_scan(tmp_path / "giay.png")).convert("RGB")
    raw = io.BytesIO()
    image.save(raw, format="PDF", resolution=150)
    clean = io.BytesIO()
    with pikepdf.open(io.BytesIO(raw.getvalue())) as pdf:
        pdf.save(clean)
    received = tmp_path / "da-ky.pdf"
    received.write_bytes(sign_pdf(clean.getvalue(), settings).data)

    catalog = Catalog(settings.catalog)
    try:
        outcome = process_file(received, settings, catalog)
        assert outcome.status == "stored"
        rows = catalog.db.execute(
            "SELECT document_id, field_name, level, ok FROM input_signatures"
        ).fetchall()
        assert [tuple(r) for r in rows] == [(outcome.document_id, "ChuKySo", "B-B", 1)]
        # The signed input is kept byte for byte as the scan of the record.
        doc = catalog.db.execute("SELECT sha256 FROM documents").fetchone()
        kept = blob_path(settings.repository, doc["sha256"], ".pdf").read_bytes()
        assert kept == received.read_bytes()
    finally:
        catalog.close()
