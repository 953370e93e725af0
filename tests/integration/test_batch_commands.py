"""Batch commands on a small real repository: tiny generated pages through Tesseract
and signing, then reprocess (interrupted and resumed, and in worker processes),
check (a rotted signed file found, its fix run), export and import, and the report.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from digitize.cli import main
from digitize.config import load_settings
from digitize.keys import ensure_signing_key
from digitize.pipeline import process_file
from digitize.store import Catalog, blob_path

pytestmark = pytest.mark.slow

_FILES = [("xa-a", "hs-1"), ("xa-a", "hs-1"), ("xa-b", "hs-2"), ("xa-b", "hs-3")]


def _tiny_page(n: int, path: Path) -> None:
    """Three lines of the district plan on a strip of paper: Tesseract reads it fast."""
    from samples.pages import load_corpus, paginate, render_page

    lines = paginate(load_corpus())[n][:3]
    image = render_page(lines, 300).crop((300, 200, 2300, 520))
    image.save(path, dpi=(300, 300))


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A repository of four one-page documents, built once and copied per test."""
    root = tmp_path_factory.mktemp("batch-repo")
    settings = replace(load_settings(), home=root / "home")
    ensure_signing_key(settings)
    catalog = Catalog(settings.catalog)
    for n, (unit, dossier) in enumerate(_FILES):
        scan = root / f"page{n}.png"
        _tiny_page(n, scan)
        outcome = process_file(scan, settings, catalog, unit=unit, dossier=dossier)
        catalog.link_paper(unit, dossier, outcome.document_id, scan.name)
    catalog.close()
    return root / "home"


@pytest.fixture
def home(template, tmp_path, monkeypatch) -> Path:
    import os

    for key in list(os.environ):
        if key.startswith("DIGITIZE_"):
            monkeypatch.delenv(key)
    home = tmp_path / "home"
    shutil.copytree(template, home)
    monkeypatch.setenv("DIGITIZE_HOME", str(home))
    return home


def _cli(capsys, *argv: str) -> tuple[int, str]:
    code = main(["-q", *argv])
    return code, capsys.readouterr().out


def _ids(home: Path) -> list[str]:
    catalog = Catalog(home / "catalog.sqlite3")
    ids = [r[0] for r in catalog.db.execute("SELECT id FROM documents ORDER BY rowid")]
    catalog.close()
    return ids


def _versions(home: Path) -> dict[str, int]:
    catalog = Catalog(home / "catalog.sqlite3")
    rows = catalog.db.execute(
        "SELECT document_id, count(*) FROM versions GROUP BY document_id"
    )
    counts = {r[0]: r[1] for r in rows}
    catalog.close()
    return counts


def test_reprocess_interrupted_then_resumed(home, capsys, monkeypatch):
    import digitize.reprocess

    real = digitize.reprocess.reprocess_document
    calls: list[str] = []

    def interrupted(document_id, settings, catalog):
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C while the third document is read
        calls.append(document_id)
        return real(document_id, settings, catalog)

    monkeypatch.setattr(digitize.reprocess, "reprocess_document", interrupted)
    assert _cli(capsys, "reprocess", "--all")[0] == 130
    assert len(calls) == 2

    monkeypatch.setattr(digitize.reprocess, "reprocess_document", real)
    code, out = _cli(capsys, "reprocess", "--all")
    assert code == 0
    assert "reprocess: 4 done, 0 failed" in out
    assert "(2 already done by the interrupted run)" in out
    # Every document got exactly one new version; the old ones stay retrievable.
    assert _versions(home) == dict.fromkeys(_ids(home), 2)
    assert _cli(capsys, "check")[0] == 0


def test_reprocess_interrupted_after_a_commit_does_not_redo_it(
    home, capsys, monkeypatch
):
    import digitize.reprocess

    real = digitize.reprocess.reprocess_document
    calls: list[str] = []

    def committed_then_interrupted(document_id, settings, catalog):
        result = real(document_id, settings, catalog)
        calls.append(document_id)
        if len(calls) == 2:
            raise KeyboardInterrupt  # stored, but the run has not recorded it yet
        return result

    monkeypatch.setattr(
        digitize.reprocess, "reprocess_document", committed_then_interrupted
    )
    assert _cli(capsys, "reprocess", "--all")[0] == 130
    monkeypatch.setattr(digitize.reprocess, "reprocess_document", real)
    code, out = _cli(capsys, "reprocess", "--all")
    assert code == 0 and "(2 already done by the interrupted run)" in out
    assert _versions(home) == dict.fromkeys(_ids(home), 2)


