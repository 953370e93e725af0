"""Every kind of awkward input through the real watcher, Tesseract, signing and SQLite.

One drain of a folder holding all of them (tests/fixtures/badinputs.py) serves every
oracle below: where each file went, its bytes unchanged, the reason for each refusal,
and for the files that are read, the planted text found in the catalog.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import stat
import unicodedata
from dataclasses import replace
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageDraw, ImageFont

from digitize.config import load_settings
from digitize.ingest import Watcher
from digitize.keys import ensure_signing_key
from digitize.query import search_text
from digitize.sign import sign_pdf, verify_pdf
from digitize.store import Catalog, blob_path
from tests.fixtures import badinputs as bad

pytestmark = pytest.mark.slow

NAME_NFC = "Hồ sơ Nguyễn Văn Ánh.png"
UNIT_NFC = "Xã Ia Dơk"
FILED = f"{unicodedata.normalize('NFD', UNIT_NFC)}/HS-0007"

# relative path -> (expected folder, error code or None, token planted in the text)
EXPECTED: dict[str, tuple[str, str | None, str | None]] = {}


def _page(token: str, *, mark: bool = False) -> Image.Image:
    return bad.text_image(
        [f"Giấy tờ số {token}", "Hồ sơ đăng ký thường trú"], mark=mark
    )


def _a4(token: str) -> Image.Image:
    """An A4 page at 150 px per inch with the token near the top."""
    image = Image.new("L", (1240, 1754), 255)
    font = ImageFont.truetype(bad.FONT, 40)
    ImageDraw.Draw(image).text((120, 150), f"Giấy tờ số {token}", 0, font)
    return image


def _cases(settings) -> dict[str, bytes]:
    """Every fixture with where it must end up."""
    files: dict[str, bytes] = {}

    def add(rel, data, folder, code=None, token=None):
        files[rel] = data
        EXPECTED[rel] = (folder, code, token)

    add(
        "a/01/anh-chup.pdf", bad.save(_page("40101"), "PNG"), "processed", None, "40101"
    )
    for n, kind in enumerate(sorted(bad.ENCRYPTIONS)):
        token = f"4020{n}"
        data = bad.encrypted_pdf(kind, _page(token))
        if bad.ENCRYPTIONS[kind][1]:
            add(f"a/02/{kind}.pdf", data, "processed", None, token)
        else:
            add(f"a/02/{kind}.pdf", data, "quarantine", "input.encrypted")
    signed = sign_pdf(bad.image_pdf([_page("40301")]), settings).data
    add("a/03/da-ky-so.pdf", signed, "processed", None, "40301")
    scan = _page("40402")
    add("a/04/hon-hop.pdf", bad.mixed_pdf(["PHIEU TIEP NHAN 40401"], scan), "processed")
    for name, options in (("khong-dpi", {}), ("dpi-1", {"dpi": (1, 1)}),
                          ("dpi-72", {"dpi": (72, 72)})):  # fmt: skip
        image = _a4(f"405{len(name)}")
        buf = io.BytesIO()
        image.save(buf, "PNG", **options)
        add(f"a/05/{name}.png", buf.getvalue(), "processed", None, f"405{len(name)}")
    add("a/06/exif-6.jpg", bad.exif_jpeg(_page("40606"), 6), "processed", None, "40606")
    add("a/06/exif-0.jpg", bad.exif_jpeg(_page("40600"), 0), "processed", None, "40600")
    add("a/07/xoay.pdf", bad.rotated_pdf(_page("40707")), "processed", None, "40707")
    for n, (name, data) in enumerate(
        sorted(bad.pixel_formats(_page(f"4080{0}")).items())
    ):
        token = f"408{n:02d}"
        data = bad.pixel_formats(_page(token))[name]
        add(f"a/08/{name}", data, "processed", None, token)
    for kind in ("no-xref", "junk-after-eof", "zeroed-xref"):
        add(f"a/09/{kind}.pdf", bad.damaged_pdf(kind), "processed")
    add(
        "a/09/garbage.pdf",
        bad.damaged_pdf("garbage"),
        "quarantine",
        "input.damaged_pdf",
    )
    add(
        f"{FILED}/{NAME_NFC}",
        bad.save(_page("41001"), "PNG"),
        "processed",
        None,
        "41001",
    )
    nfd = unicodedata.normalize("NFD", NAME_NFC)
    add(f"{FILED}/{nfd}", bad.save(_page("41002"), "PNG"), "processed", None, "41002")
    add("b/11/ban-sao.pdf", files["a/01/anh-chup.pdf"], "duplicates")
    add("b/12/rong.pdf", b"", "quarantine", "input.empty")
    add("b/12/mot-byte.jpg", b"\xff", "quarantine", "input.unsupported_format")
    add("b/12/van-ban.jpg", "Chỉ là văn bản".encode(), "quarantine",
        "input.unsupported_format")  # fmt: skip
    add("b/13/bom.png", bad.png_bomb(30_000), "quarantine", "input.too_many_pixels")
    add("b/13/bom-trong.pdf", bad.huge_image_pdf(40_000), "quarantine",
        "input.too_many_pixels")  # fmt: skip
    add(
        "b/13/trang-lon.pdf", bad.huge_page_pdf(), "quarantine", "input.too_many_pixels"
    )
    add("b/14/rat-dai.pdf", bad.long_pdf(1500), "quarantine", "input.too_many_pages")
    return files


IGNORED = ["Thumbs.db", ".DS_Store", "desktop.ini", "~$don.docx", "scan.pdf.part"]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    settings = replace(
        load_settings(),
        home=root / "home",
        watch_settle_s=0.0,
        watch_poll_s=0.05,
        watch_young_s=1.0,
        max_pixels=50_000_000,
        max_pages=1000,
    )
    ensure_signing_key(settings)
    inbox = root / "inbox"
    files = _cases(settings)
    for rel, data in files.items():
        (inbox / rel).parent.mkdir(parents=True, exist_ok=True)
        (inbox / rel).write_bytes(data)
    secret = root / "secret.txt"
    secret.write_text("outside the inbox")
    special = inbox / "c" / "15"
    special.mkdir(parents=True)
    (special / "lien-ket.pdf").symlink_to(secret)
    os.link(secret, special / "lien-ket-cung.pdf")
    os.mkfifo(special / "ong.pdf")
    for name in IGNORED:
        (inbox / "c" / name).write_bytes(b"%PDF-1.7 not yet")
    hashes = {rel: hashlib.sha256(data).hexdigest() for rel, data in files.items()}
    records = _Records()
    logging.getLogger("digitize").addHandler(records)
    try:
        catalog = Catalog(settings.catalog)
        outcomes = Watcher(inbox, settings, catalog).drain()
    finally:
        logging.getLogger("digitize").removeHandler(records)
    yield {
        "settings": settings, "inbox": inbox, "catalog": catalog, "hashes": hashes,
        "outcomes": outcomes, "logs": records.lines, "secret": secret,
    }  # fmt: skip
    catalog.close()


def _folder(run, name: str) -> Path:
    settings = run["settings"]
    return {"processed": settings.processed, "duplicates": settings.duplicates,
            "quarantine": settings.quarantine}[name]  # fmt: skip


def _document(run, rel: str):
    return run["catalog"].find_document_by_sha(run["hashes"][rel])


def _text(run, rel: str) -> str:
    rows = run["catalog"].db.execute(
        "SELECT text FROM pages WHERE document_id = ? ORDER BY idx",
        (_document(run, rel)["id"],),
    )
    return "\n".join(row[0] for row in rows)


def _stored_notes(run, rel: str) -> dict:
    row = (
        run["catalog"]
        .db.execute(
            "SELECT detail FROM events WHERE kind = 'stored' AND document_id = ?",
            (_document(run, rel)["id"],),
        )
        .fetchone()
    )
    return json.loads(row[0])


def test_every_file_lands_exactly_once_with_its_bytes_unchanged(run):
    assert len(run["outcomes"]) == len(EXPECTED) + 3  # + link, hard link, FIFO
    for rel, (folder, _, _) in EXPECTED.items():
        target = _folder(run, folder) / rel
        assert _sha(target) == run["hashes"][rel], rel
        assert not (run["inbox"] / rel).exists(), rel
        for other in {"processed", "duplicates", "quarantine"} - {folder}:
            assert not (_folder(run, other) / rel).exists(), (rel, other)
    stored = {r for r, (f, _, _) in EXPECTED.items() if f == "processed"}
    count = run["catalog"].db.execute("SELECT count(*) FROM documents").fetchone()[0]
    assert count == len(stored)


REFUSED = {
    "a/02/aes256-user-password.pdf": "input.encrypted",
    "a/02/rc4-128-user-password.pdf": "input.encrypted",
    "a/09/garbage.pdf": "input.damaged_pdf",
    "b/12/rong.pdf": "input.empty",
    "b/12/mot-byte.jpg": "input.unsupported_format",
    "b/12/van-ban.jpg": "input.unsupported_format",
    "b/13/bom.png": "input.too_many_pixels",
    "b/13/bom-trong.pdf": "input.too_many_pixels",
    "b/13/trang-lon.pdf": "input.too_many_pixels",
    "b/14/rat-dai.pdf": "input.too_many_pages",
}


def test_refusals_are_the_expected_ones(run):
    refused = {r: code for r, (f, code, _) in EXPECTED.items() if f == "quarantine"}
    assert refused == REFUSED


@pytest.mark.parametrize(("rel", "code"), sorted(REFUSED.items()))
def test_each_refusal_has_a_typed_reason(run, rel, code):
    target = run["settings"].quarantine / rel
    reason = json.loads(target.with_name(target.name + ".reason.json").read_text())
    assert reason["code"] == code
    assert reason["class"] == "InputError"
    assert reason["stage"] in ("claim", "open", "ocr")
    assert reason["file"] == unicodedata.normalize("NFC", rel)
    assert reason["sha256"] == run["hashes"][rel]
    assert reason["message"] and reason["what_to_do"] and "inbox" in reason["release"]


def test_the_parsers_own_words_reach_the_reason_file(run):
    target = run["settings"].quarantine / "a/09/garbage.pdf"
    reason = json.loads(target.with_name("garbage.pdf.reason.json").read_text())
    assert "trailer" in reason["tool_message"]
    assert "PdfError" in reason["tool_message"]


@pytest.mark.parametrize(
    ("name", "code"),
    [("lien-ket.pdf", "input.symlink"), ("lien-ket-cung.pdf", "input.hard_link"),
     ("ong.pdf", "input.not_regular")],
)  # fmt: skip
def test_links_and_special_files_are_refused_unopened(run, name, code):
    target = run["settings"].quarantine / "c" / "15" / name
    reason = json.loads(target.with_name(name + ".reason.json").read_text())
    assert reason["code"] == code and reason["stage"] == "claim"
    assert reason["sha256"] is None  # never read
    if name == "lien-ket.pdf":
        assert target.is_symlink() and target.readlink() == run["secret"]
    if name == "ong.pdf":
        assert stat.S_ISFIFO(target.lstat().st_mode)
    assert run["secret"].read_text() == "outside the inbox"


def test_system_and_temporary_names_are_left_alone(run):
    for name in IGNORED:
        assert (run["inbox"] / "c" / name).read_bytes() == b"%PDF-1.7 not yet"


def test_planted_text_is_found_in_every_file_that_was_read(run):
    for rel, (folder, _, token) in EXPECTED.items():
        if token is None or folder != "processed":
            continue
        hits = search_text(run["catalog"], token)
        assert {h["document_id"] for h in hits} == {_document(run, rel)["id"]}, rel


def test_wrong_extension_is_sniffed_from_the_content(run):
    assert _document(run, "a/01/anh-chup.pdf")["format"] == "png"


def test_owner_password_pdfs_are_read_and_say_so(run):
    for kind, (_, opens) in bad.ENCRYPTIONS.items():
        if opens:
            encryption = _stored_notes(run, f"a/02/{kind}.pdf")["encryption"]
            assert encryption["owner_password_only"] is True
            assert encryption["method"] == ("AES-256" if "aes" in kind else "RC4-40")


def test_signed_input_kept_byte_identical_signature_reported_derivative_signed(run):
    settings, rel = run["settings"], "a/03/da-ky-so.pdf"
    doc = _document(run, rel)
    original = blob_path(settings.repository, doc["sha256"], ".pdf")
    assert _sha(original) == run["hashes"][rel]
    (report,) = verify_pdf(original.read_bytes(), settings)
    assert report.intact and report.trusted
    reported = _stored_notes(run, rel)["input_signatures"]
    assert [(r["intact"], r["trusted"]) for r in reported] == [(True, True)]
    derivative = blob_path(settings.repository, doc["signed_sha256"], ".signed.pdf")
    (ours,) = verify_pdf(derivative.read_bytes(), settings)
    assert ours.intact and ours.valid and ours.trusted
    assert "40301" in _text(run, rel)


def test_existing_text_is_kept_and_found_once(run):
    rel = "a/04/hon-hop.pdf"
    rows = (
        run["catalog"]
        .db.execute(
            "SELECT idx, mean_conf, text FROM pages WHERE document_id = ? ORDER BY idx",
            (_document(run, rel)["id"],),
        )
        .fetchall()
    )
    assert rows[0]["text"] == "PHIEU TIEP NHAN 40401" and rows[0]["mean_conf"] == 100
    assert "40402" in rows[1]["text"]
    signed = blob_path(
        run["settings"].repository, _document(run, rel)["signed_sha256"], ".signed.pdf"
    )
    document = pdfium.PdfDocument(str(signed))
    text = "".join(page.get_textpage().get_text_range() for page in document)
    assert text.count("40401") == 1 and text.count("40402") == 1


@pytest.mark.parametrize("name", ["khong-dpi", "dpi-1", "dpi-72"])
def test_missing_or_absurd_dpi_gives_an_a4_page(run, name):
    rel = f"a/05/{name}.png"
    doc = _document(run, rel)
    signed = blob_path(run["settings"].repository, doc["signed_sha256"], ".signed.pdf")
    with pikepdf.open(signed) as pdf:
        box = [float(v) for v in pdf.pages[0].mediabox]
    assert abs(box[2] - 595) < 6  # A4 is 595 x 842 points
    assert _stored_notes(run, rel)["dpi_estimated"] == [1]


def test_orientation_fixes_are_recorded(run):
    assert _stored_notes(run, "a/06/exif-6.jpg")["exif_rotated"] == [1]
    assert _stored_notes(run, "a/06/exif-0.jpg")["exif_invalid"] == [1]


def test_every_page_of_the_mixed_tiff_is_read(run):
    rel = "a/08/mixed.tiff"
    token = EXPECTED[rel][2]
    rows = (
        run["catalog"]
        .db.execute(
            "SELECT text FROM pages WHERE document_id = ?", (_document(run, rel)["id"],)
        )
        .fetchall()
    )
    assert len(rows) == 5
    assert all(token in row[0] for row in rows)


@pytest.mark.parametrize("kind", ["no-xref", "junk-after-eof", "zeroed-xref"])
def test_repaired_pdfs_are_recorded_with_all_pages(run, kind):
    rel = f"a/09/{kind}.pdf"
    notes = _stored_notes(run, rel)
    assert notes["repaired"] is True and notes["pages"] == 3
    assert _document(run, rel)["sha256"] == run["hashes"][rel]  # the raw bytes
    assert "Trang so 2 kiem tra sua loi" in _text(run, rel)


def test_vietnamese_names_in_nfc_and_nfd(run):
    settings = run["settings"]
    nfd = unicodedata.normalize("NFD", NAME_NFC)
    folder = settings.processed / FILED
    names = sorted(os.fsencode(p.name) for p in folder.iterdir())
    assert names == sorted([NAME_NFC.encode(), nfd.encode()])  # raw names kept
    for rel in (f"{FILED}/{NAME_NFC}", f"{FILED}/{nfd}"):
        doc = _document(run, rel)
        assert doc["original_name"] == NAME_NFC
        assert (doc["unit"], doc["dossier"]) == (UNIT_NFC, "HS-0007")


def test_duplicate_is_linked_and_not_read_again(run):
    catalog = run["catalog"]
    doc = _document(run, "b/11/ban-sao.pdf")
    links = catalog.db.execute(
        "SELECT unit, dossier, duplicate FROM dossier_papers WHERE document_id = ?"
        " ORDER BY duplicate",
        (doc["id"],),
    ).fetchall()
    assert [tuple(r) for r in links] == [("a", "01", 0), ("b", "11", 1)]
    (outcome,) = [o for o in run["outcomes"] if o.status == "duplicate"]
    assert outcome.document_id == doc["id"] and not outcome.stage_seconds


def test_logs_at_info_and_above_hold_no_file_names(run):
    text = "\n".join(run["logs"])
    assert run["logs"], "the watcher logged nothing"
    for rel in EXPECTED:
        for part in Path(unicodedata.normalize("NFC", rel)).parts:
            if not part.isascii() or "." in part:
                assert part not in unicodedata.normalize("NFC", text), part
