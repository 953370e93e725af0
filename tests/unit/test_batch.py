"""Batch machinery and commands on a small synthetic repository (no Tesseract).

Documents are stored as the store stage stores them (blobs under their hashes, rows in
one transaction), from generated page text; signing is left out: the slow integration
test covers reprocess and signature checks with the real tools.
"""

from __future__ import annotations

import json
import sqlite3
import zipfile
from pathlib import Path

import pytest

from digitize.batch import (
    BatchRun,
    Outcome,
    Selection,
    run_batch,
    select_documents,
)
from digitize.batch.check import check_document
from digitize.batch.reindex import LIVE, NEW, build_new, swap_index
from digitize.cli import main
from digitize.errors import QueryError
from digitize.progress import progress_bar
from digitize.query import search_text
from digitize.records import Field, Paper
from digitize.store import Catalog, DocumentRecord, blob_path, write_blob
from tests.factories import ocr_page_from_lines

_TEXTS = [
    "Kế hoạch cải cách thủ tục hành chính",
    "Đẩy mạnh số hóa hồ sơ tại bộ phận một cửa",
    "Giấy khai sinh bản sao",
    "Đơn đề nghị cấp căn cước",
]


def _store(settings, catalog, n: int, unit: str, dossier: str, *, fields=False):
    """One stored document: original and a (fake) derivative blob, rows, index."""
    text = _TEXTS[n % len(_TEXTS)] + f" số {n}"
    original = write_blob(settings.repository, f"scan {n} {unit}".encode(), ".png")
    derivative = write_blob(
        settings.repository, f"%PDF-1.7 {n}".encode(), ".unsigned.pdf"
    )
    papers = []
    if fields:
        field = Field("id_number", f"0791900012{n:02d}", "raw", "ocr", 0.95)
        papers = [Paper(0, "cccd_2021_front", {"id_number": field})]
    record = DocumentRecord(
        sha256=original, original_name=f"page{n}.png", format="png",
        size_bytes=10, pages=[ocr_page_from_lines([text])], papers=papers,
        unit=unit, dossier=dossier, unsigned_sha256=derivative,
    )  # fmt: skip
    catalog.add_document(record)
    catalog.link_paper(unit, dossier, record.id, f"page{n}.png")
    return record.id


@pytest.fixture
def repo(settings, catalog):
    ids = [
        _store(settings, catalog, 0, "xa-a", "hs-1", fields=True),
        _store(settings, catalog, 1, "xa-a", "hs-1"),
        _store(settings, catalog, 2, "xa-b", "hs-2", fields=True),
        _store(settings, catalog, 3, "xa-b", "hs-3"),
    ]
    return ids


@pytest.fixture
def cli(settings, monkeypatch, capsys):
    monkeypatch.setenv("DIGITIZE_HOME", str(settings.home))

    def run(*argv: str) -> tuple[int, str]:
        code = main(["-q", *argv])
        return code, capsys.readouterr().out

    return run


# --- selection ---------------------------------------------------------------------


def test_selection_by_unit_dossier_type_status_and_id(catalog, repo):
    assert select_documents(catalog, Selection()) == repo
    assert select_documents(catalog, Selection(units=("xa-b",))) == repo[2:]
    assert select_documents(catalog, Selection(dossiers=("hs-1", "hs-3"))) == [
        repo[0], repo[1], repo[3],
    ]  # fmt: skip
    assert select_documents(catalog, Selection(types=("cccd_2021_front",))) == [
        repo[0], repo[2],
    ]  # fmt: skip
    assert select_documents(catalog, Selection(statuses=("no-fields",))) == [
        repo[1], repo[3],
    ]  # fmt: skip
    assert select_documents(catalog, Selection(statuses=("signed",))) == []
    assert select_documents(catalog, Selection(documents=(repo[1][:6],))) == [repo[1]]


def test_selection_by_dates(catalog, repo):
    catalog.db.execute(
        "UPDATE documents SET created_at = '2026-07-02T03:00:00+00:00' WHERE id = ?",
        (repo[0],),
    )
    catalog.db.commit()
    july = Selection(since="2026-07-01", until="2026-07-02")
    assert select_documents(catalog, july) == [repo[0]]
    assert repo[0] not in select_documents(catalog, Selection(since="2026-07-03"))


