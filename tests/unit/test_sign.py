"""Sign stage: real keys made in tmp, real PDFs from pikepdf, signed and validated."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import shutil
import subprocess
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from io import BytesIO
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.stamp import TextStamp, TextStampStyle

from digitize.config import Settings
from digitize.errors import ConfigError, SigningError
from digitize.keys import DevKeys, create_dev_keys, ensure_signing_key
from digitize.sign import (
    SignedPdf,
    report_to_dict,
    sign_pdf,
    sign_pdf_file,
    verify_pdf,
)
from digitize.sign.signing import CachedKeySigner
from digitize.sign.stamp import format_signing_time
from tests.factories import A4, make_pdf

AGENCY = "UBND huyện Đức Cơ (thử nghiệm)"
VN = dt.timezone(dt.timedelta(hours=7))


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Dev-key settings on a home shared by this module (keys and font made once)."""
    return Settings(home=tmp_path_factory.mktemp("sign") / "home")


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> DevKeys:
    """A second, unrelated development CA."""
    return create_dev_keys(tmp_path_factory.mktemp("other") / "keys")


@pytest.fixture(scope="module")
def signed(settings: Settings) -> SignedPdf:
    return sign_pdf(make_pdf(), settings)


def page_text_with_stamp(data: bytes) -> list[str]:
    """Text lines of page 1 after flattening its widgets into the page."""
    doc = pdfium.PdfDocument(data)
    try:
        page = doc[0]
        flattened = pdfium_c.FPDFPage_Flatten(page.raw, pdfium_c.FLAT_PRINT)
        assert flattened == pdfium_c.FLATTEN_SUCCESS
        page.close()
        page = doc[0]
        textpage = page.get_textpage()
        text = textpage.get_text_range()
        textpage.close()
        page.close()
    finally:
        doc.close()
    return text.splitlines()


def ink_boxes(data: bytes, rect: list[float]) -> tuple[tuple[float, ...], ...]:
    """Bounding boxes (pt, top-left origin) of all ink, and of the ink inside `rect`."""
    scale = 4
    doc = pdfium.PdfDocument(data)
    try:
        doc.init_forms()
        page = doc[0]
        height = page.get_height()
        image = page.render(scale=scale, may_draw_forms=True).to_pil().convert("L")
        page.close()
    finally:
        doc.close()
    ink = image.point(lambda v: 255 if v < 128 else 0)
    x1, y1, x2, y2 = rect
    inner = (x1 + 2, height - y2 + 2, x2 - 2, height - y1 - 2)
    inside = ink.crop(tuple(round(v * scale) for v in inner))
    all_box, inner_box = ink.getbbox(), inside.getbbox()
    assert all_box and inner_box
    return (
        tuple(v / scale for v in all_box),
        tuple(inner[i % 2] + v / scale for i, v in enumerate(inner_box)),
    )


def signature_rect(data: bytes) -> list[float]:
    with pikepdf.open(BytesIO(data)) as pdf:
        widgets = [a for a in pdf.pages[0].obj.Annots if a.get("/FT") == "/Sig"]
        assert len(widgets) == 1
        return [float(v) for v in widgets[0].Rect]


def embedded_cid_fonts(data: bytes) -> list[tuple[bool, list[float]]]:
    """(has an embedded font file, widths) for each CID font in the file."""
    found = []
    with pikepdf.open(BytesIO(data)) as pdf:
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Dictionary) and obj.get("/Subtype") == (
                "/CIDFontType2"
            ):
                widths = [
                    float(w)
                    for run in obj.W
                    if isinstance(run, pikepdf.Array)
                    for w in run
                ]
                found.append(("/FontFile2" in obj.FontDescriptor, widths))
    return found


# --- sign, then verify -----------------------------------------------------------


def test_sign_then_verify_is_intact_valid_trusted(
    signed: SignedPdf, settings: Settings
) -> None:
    [report] = verify_pdf(signed.data, settings)
    assert (report.intact, report.valid, report.trusted, report.ok) == (
        True,
        True,
        True,
        True,
    )
    assert report.level == signed.level == "B-B"
    assert report.coverage == "ENTIRE_FILE"
    assert report.modification_level == "NONE"
    assert report.revocation_checked is False
    assert report.field_name == signed.field_name == "ChuKySo"
    assert report.signer_subject == signed.signer_subject
    assert "NOT FOR LEGAL USE" in report.signer_subject
    assert report.signed_at == signed.signed_at
    assert report.summary_vi.startswith("Chữ ký hợp lệ")
    assert "revocation not checked" in report.summary_en


