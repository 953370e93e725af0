"""The scaled mode end to end on real servers: PostgreSQL, Redis, SeaweedFS, Celery.

Two workers ingest 100 files exactly once with the same catalog and search results as
the embedded mode; a worker killed with SIGKILL mid-task and a broker restarted
mid-run lose nothing; `digitize migrate` moves an embedded deployment byte for byte.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import pytest

from digitize.cli import main
from digitize.scale.backends import open_backends
from digitize.scale.blobs import LocalBlobStore
from digitize.scale.ingest import EnqueueWatcher
from digitize.scale.search import search_text
from digitize.scale.tasks import configure, send_step, sweep
from digitize.store import Catalog
from tests.scale.conftest import PHRASES, make_scans, sha_of

pytestmark = pytest.mark.slow

QUERIES = [
    "Đặng Văn Hòa",
    "dang van hoa",
    "căn cước",
    "nguyen van le",
    "Nguyễn Văn Lễ",
    "quyền sử dụng đất",
    "Ia Kriêng",
    "1042",
    "không có",
]


_OPEN = []


@pytest.fixture(autouse=True)
def _close_backends():
    yield
    while _OPEN:
        _OPEN.pop().close()


def _enqueue(settings, inbox):
    configure(settings)
    b = open_backends(settings)
    _OPEN.append(b)
    watcher = EnqueueWatcher(inbox, b, send_step, lambda: sweep(b))
    outcomes = watcher.drain()
    return b, watcher, outcomes


def _wait_stored(b, watcher, total, timeout_s=150.0, during=None):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        counts = b.jobs.counts()
        if counts.get("stored", 0) + counts.get("failed", 0) == total:
            return counts
        if during:
            during(counts)
        watcher.step()  # the ingest node's sweep resends stale jobs
        time.sleep(0.1)
    raise AssertionError(f"jobs not done in {timeout_s} s: {b.jobs.counts()}")


def _check_stored_once(b, hashes):
    db = b.catalog.db
    shas = {r[0] for r in db.execute("SELECT sha256 FROM documents")}
    assert shas == set(hashes.values())
    stored = db.execute(
        "SELECT document_id, count(*) FROM events"
        " WHERE kind = 'stored' GROUP BY document_id"
    ).fetchall()
    assert len(stored) == len(hashes) and all(n == 1 for _, n in stored)
    for row in db.execute(
        "SELECT sha256, format, unsigned_sha256, signed_sha256 FROM documents"
    ):
        assert b.blobs.get(row[0], "." + row[1])  # get() checks every hash
        unsigned = b.blobs.get(row[2], ".unsigned.pdf")
        assert b.blobs.get(row[3], ".signed.pdf").startswith(unsigned)


def _catalog_view(catalog):
    db = catalog.db
    docs = sorted(
        tuple(r)
        for r in db.execute(
            "SELECT sha256, original_name, unit, dossier, format, size_bytes, pages,"
            " validated FROM documents"
        )
    )
    pages = sorted(
        tuple(r)
        for r in db.execute(
            "SELECT document_id, idx, width_px, height_px, rotation, text FROM pages"
        )
    )
    fields = sorted(
        tuple(r)
        for r in db.execute(
            "SELECT document_id, paper_type, name, value, source FROM fields"
        )
    )
    return docs, pages, fields


def _hits(catalog, query):
    return sorted(
        (h["document_id"], h["page"], h["exact"], h["snippet"])
        for h in search_text(catalog, query, limit=200)
    )


def test_two_workers_ingest_100_files_once_like_embedded(
    scaled, workers, embedded_100, tmp_path, capsys
):
    inbox = tmp_path / "inbox"
    shutil.copytree(embedded_100["samples"], inbox)
    workers.start("w1", tmp_path)
    workers.start("w2", tmp_path)
    started = time.perf_counter()
    b, watcher, outcomes = _enqueue(scaled, inbox)
    assert [o.status for o in outcomes] == ["queued"] * 100
    counts = _wait_stored(b, watcher, 100)
    seconds = time.perf_counter() - started
    print(
        f"scaled: 100 files in {seconds:.1f} s with 2 workers; embedded "
        f"{embedded_100['seconds']:.1f} s in one process"
    )

    assert counts == {"stored": 100}
    _check_stored_once(b, embedded_100["hashes"])
    # The command as an operator runs it, in its own process (settings from the env).
    jobs = subprocess.run(
        [sys.executable, "-m", "digitize", "jobs", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert jobs.returncode == 0, jobs.stderr
    assert json.loads(jobs.stdout)["counts"] == {"stored": 100}
    attempts = b.catalog.db.execute("SELECT DISTINCT attempts FROM jobs").fetchall()
    assert [a[0] for a in attempts] == [2]  # one read and one signing per file
    # Both worker processes took jobs (the column names the last step's process).
    pids = {r[0] for r in b.catalog.db.execute("SELECT worker FROM jobs")}
    assert len(pids) >= 2

    embedded = Catalog(embedded_100["settings"].catalog)
    assert _catalog_view(b.catalog) == _catalog_view(embedded)
    for query in QUERIES:
        assert _hits(b.catalog, query) == _hits(embedded, query), query
    assert _hits(b.catalog, "Đặng Văn Hòa")[0][2] is True
    embedded.close()


def _stored_count(b):
    return b.jobs.counts().get("stored", 0)


def test_worker_killed_mid_task_loses_nothing(scaled, workers, tmp_path):
    scans = make_scans(tmp_path / "inbox", 30, seed=8)
    hashes = {p.name: sha_of(p) for p in scans}
    workers.start("victim", tmp_path)
    workers.start("survivor", tmp_path)
    b, watcher, _ = _enqueue(scaled, tmp_path / "inbox")
    killed = {}

    def kill_mid_task(counts):
        if killed or counts.get("stored", 0) < 5:
            return
        for sha, worker in b.catalog.db.execute(
            "SELECT sha256, worker FROM jobs WHERE step <> ''"
        ).fetchall():
            if workers.owns("victim", int(worker.split(":")[1])):
                workers.kill("victim")
                killed["sha"] = sha
                return

    _wait_stored(b, watcher, 30, during=kill_mid_task)
    assert killed, "the victim worker was never caught mid-task"
    job = b.jobs.get(killed["sha"])
    assert job["state"] == "stored" and job["attempts"] >= 2
    assert b.jobs.counts() == {"stored": 30}
    _check_stored_once(b, hashes)


def test_broker_restart_mid_run_loses_nothing(scaled, redis, workers, tmp_path):
    scans = make_scans(tmp_path / "inbox", 30, seed=9)
    hashes = {p.name: sha_of(p) for p in scans}
    workers.start("w1", tmp_path)
    workers.start("w2", tmp_path)
    b, watcher, _ = _enqueue(scaled, tmp_path / "inbox")
    restarted = []

    def restart_broker(counts):
        if not restarted and counts.get("stored", 0) >= 5:
            redis.restart(down_s=2.0)
            restarted.append(counts.get("stored", 0))

    _wait_stored(b, watcher, 30, during=restart_broker)
    assert restarted and restarted[0] < 30
    assert b.jobs.counts() == {"stored": 30}
    _check_stored_once(b, hashes)


def test_migrate_moves_embedded_deployment_byte_for_byte(scaled, embedded_100, capsys):
    source = embedded_100["settings"].home
    assert main(["migrate", "--json", str(source)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["copied_documents"] == 100
    assert report["blobs"] == [300, 300]
    for table, (src, dst) in report["digests"].items():
        assert src == dst, table
    assert report["rows"]["documents"] == [100, 100]

    # Every blob of the repository folder is in the bucket with the same bytes.
    b = open_backends(scaled)
    _OPEN.append(b)
    local = LocalBlobStore(source / "repository")
    for sha, suffix in local.iter_blobs():
        assert b.blobs.get(sha, suffix) == local.get(sha, suffix)

    # A second run copies nothing and still verifies.
    assert main(["migrate", "--json", str(source)]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["ok"] and again["copied_documents"] == 0
    assert again["rows"] == report["rows"]

    # The CLI's search in scaled mode answers like the embedded catalog.
    assert main(["search", "--json", PHRASES[0]]) == 0
    hits = json.loads(capsys.readouterr().out)
    embedded = Catalog(embedded_100["settings"].catalog)
    assert {h["document_id"] for h in hits} == {
        h["document_id"] for h in search_text(embedded, PHRASES[0])
    }
    embedded.close()