@pytest.mark.parametrize(
    ("values", "code"),
    [
        ({"since": "2026-13-01"}, "query.bad_date"),
        ({"until": "yesterday"}, "query.bad_date"),
        ({"statuses": ("shiny",)}, "query.invalid"),
        ({"documents": ("not-hex!",)}, "query.bad_document"),
    ],
)
def test_selection_refuses_bad_values(values, code):
    with pytest.raises(QueryError) as err:
        Selection(**values)
    assert err.value.code == code


# --- runs, resume, progress ---------------------------------------------------------

_CALLS: list[str] = []


def _work(item: str, settings) -> Outcome:
    if item == "boom":
        raise KeyboardInterrupt  # an operator's Ctrl-C in the middle of the run
    _CALLS.append(item)
    return Outcome(item, "failed" if item == "bad" else "done")


def test_interrupted_run_resumes_where_it_stopped(settings, catalog):
    _CALLS.clear()
    items = ["a", "b", "boom", "c"]
    with pytest.raises(KeyboardInterrupt):
        run_batch(BatchRun(catalog, "t", "k"), items, _work, settings)
    assert _CALLS == ["a", "b"]

    items[2] = "bad"  # the same run, resumed: only what is not done yet
    summary = run_batch(BatchRun(catalog, "t", "k"), items, _work, settings)
    assert _CALLS == ["a", "b", "bad", "c"]
    assert (summary.done, summary.failed, summary.resumed) == (3, 1, 2)
    assert "2 already done by the interrupted run" in summary.line()

    # A finished run is not resumed: the next one starts afresh.
    again = run_batch(BatchRun(catalog, "t", "k"), ["a"], _work, settings)
    assert again.run_id != summary.run_id and again.resumed == 0


def test_unexpected_digitize_error_is_one_failed_item(settings, catalog, repo):
    from digitize.batch.work import reprocess_item

    summary = run_batch(
        BatchRun(catalog, "reprocess", "x"), ["0000000000000000"], reprocess_item,
        settings,
    )  # fmt: skip
    assert summary.failed == 1
    assert summary.outcomes[0].detail["code"] == "query.not_found"


def test_progress_bar_is_off_without_a_terminal(capsys):
    with progress_bar(3, "page", "ocr") as advance:
        advance(1)
    assert capsys.readouterr().err == ""


def test_dry_run_lists_and_changes_nothing(cli, catalog, repo):
    code, out = cli("reprocess", "--unit", "xa-a", "--dry-run")
    assert code == 0
    assert out.split()[:2] == repo[:2]
    assert "dry run, 2 would be handled" in out
    assert catalog.db.execute("SELECT count(*) FROM versions").fetchone()[0] == 0


def test_reprocess_needs_a_selection(cli, repo):
    code, _ = cli("reprocess")
    assert code == 9


# --- reindex -----------------------------------------------------------------------


def test_reindex_rebuilds_a_damaged_index(cli, catalog, repo):
    catalog.db.execute(f"DELETE FROM {LIVE} WHERE document_id = ?", (repo[1],))
    catalog.db.commit()
    assert not search_text(catalog, "bộ phận một cửa")
    code, out = cli("reindex")
    assert code == 0 and "reindex: 4 done" in out
    hits = search_text(catalog, "bo phan mot cua")
    assert [h["document_id"] for h in hits] == [repo[1]]


def test_searches_keep_working_while_the_index_is_rebuilt(settings, catalog, repo):
    reader = Catalog(settings.catalog)
    run = BatchRun(catalog, "reindex", Selection().key())
    build_new(catalog, run, repo, processes=1, advance=lambda n=1: None)
    # Built but not swapped: the live index still answers, from another connection.
    assert search_text(reader, "giấy khai sinh")
    # A document stored during the build is caught up by the swap.
    late = _store(settings, catalog, 5, "xa-c", "hs-9")
    assert swap_index(catalog, run.state["snapshot"]) == 1
    names = {r[0] for r in catalog.db.execute("SELECT name FROM sqlite_master")}
    assert NEW not in names and LIVE in names
    assert [h["document_id"] for h in search_text(reader, "mot cua so 5")] == [late]
    reader.close()