def test_signed_record_hashes_and_time(signed: SignedPdf) -> None:
    unsigned = make_pdf()
    assert signed.unsigned_sha256 == hashlib.sha256(unsigned).hexdigest()
    assert signed.signed_sha256 == hashlib.sha256(signed.data).hexdigest()
    assert signed.signed_at.utcoffset() == dt.timedelta(hours=7)
    assert signed.signed_at.microsecond == 0
    assert len(signed.signer_cert_sha256) == 64


def test_signed_file_begins_with_unsigned_bytes(signed: SignedPdf) -> None:
    unsigned = make_pdf()
    assert len(signed.data) > len(unsigned)
    assert signed.data[: len(unsigned)] == unsigned


def test_signing_file_to_file_equals_signing_bytes(settings, tmp_path) -> None:
    source = tmp_path / "in.pdf"
    source.write_bytes(make_pdf(text="Tep"))
    target = tmp_path / "out.pdf"
    result = sign_pdf_file(source, target, settings)
    data = target.read_bytes()
    assert result.data == b"" and result.path == target
    assert result.unsigned_path == source and not result.normalized
    assert data.startswith(source.read_bytes())
    assert result.signed_sha256 == hashlib.sha256(data).hexdigest()
    assert result.unsigned_sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    with target.open("rb") as handle:
        (report,) = verify_pdf(handle, settings)
    assert report.ok and report.level == result.level


def test_signing_a_file_that_is_not_a_pdf_leaves_no_target(settings, tmp_path) -> None:
    source = tmp_path / "in.pdf"
    source.write_bytes(b"not a pdf at all")
    target = tmp_path / "out.pdf"
    with pytest.raises(SigningError) as err:
        sign_pdf_file(source, target, settings)
    assert err.value.code == "sign.not_pdf" and not target.exists()


def test_untrusted_against_a_different_root(
    signed: SignedPdf, settings: Settings, other_ca: DevKeys
) -> None:
    foreign = replace(settings, sign_trust_roots=str(other_ca.root_pem))
    [report] = verify_pdf(signed.data, foreign)
    assert report.intact and report.valid
    assert not report.trusted and not report.ok
    assert "does NOT chain" in report.summary_en
    assert "KHÔNG thuộc gốc tin cậy" in report.summary_vi


def test_signing_refuses_a_signature_the_roots_do_not_trust(
    settings: Settings, other_ca: DevKeys
) -> None:
    foreign = replace(settings, sign_trust_roots=str(other_ca.root_pem))
    with pytest.raises(SigningError) as caught:
        sign_pdf(make_pdf(), foreign)
    assert caught.value.code == "sign.invalid"
    assert "trusted" in caught.value.message
    assert "NOT FOR LEGAL USE" not in caught.value.message


def test_report_to_dict_is_json(signed: SignedPdf, settings: Settings) -> None:
    [report] = verify_pdf(signed.data, settings)
    values = json.loads(json.dumps(report_to_dict(report), ensure_ascii=False))
    assert values["signed_at"] == format_signing_time(signed.signed_at)
    assert values["trusted"] is True and values["level"] == "B-B"
    assert set(values) >= {"field_name", "coverage", "modification_level", "ok"}


def test_unsigned_pdf_has_no_reports(settings: Settings) -> None:
    assert verify_pdf(make_pdf(text="Hello"), settings) == []


# --- the visible stamp -------------------------------------------------------------


def test_stamp_text_round_trips(settings: Settings) -> None:
    moment = dt.datetime(2026, 12, 4, 10, 11, 12, 999, tzinfo=dt.UTC)
    result = sign_pdf(make_pdf(text="Hello"), settings, signed_at=moment)
    lines = page_text_with_stamp(result.data)
    assert lines[-3:] == ["SAO Y", AGENCY, "2026-12-04T17:11:12+07:00"]
    assert "Hello" in lines[0]
    assert result.signed_at == dt.datetime(2026, 12, 4, 17, 11, 12, tzinfo=VN)
    [report] = verify_pdf(result.data, settings)
    assert report.signed_at == result.signed_at


