"""Crash safety, proven by killing the worker process at every stage boundary in turn.

For each boundary a fresh inbox is drained by `python -m digitize watch --once` with
DIGITIZE_FAULT_AT set, which SIGKILLs the process when a file reaches that boundary;
a second run without it must then leave every file exactly once in the repository (or
duplicates, or quarantine), nothing lost, nothing doubled, no orphan blobs or rows.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from digitize.config import load_settings
from digitize.keys import ensure_signing_key
from digitize.ledger import Ledger
from digitize.store import Catalog, blob_path
from tests.fixtures import badinputs as bad

pytestmark = pytest.mark.slow

STAGES = [
    "claimed", "duplicate", "opened", "ocr", "extract", "pdf", "sign", "blobs",
    "committed", "decided", "moved",
]  # fmt: skip
ROOT = Path(__file__).resolve().parents[2]


def _files() -> dict[str, bytes]:
    scan = bad.save(bad.text_image(["Giấy tờ số 61001", "Hồ sơ đăng ký"]), "PNG")
    return {
        "xa-a/HS-1/anh.png": scan,
        "xa-a/HS-1/don.pdf": bad.text_pdf(["DON DE NGHI 61002"]),
        "xa-a/HS-2/the.png": bad.save(bad.text_image(["Thẻ số 61003"]), "PNG"),
        "xa-b/HS-3/ban-sao.png": scan,
        "xa-b/HS-3/hong.pdf": bad.damaged_pdf("garbage"),
    }


EXPECTED = {
    "xa-a/HS-1/anh.png": {"processed", "duplicates"},
    "xa-a/HS-1/don.pdf": {"processed"},
    "xa-a/HS-2/the.png": {"processed"},
    "xa-b/HS-3/ban-sao.png": {"processed", "duplicates"},
    "xa-b/HS-3/hong.pdf": {"quarantine"},
}


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    home = tmp_path_factory.mktemp("keys")
    ensure_signing_key(replace(load_settings(), home=home))
    return home / "keys"


def _watch_once(home: Path, inbox: Path, fault: str | None) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGITIZE_")}
    env.update(
        DIGITIZE_HOME=str(home),
        DIGITIZE_WATCH_SETTLE_S="0",
        DIGITIZE_WATCH_POLL_S="0.1",
        DIGITIZE_WATCH_YOUNG_S="0",
        PYTHONPATH=str(ROOT),
    )
    if fault:
        env["DIGITIZE_FAULT_AT"] = fault
    proc = subprocess.run(
        [sys.executable, "-m", "digitize", "-q", "watch", "--once", str(inbox)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=240,
    )
    return proc.returncode


def _put_away(home: Path) -> dict[str, list[tuple[str, Path]]]:
    """Every file in processed/, duplicates/ and quarantine/ by relative path."""
    found: dict[str, list[tuple[str, Path]]] = {}
    for folder in ("processed", "duplicates", "quarantine"):
        for path in sorted((home / folder).rglob("*")):
            if path.is_file() and not path.name.endswith(".reason.json"):
                rel = path.relative_to(home / folder).as_posix()
                found.setdefault(rel, []).append((folder, path))
    return found


def _referenced_blobs(catalog: Catalog, repository: Path) -> set[Path]:
    wanted = set()
    for row in catalog.db.execute("SELECT * FROM documents"):
        wanted.add(blob_path(repository, row["sha256"], "." + row["format"]))
        wanted.add(blob_path(repository, row["unsigned_sha256"], ".unsigned.pdf"))
        wanted.add(blob_path(repository, row["signed_sha256"], ".signed.pdf"))
    return wanted


def _check_exactly_once(home: Path, inbox: Path, files: dict[str, bytes]) -> None:
    assert not [p for p in inbox.rglob("*") if p.is_file()], "files left in the inbox"
    found = _put_away(home)
    assert sorted(found) == sorted(files), "lost or renamed files"
    for rel, places in found.items():
        assert len(places) == 1, f"{rel} is in {places}"
        folder, path = places[0]
        assert folder in EXPECTED[rel], (rel, folder)
        assert path.read_bytes() == files[rel], f"{rel} changed"
    pair = [found[rel][0][0] for rel in ("xa-a/HS-1/anh.png", "xa-b/HS-3/ban-sao.png")]
    assert sorted(pair) == ["duplicates", "processed"]
    reason = home / "quarantine" / "xa-b/HS-3/hong.pdf.reason.json"
    assert '"input.damaged_pdf"' in reason.read_text()

    catalog = Catalog(home / "catalog.sqlite3")
    try:
        _check_catalog(catalog, home, files)
    finally:
        catalog.close()
    ledger = Ledger(home / "ledger.sqlite3")
    try:
        assert ledger.entries() == [], "entries left in progress"
    finally:
        ledger.close()
    assert not [p for p in (home / "work").rglob("*") if p.is_file()]


def _check_catalog(catalog: Catalog, home: Path, files: dict[str, bytes]) -> None:
    good = {hashlib.sha256(data).hexdigest() for rel, data in files.items()
            if "quarantine" not in EXPECTED[rel]}  # fmt: skip
    rows = catalog.db.execute("SELECT sha256 FROM documents").fetchall()
    assert sorted(r[0] for r in rows) == sorted(good), "documents missing or doubled"
    repository = home / "repository"
    on_disk = {p for p in repository.rglob("*") if p.is_file()}
    assert on_disk == _referenced_blobs(catalog, repository), "orphan or missing blobs"
    for table in ("pages", "fields", "links", "dossier_papers", "input_signatures"):
        orphans = catalog.db.execute(
            f"SELECT count(*) FROM {table} WHERE document_id NOT IN"
            " (SELECT id FROM documents)"
        ).fetchone()[0]
        assert orphans == 0, f"orphan rows in {table}"
    pages = catalog.db.execute("SELECT count(*) FROM pages").fetchone()[0]
    indexed = catalog.db.execute("SELECT count(*) FROM pages_fts").fetchone()[0]
    assert pages == indexed == 3
    papers = catalog.db.execute(
        "SELECT unit, dossier, file_name, duplicate FROM dossier_papers"
    ).fetchall()
    assert sorted((r[0], r[1], r[2]) for r in papers) == sorted(
        tuple(rel.split("/")) for rel in files if "quarantine" not in EXPECTED[rel]
    )
    assert sum(r[3] for r in papers) == 1


@pytest.mark.parametrize("stage", STAGES)
def test_killed_at_each_stage_boundary_then_restarted(tmp_path, keys, stage):
    home, inbox = tmp_path / "home", tmp_path / "inbox"
    shutil.copytree(keys, home / "keys")
    files = _files()
    for rel, data in files.items():
        (inbox / rel).parent.mkdir(parents=True, exist_ok=True)
        (inbox / rel).write_bytes(data)

    assert _watch_once(home, inbox, stage) == -signal.SIGKILL, "no kill at " + stage
    assert _watch_once(home, inbox, None) == 0
    _check_exactly_once(home, inbox, files)


def test_a_file_that_kills_the_worker_every_time_goes_to_quarantine(tmp_path, keys):
    home, inbox = tmp_path / "home", tmp_path / "inbox"
    shutil.copytree(keys, home / "keys")
    path = inbox / "xa-a" / "HS-9" / "doc.pdf"
    path.parent.mkdir(parents=True)
    path.write_bytes(bad.text_pdf(["GIET 61009"]))
    for _ in range(3):  # watch_max_crashes
        assert _watch_once(home, inbox, "opened") == -signal.SIGKILL
    assert _watch_once(home, inbox, None) == 0
    reason = (home / "quarantine" / "xa-a/HS-9/doc.pdf.reason.json").read_text()
    assert '"ingest.crashed"' in reason and "stopped 3 times" in reason
    assert not [p for p in (home / "repository").rglob("*") if p.is_file()]