def test_reindex_of_a_selection_refreshes_those_documents(cli, catalog, repo):
    catalog.db.execute(f"DELETE FROM {LIVE}")
    catalog.db.commit()
    code, out = cli("reindex", "--unit", "xa-b")
    assert code == 0 and "2 done" in out
    rows = catalog.db.execute(f"SELECT DISTINCT document_id FROM {LIVE}").fetchall()
    assert sorted(r[0] for r in rows) == sorted(repo[2:])


# --- check -------------------------------------------------------------------------


def test_check_finds_a_corrupted_and_a_missing_blob(cli, settings, catalog, repo):
    assert cli("check")[0] == 0

    doc = catalog.db.execute(
        "SELECT * FROM documents WHERE id = ?", (repo[2],)
    ).fetchone()
    original = blob_path(settings.repository, doc["sha256"], ".png")
    original.write_bytes(b"rotted bytes")
    derivative = blob_path(settings.repository, doc["unsigned_sha256"], ".unsigned.pdf")
    derivative.unlink()
    code, out = cli("check")
    assert code == 8
    assert f"{repo[2]}  scan as received does not match its hash" in out
    assert "restore" in out and "from a backup" in out
    assert "derivative is missing" in out
    assert f"fix: digitize reprocess --document {repo[2]}" in out
    assert "check: 3 done, 1 failed" in out


def test_check_finds_rows_out_of_step(cli, catalog, repo):
    catalog.db.execute(f"DELETE FROM {LIVE} WHERE document_id = ?", (repo[0],))
    catalog.db.execute("UPDATE documents SET pages = 3 WHERE id = ?", (repo[1],))
    catalog.db.commit()
    catalog.db.execute("PRAGMA foreign_keys=OFF")  # a row left by a broken tool
    catalog.db.execute("INSERT INTO links VALUES (1, 'ffffffffffffffff', 'x')")
    catalog.db.commit()
    code, out = cli("check")
    assert code == 8
    assert "the search index holds 0 rows for 1 pages\n    fix: digitize reindex" in out
    assert "the catalog says 3 pages but holds 1 page rows" in out
    assert "1 rows of links belong to no document" in out


def test_check_of_a_vanished_document_is_skipped(settings, repo):
    outcome = check_document("0123456789abcdef", settings)
    assert outcome.status == "skipped"


# --- export and import ---------------------------------------------------------------


def test_export_import_round_trip_keeps_hashes_and_fields(
    cli, settings, catalog, repo, tmp_path, monkeypatch
):
    code, out = cli("export", "--out", str(tmp_path / "out"))
    assert code == 0 and "export: 3 done" in out
    zips = sorted((tmp_path / "out").glob("*.zip"))
    assert [z.name for z in zips] == [
        "xa-a__hs-1.zip",
        "xa-b__hs-2.zip",
        "xa-b__hs-3.zip",
    ]
    with zipfile.ZipFile(zips[0]) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["format"] == "digitize-dossier/1"
    assert [d["id"] for d in manifest["documents"]] == sorted(repo[:2])

    other = tmp_path / "other"
    monkeypatch.setenv("DIGITIZE_HOME", str(other))
    code, out = cli("import", *map(str, zips))
    assert code == 0 and "import: 3 done" in out
    theirs = Catalog(other / "catalog.sqlite3")
    query = (
        "SELECT id, sha256, unsigned_sha256, unit, dossier, pages, created_at"
        " FROM documents ORDER BY id"
    )
    assert _rows(theirs, query) == _rows(catalog, query)
    fields = "SELECT document_id, name, value FROM fields ORDER BY document_id"
    assert _rows(theirs, fields) == _rows(catalog, fields)
    text = "SELECT document_id, idx, text FROM pages_fts ORDER BY document_id"
    assert _rows(theirs, text) == _rows(catalog, text)
    for sha, suffix in _rows(catalog, "SELECT sha256, '.png' FROM documents"):
        assert (blob_path(other / "repository", sha, suffix)).read_bytes() == (
            blob_path(settings.repository, sha, suffix).read_bytes()
        )
    # Importing again stores nothing twice.
    code, out = cli("import", *map(str, zips))
    assert "0 done, 0 failed, 3 skipped" in out
    theirs.close()