def test_stamp_is_drawn_inside_its_box_at_10_pt(signed: SignedPdf) -> None:
    x1, y1, x2, y2 = rect = signature_rect(signed.data)
    all_ink, text_ink = ink_boxes(signed.data, rect)
    page_height = A4[1]
    # Nothing outside the 1 pt border.
    assert all_ink[0] >= x1 - 1 and all_ink[2] <= x2 + 1
    assert all_ink[1] >= page_height - y2 - 1 and all_ink[3] <= page_height - y1 + 1
    # Three lines at 10 pt, leading 14: cap top of line 1 to descender of line 3 is
    # about 28 + 7 + 2.5 pt; a shrunk or letter-spaced stamp would differ.
    assert 34 <= text_ink[3] - text_ink[1] <= 42
    assert 150 <= text_ink[2] - text_ink[0] <= 185


def test_stamp_font_is_embedded_at_1000_units_per_em(signed: SignedPdf) -> None:
    [(embedded, widths)] = embedded_cid_fonts(signed.data)
    assert embedded
    # A 2048-unit font left unscaled gives widths near 1300 for capitals.
    assert widths and max(widths) < 1000 and min(widths) > 0


def test_stamp_text_is_nfc_and_one_line_per_setting(settings: Settings) -> None:
    decomposed = unicodedata.normalize("NFD", "UBND xã Ia Krêl\n(thử nghiệm)")
    custom = replace(settings, sign_agency=decomposed, sign_copy_type="SAO LỤC")
    lines = page_text_with_stamp(sign_pdf(make_pdf(), custom).data)
    assert lines[:2] == ["SAO LỤC", "UBND xã Ia Krêl (thử nghiệm)"]


@pytest.mark.parametrize(
    ("size", "mediabox"),
    [
        (A4, None),
        ((842, 595), None),
        ((612, 1008), None),
        (A4, [100, 50, 712, 842]),
    ],
    ids=["a4", "a4-landscape", "legal", "offset-mediabox"],
)
def test_stamp_sits_top_right(
    settings: Settings, size: tuple[float, float], mediabox: list[float] | None
) -> None:
    result = sign_pdf(make_pdf(size, mediabox=mediabox), settings)
    right, top = (mediabox[2], mediabox[3]) if mediabox else size
    x1, y1, x2, y2 = signature_rect(result.data)
    assert abs(x2 - (right - 18)) <= 1 and abs(y2 - (top - 18)) <= 1
    assert 200 <= x2 - x1 <= 260 and 45 <= y2 - y1 <= 55


def test_small_page_gets_a_smaller_stamp(settings: Settings) -> None:
    result = sign_pdf(make_pdf((150, 100)), settings)
    x1, y1, x2, y2 = signature_rect(result.data)
    assert 0 <= x1 < x2 <= 150 and 0 <= y1 < y2 <= 100
    assert verify_pdf(result.data, settings)[0].ok


def test_page_too_small_for_a_stamp(settings: Settings) -> None:
    with pytest.raises(SigningError) as caught:
        sign_pdf(make_pdf((10, 10)), settings)
    assert caught.value.code == "sign.page_too_small"


def test_rotated_page_limitation_stamp_ignores_rotate(settings: Settings) -> None:
    # Pins the LIMITATION in signing._page_box: /Rotate is not taken into account.
    result = sign_pdf(make_pdf(rotate=90), settings)
    _, _, x2, y2 = signature_rect(result.data)
    assert abs(x2 - (A4[0] - 18)) <= 1 and abs(y2 - (A4[1] - 18)) <= 1
    assert verify_pdf(result.data, settings)[0].ok


def test_empty_agency_is_refused(settings: Settings) -> None:
    with pytest.raises(ConfigError) as caught:
        sign_pdf(make_pdf(), replace(settings, sign_agency="  "))
    assert caught.value.code == "config.sign_stamp"


def test_naive_signing_time_is_refused(settings: Settings) -> None:
    with pytest.raises(SigningError) as caught:
        sign_pdf(make_pdf(), settings, signed_at=dt.datetime(2026, 12, 4, 10))
    assert caught.value.code == "sign.naive_time"


