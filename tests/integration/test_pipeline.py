"""The whole pipeline on generated samples: real Tesseract, signing and SQLite.

One run of the watcher over the demo set serves every oracle below.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pikepdf
import pytest

from digitize.cli import main
from digitize.ingest import Watcher
from digitize.keys import ensure_signing_key
from digitize.metrics import char_error_rate
from digitize.query import find_by_id, search_text
from digitize.sign import verify_pdf
from digitize.store import Catalog, blob_path
from samples.generate import generate

pytestmark = pytest.mark.slow

CORRUPT = "xa-loi/H99-0001/hong.pdf"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Generate the demo set, add a corrupt file, drain the inbox once."""
    from digitize.config import load_settings

    root = tmp_path_factory.mktemp("e2e")
    truth = generate(root / "samples", seed=11, set_name="demo")
    settings = replace(
        load_settings(),
        home=root / "home",
        watch_settle_s=0.0,
        watch_poll_s=0.05,
        watch_young_s=2.0,
    )
    inbox = root / "inbox"
    shutil.copytree(root / "samples" / "inbox", inbox)
    corrupt = inbox / CORRUPT
    corrupt.parent.mkdir(parents=True)
    corrupt.write_bytes(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog")
    hashes = {
        p.relative_to(inbox).as_posix(): _sha(p)
        for p in inbox.rglob("*")
        if p.is_file()
    }
    ensure_signing_key(settings)
    catalog = Catalog(settings.catalog)
    outcomes = Watcher(inbox, settings, catalog).drain()
    yield {
        "truth": truth,
        "settings": settings,
        "inbox": inbox,
        "hashes": hashes,
        "catalog": catalog,
        "outcomes": outcomes,
    }
    catalog.close()


def test_each_file_ingested_exactly_once(run):
    truth, settings, catalog = run["truth"], run["settings"], run["catalog"]
    assert not [p for p in run["inbox"].rglob("*") if p.is_file()]
    processed = {
        p.relative_to(settings.processed).as_posix()
        for p in settings.processed.rglob("*")
        if p.is_file()
    }
    assert processed == set(truth["files"])
    count = catalog.db.execute("SELECT count(*) FROM documents").fetchone()[0]
    assert count == len(truth["files"])


def test_originals_unchanged_and_stored(run):
    settings, catalog = run["settings"], run["catalog"]
    for rel in run["truth"]["files"]:
        sha = run["hashes"][rel]
        assert _sha(settings.processed / rel) == sha
        row = catalog.find_document_by_sha(sha)
        assert row is not None, rel
        assert _sha(blob_path(settings.repository, sha, "." + row["format"])) == sha


def test_page_count_in_equals_out(run):
    settings, catalog = run["settings"], run["catalog"]
    for rel, info in run["truth"]["files"].items():
        row = catalog.find_document_by_sha(run["hashes"][rel])
        assert row["pages"] == len(info["pages"]), rel
        signed = blob_path(settings.repository, row["signed_sha256"], ".signed.pdf")
        with pikepdf.open(signed) as pdf:
            assert len(pdf.pages) == len(info["pages"]), rel


def test_ocr_character_error_rate_on_clean_pages(run):
    catalog, rates = run["catalog"], []
    for rel, info in run["truth"]["files"].items():
        if info["kind"] != "document":
            continue
        doc = catalog.find_document_by_sha(run["hashes"][rel])
        for index, page in enumerate(info["pages"]):
            text = catalog.db.execute(
                "SELECT text FROM pages WHERE document_id = ? AND idx = ?",
                (doc["id"], index),
            ).fetchone()[0]
            rate = char_error_rate(page["text"], text)
            print(f"CER {rel} p.{index + 1}: {rate:.2%} clean={page['clean']}")
            if page["clean"]:
                rates.append(rate)
    assert rates, "the sample set has no clean document pages"
    assert max(rates) < 0.05


def test_every_card_id_number_and_birth_date_found(run):
    catalog = run["catalog"]
    for person in run["truth"]["persons"]:
        found = find_by_id(catalog, person["id_number"])
        assert found["date_of_birth"] == person["date_of_birth"]


def test_lookup_by_id_returns_that_persons_documents(run):
    catalog, truth = run["catalog"], run["truth"]
    for person in truth["persons"]:
        expected = {
            catalog.find_document_by_sha(run["hashes"][rel])["id"]
            for rel, info in truth["files"].items()
            if person["id_number"] in info["persons"]
        }
        found = find_by_id(catalog, person["id_number"])
        assert {d["id"] for d in found["documents"]} == expected


def test_every_signed_pdf_validates(run):
    settings, catalog = run["settings"], run["catalog"]
    rows = catalog.db.execute("SELECT signed_sha256, unsigned_sha256 FROM documents")
    for signed_sha, unsigned_sha in rows:
        data = blob_path(settings.repository, signed_sha, ".signed.pdf").read_bytes()
        unsigned = blob_path(settings.repository, unsigned_sha, ".unsigned.pdf")
        assert data.startswith(unsigned.read_bytes())
        (report,) = verify_pdf(data, settings)
        assert report.intact and report.valid and report.trusted


def test_planted_phrase_found_once_with_and_without_diacritics(run):
    catalog, planted = run["catalog"], run["truth"]["planted"]
    expected = catalog.find_document_by_sha(run["hashes"][planted["file"]])["id"]
    from digitize.extract.names import fold

    for query in (planted["phrase"], fold(planted["phrase"]).lower()):
        hits = search_text(catalog, query)
        assert [h["document_id"] for h in hits] == [expected], query


def test_corrupt_file_quarantined_with_reason(run):
    settings = run["settings"]
    target = settings.quarantine / CORRUPT
    assert target.read_bytes() == b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog"
    reason = json.loads((target.parent / (target.name + ".reason.json")).read_text())
    assert reason["code"] == "input.damaged_pdf"
    assert reason["stage"] == "open"
    failed = [o for o in run["outcomes"] if o.status == "failed"]
    assert [o.name for o in failed] == ["hong.pdf"]


def test_ingest_twice_stores_once(run, tmp_path, capsys, monkeypatch):
    settings = run["settings"]
    rel = next(iter(run["truth"]["files"]))
    source = settings.processed / rel
    copy = tmp_path / "again" / source.name
    copy.parent.mkdir()
    shutil.copy2(source, copy)
    monkeypatch.setenv("DIGITIZE_HOME", str(settings.home))
    before = run["catalog"].db.execute("SELECT count(*) FROM documents").fetchone()[0]
    assert main(["ingest", "--json", str(copy), str(copy)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [r["status"] for r in result] == ["duplicate", "duplicate"]
    after = run["catalog"].db.execute("SELECT count(*) FROM documents").fetchone()[0]
    assert after == before
    assert copy.exists()


def test_cli_lookup_and_search(run, capsys, monkeypatch):
    monkeypatch.setenv("DIGITIZE_HOME", str(run["settings"].home))
    person = run["truth"]["persons"][0]
    assert main(["find", "--json", "--id", person["id_number"]]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found[0]["id_number"] == person["id_number"]
    assert main(["find", "--id", "12ab"]) == 9
    assert main(["search", "--json", run["truth"]["planted"]["phrase"]]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1