def test_reprocess_in_worker_processes(home, capsys):
    code, out = _cli(capsys, "reprocess", "--unit", "xa-b", "--processes", "2")
    assert code == 0 and "reprocess: 2 done" in out
    counts = _versions(home)
    assert [counts[i] for i in _ids(home)] == [1, 1, 2, 2]


def test_check_finds_a_rotted_signed_file_and_its_fix_works(home, capsys):
    victim = _ids(home)[1]
    catalog = Catalog(home / "catalog.sqlite3")
    sha = catalog.db.execute(
        "SELECT signed_sha256 FROM documents WHERE id = ?", (victim,)
    ).fetchone()[0]
    catalog.close()
    path = blob_path(home / "repository", sha, ".signed.pdf")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the middle of the file
    path.write_bytes(bytes(data))

    code, out = _cli(capsys, "check")
    assert code == 8
    assert f"{victim}  signed file does not match its hash" in out
    assert f"fix: digitize reprocess --document {victim}" in out

    # The fix makes a sound current version; the rotted one stays listed as old.
    assert _cli(capsys, "reprocess", "--document", victim)[0] == 0
    code, out = _cli(capsys, "check", "--restart")
    assert code == 8
    assert out.count("fix:") == 1
    assert "version 1 (superseded) signed file does not match its hash" in out
    assert "from a backup (an old version cannot be made again)" in out


def test_export_then_import_elsewhere(home, tmp_path, capsys, monkeypatch):
    code, out = _cli(capsys, "export", "--out", str(tmp_path / "zips"))
    assert code == 0 and "export: 3 done" in out
    other = tmp_path / "other"
    monkeypatch.setenv("DIGITIZE_HOME", str(other))
    # The receiving office trusts the sending office's CA.
    monkeypatch.setenv("DIGITIZE_SIGN_TRUST_ROOTS", str(home / "keys" / "root.pem"))
    zips = sorted(str(p) for p in (tmp_path / "zips").glob("*.zip"))
    assert _cli(capsys, "import", *zips)[0] == 0
    code, out = _cli(capsys, "check")
    assert code == 0, out

    sql = "SELECT id, sha256, unsigned_sha256, signed_sha256 FROM documents ORDER BY id"
    mine, theirs = Catalog(home / "catalog.sqlite3"), Catalog(other / "catalog.sqlite3")
    assert [tuple(r) for r in theirs.db.execute(sql)] == [
        tuple(r) for r in mine.db.execute(sql)
    ]
    for row in mine.db.execute("SELECT signed_sha256 FROM documents"):
        name = blob_path(Path(), row[0], ".signed.pdf")
        assert (other / "repository" / name).read_bytes() == (
            home / "repository" / name
        ).read_bytes()
    mine.close()
    theirs.close()


def test_report_equals_the_catalog(home, capsys):
    from datetime import datetime

    from digitize.report import VIETNAM

    now = datetime.now(VIETNAM)
    quarter = f"{now.year}-Q{(now.month - 1) // 3 + 1}"
    code, out = _cli(capsys, "report", "--quarter", quarter, "--json")
    assert code == 0
    figures = {f["unit"]: f for f in json.loads(out)}
    catalog = Catalog(home / "catalog.sqlite3")
    for unit, docs, pages, signed, dossiers in catalog.db.execute(
        "SELECT unit, count(*), sum(pages), count(signed_sha256),"
        " count(DISTINCT dossier) FROM documents GROUP BY unit"
    ):
        got = figures[unit]
        assert (got["documents"], got["pages"], got["signed"], got["dossiers"]) == (
            docs, pages, signed, dossiers,
        )  # fmt: skip
        assert got["median_drop_to_signed_s"] is not None
    catalog.close()


def test_mistakes_in_a_selection_are_typed_errors_not_empty_runs(
    home, capsys, tmp_path
):
    before = _versions(home)
    assert main(["check", "--type", "cccd_2021_front"]) == 9
    assert "types on file:" in capsys.readouterr().err
    assert main(["reprocess", "deadbeef"]) == 10
    assert main(["check", "--since", "2026-12-01", "--until", "2026-01-01"]) == 9
    with pytest.raises(SystemExit) as usage:
        main(["check", "--processes", "0"])
    assert usage.value.code == 2
    pdf = tmp_path / "no" / "q.pdf"
    assert main(["report", "--quarter", "2026-Q4", "--pdf", str(pdf)]) == 8
    assert "cannot write" in capsys.readouterr().err
    assert _versions(home) == before  # nothing was reprocessed along the way