def test_format_signing_time() -> None:
    moment = dt.datetime(2026, 1, 31, 20, 0, 5, 700000, tzinfo=dt.UTC)
    assert format_signing_time(moment) == "2026-02-01T03:00:05+07:00"
    with pytest.raises(ValueError):
        format_signing_time(dt.datetime(2026, 1, 1))


# --- tampering -----------------------------------------------------------------


def test_byte_changed_in_signed_range_breaks_integrity(
    signed: SignedPdf, settings: Settings
) -> None:
    # Byte 10 lies in the binary comment after the header: parsing is unaffected.
    data = bytearray(signed.data)
    assert data[:5] == b"%PDF-" and data[9:10] == b"%"
    data[10] ^= 0x01
    [report] = verify_pdf(bytes(data), settings)
    assert not report.intact and not report.ok
    assert "altered" in report.summary_en


def test_update_appended_after_signing_is_detected(
    signed: SignedPdf, settings: Settings
) -> None:
    writer = IncrementalPdfFileWriter(BytesIO(signed.data))
    stamp = TextStamp(writer, style=TextStampStyle(stamp_text="ĐÃ SỬA"))
    stamp.apply(0, 50, 50)
    out = BytesIO()
    writer.write(out)
    [report] = verify_pdf(out.getvalue(), settings)
    assert report.intact and report.valid and report.trusted
    assert report.coverage == "ENTIRE_REVISION"
    assert report.modification_level not in ("NONE", "LTA_UPDATES", "FORM_FILLING")
    assert not report.ok
    assert "changed after signing" in report.summary_en


def test_second_signature_keeps_the_first_valid(
    signed: SignedPdf, settings: Settings
) -> None:
    twice = sign_pdf(signed.data, settings)
    assert twice.field_name == "ChuKySo2"
    with pikepdf.open(BytesIO(twice.data)) as pdf:
        rects = [[float(v) for v in a.Rect] for a in pdf.pages[0].obj.Annots]
    assert len(rects) == 2
    assert rects[1][3] == rects[0][1] - 6  # the second stamp sits below the first
    first, second = verify_pdf(twice.data, settings)
    assert first.field_name == "ChuKySo" and first.ok
    assert first.modification_level == "FORM_FILLING"
    assert second.ok and second.modification_level == "NONE"


# --- bad input -------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"", b"hello, not a pdf", b"\x89PNG\r\n\x1a\n" + bytes(64)],
    ids=["empty", "text", "png"],
)
def test_not_a_pdf(settings: Settings, data: bytes) -> None:
    for call in (sign_pdf, verify_pdf):
        with pytest.raises(SigningError) as caught:
            call(data, settings)
        assert caught.value.code == "sign.not_pdf"
        assert "not a PDF" in caught.value.message


def test_damaged_pdf(settings: Settings) -> None:
    truncated = make_pdf()[:-200]
    for call in (sign_pdf, verify_pdf):
        with pytest.raises(SigningError) as caught:
            call(truncated, settings)
        assert caught.value.code == "sign.damaged_pdf"
        assert "damaged" in caught.value.message


def test_encrypted_pdf(settings: Settings) -> None:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    out = BytesIO()
    pdf.save(out, encryption=pikepdf.Encryption(owner="chu", user="khach"))
    for call in (sign_pdf, verify_pdf):
        with pytest.raises(SigningError) as caught:
            call(out.getvalue(), settings)
        assert caught.value.code == "sign.encrypted"
        assert "khach" not in caught.value.message


# --- threads, event loops, logs ----------------------------------------------------


def test_sign_from_worker_threads(settings: Settings) -> None:
    inputs = [make_pdf(text=f"Trang {i}") for i in range(6)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda pdf: sign_pdf(pdf, settings), inputs))
    for pdf, result in zip(inputs, results, strict=True):
        assert result.data.startswith(pdf)
        assert verify_pdf(result.data, settings)[0].ok


def test_sign_inside_a_running_event_loop(settings: Settings) -> None:
    async def handler() -> SignedPdf:
        return sign_pdf(make_pdf(), settings)

    result = asyncio.run(handler())
    assert verify_pdf(result.data, settings)[0].trusted


