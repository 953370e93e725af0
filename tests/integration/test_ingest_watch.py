"""The watcher on real folders: settling, retries, duplicates, dossiers, liveness.

Most files here are born-digital PDFs (read from their own text layer, so Tesseract is
not needed) or go through a stand-in `tesseract` where the test is about the tool.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import stat
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from digitize.cli import main
from digitize.ingest import Watcher, read_status
from digitize.ingest import claim as claim_module
from digitize.ingest import worker as worker_module
from digitize.keys import ensure_signing_key
from digitize.ledger import ACTIVE, FINAL
from digitize.query import search_text
from digitize.store import Catalog
from digitize.tools import tesseract as tesseract_tool
from tests.fixtures import badinputs as bad

pytestmark = pytest.mark.slow
ALL_STATES = (*ACTIVE, *FINAL)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """One development key for the module, copied into each test's home."""
    from digitize.config import load_settings

    home = tmp_path_factory.mktemp("keys")
    ensure_signing_key(replace(load_settings(), home=home))
    return home / "keys"


@pytest.fixture
def env(settings, keys, tmp_path):
    shutil.copytree(keys, settings.keys)
    settings = replace(settings, watch_young_s=30.0, watch_retry_s=0.05)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    catalog = Catalog(settings.catalog)
    yield settings, inbox, catalog
    catalog.close()