def test_import_refuses_a_package_whose_file_does_not_match(cli, repo, tmp_path):
    cli("export", "--out", str(tmp_path / "out"), "--dossier", "hs-2")
    package = tmp_path / "out" / "xa-b__hs-2.zip"
    with zipfile.ZipFile(package) as zf:
        entries = {name: zf.read(name) for name in zf.namelist()}
    name = next(n for n in entries if n.startswith("originals/"))
    entries[name] = b"not the scan"
    with zipfile.ZipFile(package, "w") as zf:
        for key, data in entries.items():
            zf.writestr(key, data)
    code, out = cli("import", str(package), "--restart")
    assert code == 1
    assert "input.bad_package" in out and "does not match the hash" in out


def _rows(catalog: Catalog, sql: str) -> list[tuple]:
    return [tuple(r) for r in catalog.db.execute(sql)]


# --- report ------------------------------------------------------------------------


def test_report_figures_equal_the_catalog(cli, settings, catalog, repo, tmp_path):
    from digitize.audit import AuditLog

    catalog.db.execute(
        "UPDATE documents SET signed_sha256 = 'x', signed_at = created_at WHERE id IN"
        " (?, ?)",
        (repo[0], repo[2]),
    )
    catalog.db.execute(  # stored in another quarter: not counted
        "UPDATE documents SET created_at = '2025-01-05T00:00:00+00:00' WHERE id = ?",
        (repo[3],),
    )
    catalog.db.commit()
    audit = AuditLog(settings.home / "audit.sqlite3")
    for action, target in [
        ("view.document", repo[0]),
        ("download.signed", repo[0]),
        ("view.document", repo[2]),
        ("search.text", "k"),
    ]:
        audit.record(username="quay1", role="counter", action=action, target=target)
    audit.close()
    quarter = _this_quarter()

    code, out = cli("report", "--quarter", quarter, "--csv", str(tmp_path / "r.csv"),
                    "--pdf", str(tmp_path / "r.pdf"), "--json")  # fmt: skip
    assert code == 0
    figures = {f["unit"]: f for f in json.loads(out)}
    expected = _expected(catalog, quarter)
    for unit, want in expected.items():
        got = figures[unit]
        assert (got["documents"], got["pages"], got["signed"], got["with_fields"],
                got["dossiers"]) == want  # fmt: skip
    assert figures["xa-a"]["reuses"] == 2 and figures["xa-b"]["reuses"] == 1
    assert figures["xa-a"]["share_signed"] == 0.5
    csv_text = (tmp_path / "r.csv").read_text()
    assert csv_text.splitlines()[0].startswith("unit,dossiers,documents,pages")
    pdf = (tmp_path / "r.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and _pdf_text(tmp_path / "r.pdf").count("xa-") >= 4


def _this_quarter() -> str:
    from datetime import datetime

    from digitize.report import VIETNAM

    now = datetime.now(VIETNAM)
    return f"{now.year}-Q{(now.month - 1) // 3 + 1}"


def _expected(catalog: Catalog, quarter: str) -> dict[str, tuple]:
    from digitize.report import quarter_bounds

    start, end = quarter_bounds(quarter)
    rows = catalog.db.execute(
        "SELECT unit, count(*), sum(pages), count(signed_sha256),"
        " sum(id IN (SELECT document_id FROM fields)), count(DISTINCT dossier)"
        " FROM documents WHERE created_at >= ? AND created_at < ? GROUP BY unit",
        (start, end),
    )
    return {r[0]: tuple(r[1:]) for r in rows}


def _pdf_text(path: Path) -> str:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(path))
    text = document[0].get_textpage().get_text_range()
    document.close()
    return text


def test_quarter_bounds_are_vietnam_time():
    from digitize.report import quarter_bounds

    assert quarter_bounds("2026-Q4") == (
        "2026-09-30T17:00:00+00:00",
        "2026-12-31T17:00:00+00:00",
    )
    assert quarter_bounds("2026-q1")[0] == "2025-12-31T17:00:00+00:00"
    with pytest.raises(QueryError):
        quarter_bounds("2026-Q5")


def test_batch_tables_are_additive(settings, catalog, repo):
    BatchRun(catalog, "t", "k")
    with sqlite3.connect(settings.catalog) as db:
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
    assert {"batch_runs", "batch_items", "documents", LIVE} <= names


def test_limitation_batch_commands_refuse_scaled_mode(cli, monkeypatch):
    monkeypatch.setenv("DIGITIZE_SCALE_MODE", "scaled")
    code, _ = cli("check")
    assert code == 2