def test_logs_hold_no_certificate_subject(
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The CLI's logging set-up stops propagation; caplog listens at the root.
    monkeypatch.setattr(logging.getLogger("digitize"), "propagate", True)
    with caplog.at_level("DEBUG", logger="digitize"):
        result = sign_pdf(make_pdf(), settings)
        verify_pdf(result.data, settings)
    assert "signed B-B" in caplog.text
    assert "NOT FOR LEGAL USE" not in caplog.text
    assert "CN=" not in caplog.text


def test_font_cached_under_home(signed: SignedPdf, settings: Settings) -> None:
    fonts = list((settings.home / "fonts").glob("*.ttf"))
    assert len(fonts) == 1 and "upem1000" in fonts[0].name


def test_cached_key_signer_makes_verifiable_signatures(settings: Settings) -> None:
    loaded = ensure_signing_key(settings).load_signer()
    signature = CachedKeySigner(loaded).sign_raw(b"du lieu", "sha256")
    cert = x509.load_der_x509_certificate(loaded.signing_cert.dump())
    cert.public_key().verify(signature, b"du lieu", padding.PKCS1v15(), hashes.SHA256())


# --- slow: an independent validator, many signatures -------------------------------


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pdfsig") is None, reason="poppler-utils missing")
def test_poppler_finds_the_signature_valid(signed: SignedPdf, tmp_path: Path) -> None:
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed.data)
    result = subprocess.run(
        ["pdfsig", str(path)], capture_output=True, text=True, check=False, timeout=60
    )
    assert "Signature Field Name: ChuKySo" in result.stdout
    assert "Signature is Valid" in result.stdout
    assert "Total document signed" in result.stdout


@pytest.mark.slow
def test_many_signatures_from_threads_and_loops(settings: Settings) -> None:
    async def in_loop(pdf: bytes) -> SignedPdf:
        return sign_pdf(pdf, settings)

    def sign_both_ways(index: int) -> list[SignedPdf]:
        pdf = make_pdf(text=f"Ho so {index}")
        return [sign_pdf(pdf, settings), asyncio.run(in_loop(pdf))]

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = [r for pair in pool.map(sign_both_ways, range(20)) for r in pair]
    assert len({r.signed_sha256 for r in results}) >= 20
    for result in results:
        assert verify_pdf(result.data, settings)[0].ok


def test_cli_verify_of_altered_content_claims_nothing_else(
    settings, signed, tmp_path, monkeypatch, capsys
) -> None:
    from digitize.cli import main

    data = bytearray(signed.data)
    at = data.index(b"/MediaBox")
    data[at + 2] ^= 0x01  # one byte inside the signed range: /MediaBox -> /MddiaBox
    path = tmp_path / "altered.pdf"
    path.write_bytes(bytes(data))
    monkeypatch.setenv("DIGITIZE_HOME", str(settings.home))
    assert main(["verify", str(path)]) == 7
    out = capsys.readouterr().out
    assert "INVALID: the signed content was altered" in out
    assert "intact        NO" in out and "not assessed" in out
    assert "unchanged since signing" not in out
    (report,) = verify_pdf(bytes(data), settings)  # what --json and the API give
    assert (report.intact, report.valid, report.trusted, report.ok) == (
        False, False, False, False
    )  # fmt: skip
    assert report.modification_level == "NOT_ASSESSED"
    assert "unchanged" not in report.changes


def test_cli_verify_mentions_bytes_after_the_signed_file(
    settings, signed, tmp_path, monkeypatch, capsys
) -> None:
    from digitize.cli import main

    path = tmp_path / "tail.pdf"
    path.write_bytes(signed.data + b"\njunk appended later\n")
    monkeypatch.setenv("DIGITIZE_HOME", str(settings.home))
    assert main(["verify", str(path)]) == 0  # the signed bytes are intact
    assert "bytes that are not a PDF update follow" in capsys.readouterr().out


def test_verify_reads_a_pillow_pdf_as_unsigned(settings, tmp_path) -> None:
    from PIL import Image

    path = tmp_path / "pillow.pdf"
    Image.new("L", (60, 80), 255).save(path, "PDF")  # xref head generation 65536
    with path.open("rb") as handle:
        assert verify_pdf(handle, settings) == []