def _drop(inbox: Path, rel: str, data: bytes) -> Path:
    path = inbox / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _until(watcher: Watcher, done, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, "timed out"
        watcher.step()
        time.sleep(0.05)


def _states(watcher: Watcher) -> list[str]:
    return [e.state for e in watcher.ledger.entries(*ALL_STATES)]


def test_young_file_that_does_not_parse_yet_is_retried_then_taken(env):
    settings, inbox, catalog = env
    whole = bad.text_pdf(["Trang mot 51001"], ["Trang hai"], ["Trang ba"])
    path = _drop(inbox, "u/d/dang-ghi.pdf", whole[: len(whole) // 2])
    watcher = Watcher(inbox, settings, catalog)
    watcher.start()
    try:
        _until(watcher, lambda: _states(watcher) == ["retry"])
        assert not settings.quarantine.exists()
        with path.open("ab") as handle:
            handle.write(whole[len(whole) // 2 :])
        _until(watcher, lambda: _states(watcher) == ["processed"])
    finally:
        watcher.close()
    (outcome,) = watcher.outcomes
    assert outcome.status == "stored" and outcome.pages == 3
    assert "repaired" not in outcome.notes  # the whole file, never a repaired half
    assert (settings.processed / "u/d/dang-ghi.pdf").read_bytes() == whole


def test_a_file_changed_after_it_was_queued_is_taken_again(env):
    settings, inbox, catalog = env
    path = _drop(inbox, "u/d/a.pdf", bad.text_pdf(["Ban dau 52001"]))
    watcher = Watcher(inbox, settings, catalog)
    watcher.start()
    try:
        watcher.step()
        (entry,) = watcher.ledger.entries()
        watcher.ledger.update(entry.id, state="queued")  # settled, not yet claimed
        final = bad.text_pdf(["Ban sua 52002"])
        path.write_bytes(final)
        assert watcher.worker.run(entry.id) is None
        assert watcher.ledger.get(entry.id).state == "seen"
        _until(watcher, lambda: _states(watcher) == ["processed"])
    finally:
        watcher.close()
    assert [h["document_id"] for h in search_text(catalog, "52002")]
    assert not search_text(catalog, "52001")
    digest = hashlib.sha256(final).hexdigest()
    assert catalog.find_document_by_sha(digest) is not None


def test_same_bytes_before_and_after_the_first_finished_are_duplicates(env):
    settings, inbox, catalog = env
    data = bad.text_pdf(["Giay to trung 53001"])
    _drop(inbox, "u/d1/a.pdf", data)
    _drop(inbox, "u/d2/ban-sao.pdf", data)
    first = Watcher(inbox, settings, catalog).drain()
    _drop(inbox, "u/d3/lai-nua.pdf", data)
    second = Watcher(inbox, settings, catalog).drain()
    statuses = sorted(o.status for o in first + second)
    assert statuses == ["duplicate", "duplicate", "stored"]
    assert not [p for p in inbox.rglob("*") if p.is_file()]  # nothing loops
    assert len(list(settings.duplicates.rglob("*.pdf"))) == 2
    assert catalog.db.execute("SELECT count(*) FROM documents").fetchone()[0] == 1
    links = catalog.db.execute(
        "SELECT dossier, duplicate FROM dossier_papers ORDER BY dossier"
    ).fetchall()
    assert sum(r["duplicate"] for r in links) == 2 and len(links) == 3
    events = catalog.db.execute("SELECT count(*) FROM events WHERE kind = 'duplicate'")
    assert events.fetchone()[0] == 2
    assert all(not o.stage_seconds for o in first + second if o.status == "duplicate")


def test_dossier_folders_and_manifests(env):
    settings, inbox, catalog = env
    good = inbox / "xa-ia-dom" / "H23-0001"
    _drop(good, "cccd.pdf", bad.text_pdf(["CAN CUOC 54001"]))
    _drop(good, "don.pdf", bad.text_pdf(["DON DE NGHI 54002"]))
    _drop(good, "manifest.json", json.dumps({
        "procedure_code": "1.001234", "applicant_id_number": "079190001234",
        "papers": {"cccd.pdf": "cccd", "don.pdf": "application_form"},
    }).encode())  # fmt: skip
    broken = inbox / "xa-ia-dom" / "H23-0002"
    _drop(broken, "giay.pdf", bad.text_pdf(["GIAY 54003"]))
    _drop(broken, "manifest.csv", b"file,paper_type,procedure_code\ngiay.pdf,xyz,abc\n")
    Watcher(inbox, settings, catalog).drain()
    rows = {
        r["code"]: r
        for r in catalog.db.execute("SELECT * FROM dossiers WHERE unit = 'xa-ia-dom'")
    }
    assert rows["H23-0001"]["procedure_code"] == "1.001234"
    assert rows["H23-0001"]["applicant_id_number"] == "079190001234"
    assert json.loads(rows["H23-0001"]["manifest_warnings"]) == []
    assert rows["H23-0002"]["procedure_code"] == ""
    warnings = json.loads(rows["H23-0002"]["manifest_warnings"])
    assert any("procedure code" in w for w in warnings)
    assert any("recorded as other" in w for w in warnings)
    papers = dict(
        catalog.db.execute("SELECT file_name, paper_type FROM dossier_papers")
    )
    assert papers == {
        "cccd.pdf": "cccd",
        "don.pdf": "application_form",
        "giay.pdf": "other",
    }
    docs = catalog.db.execute("SELECT DISTINCT unit, dossier FROM documents").fetchall()
    assert sorted(tuple(r) for r in docs) == [
        ("xa-ia-dom", "H23-0001"), ("xa-ia-dom", "H23-0002"),
    ]  # fmt: skip
    assert (settings.processed / "xa-ia-dom/H23-0002/manifest.csv").exists()
    assert not [p for p in inbox.rglob("*") if p.is_file()]


def test_transient_os_errors_are_retried_with_backoff(env, monkeypatch):
    settings, inbox, catalog = env
    real_open = claim_module.open_inside
    calls: dict[str, int] = {}

    def flaky(folder, relative):
        calls[relative.name] = calls.get(relative.name, 0) + 1
        if relative.name == "busy.pdf" and calls[relative.name] <= 2:
            raise OSError(errno.EBUSY, "Device or resource busy")
        if relative.name == "locked.pdf":
            raise OSError(errno.EACCES, "Permission denied")
        return real_open(folder, relative)

    monkeypatch.setattr(claim_module, "open_inside", flaky)
    _drop(inbox, "u/d/busy.pdf", bad.text_pdf(["SMB BAN 55001"]))
    locked = _drop(inbox, "u/d/locked.pdf", bad.text_pdf(["KHOA 55002"]))
    original = locked.read_bytes()
    watcher = Watcher(inbox, replace(settings, watch_retries=3), catalog)
    outcomes = {o.name: o for o in watcher.drain()}
    assert outcomes["busy.pdf"].status == "stored" and calls["busy.pdf"] == 3
    assert outcomes["locked.pdf"].error_code == "input.unreadable"
    assert calls["locked.pdf"] == 4  # the first try and three retries
    target = settings.quarantine / "u/d/locked.pdf"
    reason = json.loads(target.with_name("locked.pdf.reason.json").read_text())
    assert "EACCES" in reason["message"] and reason["attempts"] == 3
    assert "Permission denied" in reason["tool_message"]
    assert target.read_bytes() == original


def test_a_bug_in_one_file_does_not_stop_the_watcher(env, monkeypatch):
    settings, inbox, catalog = env
    real = worker_module.process_claim

    def buggy(claim, *args, **kwargs):
        if claim.name == "hong.pdf":
            raise KeyError("a bug")
        return real(claim, *args, **kwargs)

    monkeypatch.setattr(worker_module, "process_claim", buggy)
    _drop(inbox, "u/d/hong.pdf", bad.text_pdf(["LOI 56001"]))
    _drop(inbox, "u/d/tot.pdf", bad.text_pdf(["TOT 56002"]))
    outcomes = {o.name: o for o in Watcher(inbox, settings, catalog).drain()}
    assert outcomes["hong.pdf"].error_code == "internal.error"
    assert outcomes["tot.pdf"].status == "stored"
    reason = json.loads((settings.quarantine / "u/d/hong.pdf.reason.json").read_text())
    assert "KeyError" in reason["message"] and reason["stage"] == "open"


FAKE_TESSERACT = """#!/bin/sh
# Stand-in for tesseract: the first call hangs with a child, later calls read nothing.
if mkdir "{state}/hung" 2>/dev/null; then
    sleep 300 &
    echo $! > "{state}/child.pid"
    sleep 300
fi
cat > /dev/null
printf 'level\\tpage_num\\tblock_num\\tpar_num\\tline_num\\tword_num\\t'
printf 'left\\ttop\\twidth\\theight\\tconf\\ttext\\n'
"""


def _dead(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return status.split(") ")[1].startswith(("Z", "X"))


@pytest.fixture
def cli_engine():
    """Tesseract as a program (not the in-process engines): the tool under test."""
    previous = tesseract_tool.engine_name()
    tesseract_tool.use_engine("cli")
    yield
    tesseract_tool.use_engine(previous)


def test_a_tool_that_hangs_is_killed_with_its_process_group(
    env, tmp_path, monkeypatch, cli_engine
):
    settings, inbox, catalog = env
    state = tmp_path / "fake"
    state.mkdir()
    tool = state / "tesseract"
    tool.write_text(FAKE_TESSERACT.format(state=state))
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{state}{os.pathsep}{os.environ['PATH']}")
    for name in ("mot.png", "hai.png"):
        _drop(inbox, f"u/d/{name}", bad.save(bad.text_image([name]), "PNG"))
    started = time.monotonic()
    outcomes = Watcher(inbox, replace(settings, ocr_timeout_s=1.0), catalog).drain()
    assert time.monotonic() - started < 60
    codes = sorted(o.error_code or o.status for o in outcomes)
    assert codes == ["stored", "tool.timeout"]
    child = int((state / "child.pid").read_text())
    deadline = time.monotonic() + 5
    while not _dead(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _dead(child), "the tool's child survived"
    (reason_path,) = settings.quarantine.rglob("*.reason.json")
    reason = json.loads(reason_path.read_text())
    assert reason["code"] == "tool.timeout" and reason["stage"] == "ocr"
    assert "timeout_s" in reason["what_to_do"]


@pytest.mark.parametrize("mode", ["events", "polling"])
def test_running_watcher_sees_new_files_and_reports_liveness(env, mode, monkeypatch):
    settings, inbox, catalog = env
    settings = replace(settings, watch_polling=mode == "polling", watch_rescan_s=3600)
    watcher = Watcher(inbox, settings, catalog)
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run_forever, args=(stop,))
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not read_status(settings)["alive"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        _drop(inbox, "xa-moi/H24-0001/moi.pdf", bad.text_pdf(["MOI DEN 57001"]))
        while not watcher.outcomes:
            assert time.monotonic() < deadline + 20, "the new file was not seen"
            time.sleep(0.05)
        status = read_status(settings)
        assert status["alive"] and status["done"] == 1 and status["queued"] == 0
        assert status["last_success"] and status["last_rescan"]
        assert status["folders"] == [{"path": str(inbox.resolve()), "mode": mode}]
    finally:
        stop.set()
        watcher.wake.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    status = read_status(settings)
    assert not status["alive"] and status["seen"] == 1
    monkeypatch.setenv("DIGITIZE_HOME", str(settings.home))
    assert main(["status", "--json"]) == 1


def test_a_failing_pass_does_not_stop_the_running_watcher(env, monkeypatch):
    settings, inbox, catalog = env
    real = Watcher._look_through
    failures = []

    def stale_once(self, spec, now):
        if not failures:
            failures.append(now)
            raise OSError(errno.ESTALE, "Stale file handle")
        return real(self, spec, now)

    monkeypatch.setattr(Watcher, "_look_through", stale_once)
    _drop(inbox, "u/d/sau-loi.pdf", bad.text_pdf(["SAU LOI 58001"]))
    watcher = Watcher(inbox, replace(settings, watch_poll_s=0.05), catalog)
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run_forever, args=(stop,))
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not watcher.outcomes:
            assert time.monotonic() < deadline and thread.is_alive()
            time.sleep(0.05)
    finally:
        stop.set()
        watcher.wake.set()
        thread.join(timeout=30)
    assert failures and watcher.outcomes[0].status == "stored"
