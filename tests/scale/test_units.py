"""Fast checks of the scaled mode's parts that need no server: schema translation and
migrations on SQLite, the jobs table's compare-and-set, the sweeper, settings."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import replace

import pytest

from digitize.errors import ConfigError
from digitize.records import Field, Paper
from digitize.scale import schema
from digitize.scale.backends import is_scaled, open_backends, upgrade_sqlite
from digitize.scale.jobs import dump_reading, load_reading
from digitize.scale.pgcatalog import translate
from digitize.store import Catalog
from tests.factories import ocr_page_from_lines


def test_postgres_schema_is_store_schema_translated(tmp_path):
    catalog = Catalog(tmp_path / "c.sqlite3")
    tables = [
        r[0]
        for r in catalog.db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql IS NOT NULL"
            " AND name NOT LIKE 'pages_fts_%'"
        )
    ]
    catalog.close()
    pg = schema.base_schema("postgres")
    for name in tables:  # every table store.Catalog makes, whoever added it
        assert f"CREATE TABLE IF NOT EXISTS {name}" in pg, name
    assert "fts5" not in pg and " REAL" not in pg and "INTEGER" not in pg
    assert "tsvector" in pg
    assert "persons" in schema.identity_tables()
    assert "CREATE TABLE IF NOT EXISTS documents" in schema.base_schema("sqlite")


def test_unknown_virtual_table_is_refused():
    with pytest.raises(ValueError, match="other_fts"):
        schema.to_postgres(
            "CREATE VIRTUAL TABLE IF NOT EXISTS other_fts USING fts5(a);"
        )


def test_statements_keep_dollar_quoted_bodies_whole():
    parts = schema.statements(
        "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\nSELECT 2;"
    )
    assert len(parts) == 2 and parts[0].endswith("LANGUAGE sql;")


def test_sqlite_catalog_upgraded_in_place(tmp_path):
    # A catalog made by store.py alone (schema version 1) with one document in it.
    catalog = Catalog(tmp_path / "catalog.sqlite3")
    catalog.db.execute(
        "INSERT INTO documents (id, sha256, original_name, format, size_bytes, pages,"
        " created_at) VALUES ('abc', 'abcd', 'a.png', 'png', 1, 1, 'now')"
    )
    catalog.db.commit()
    assert upgrade_sqlite(catalog) == [2]
    version = catalog.db.execute(
        "SELECT value FROM meta WHERE key = 'schema_version'"
    ).fetchone()[0]
    assert version == str(schema.LATEST_VERSION)
    assert catalog.db.execute("SELECT count(*) FROM jobs").fetchone()[0] == 0
    assert catalog.find_document_by_sha("abcd")["original_name"] == "a.png"
    assert upgrade_sqlite(catalog) == []  # a second open changes nothing
    catalog.close()


def test_translate_sqlite_sql():
    sql, table = translate("INSERT OR IGNORE INTO links VALUES (?,?,?)")
    assert sql == "INSERT INTO links VALUES (%s,%s,%s) ON CONFLICT DO NOTHING"
    assert table is None
    sql, table = translate("INSERT INTO persons (id_number) VALUES (?)")
    assert sql.endswith("RETURNING id") and table == "persons"
    assert translate("SELECT 1 WHERE a LIKE ?")[0] == "SELECT 1 WHERE a LIKE %s"
    assert translate("SELECT '5%'", has_params=False)[0] == "SELECT '5%'"


def test_reading_round_trips_without_word_boxes():
    page = ocr_page_from_lines(["Họ và tên: NGUYỄN VĂN A"])
    paper = Paper(
        0,
        "cccd_front",
        {
            "id_number": Field(
                "id_number",
                "001099012345",
                "001099012345",
                "qr",
                1.0,
                ["pin.shape"],
                [],
            )
        },
    )
    pages, papers = load_reading(dump_reading([page], [paper]))
    assert pages[0].text == page.text and pages[0].words == []
    assert papers == [paper]


def _embedded(settings):
    return replace(settings, scale_mode="embedded", scale_blob_store="local")


def test_jobs_compare_and_set_keeps_first_result(settings):
    b = open_backends(_embedded(settings))
    assert b.jobs.add(
        "f" * 64, name="a.png", unit="", dossier="", fmt="png", size_bytes=3
    )
    assert not b.jobs.add(
        "f" * 64, name="a.png", unit="", dossier="", fmt="png", size_bytes=3
    )
    assert b.jobs.advance("f" * 64, "queued", "read", unsigned_sha256="1" * 64)
    # A second run of the same step finds the state moved on: nothing is recorded.
    assert not b.jobs.advance("f" * 64, "queued", "read", unsigned_sha256="2" * 64)
    assert b.jobs.get("f" * 64)["unsigned_sha256"] == "1" * 64
    with pytest.raises(ValueError):
        b.jobs.advance("f" * 64, "read", "signed", state="stored")
    b.close()


def test_sweeper_resends_silent_steps_and_lost_messages(settings):
    from digitize.scale.tasks import sweep

    s = replace(_embedded(settings), scale_stale_s=1.0, scale_requeue_s=1.0)
    b = open_backends(s)
    for sha in ("a" * 64, "b" * 64):
        b.jobs.add(sha, name="x", unit="", dossier="", fmt="png", size_bytes=1)
    with b.jobs.running("a" * 64, "read", "dead:1", heartbeat_s=60):
        pass
    # Job a's worker "died" (step left set), job b waits idle with a full queue.
    with b.catalog.transaction() as db:
        db.execute("UPDATE jobs SET step = 'read', touched_at = ?", (time.time() - 5,))
        db.execute(
            "UPDATE jobs SET step = '', touched_at = ? WHERE sha256 = ?",
            (time.time() - 2, "b" * 64),
        )  # idle past scale_requeue_s, not yet overdue
    sent = []
    assert sweep(b, lambda step, sha: sent.append((step, sha)), lambda q: 3) == 1
    assert sent == [("read", "a" * 64)]
    # Resent once: the next sweep leaves it alone; an empty queue releases job b.
    assert sweep(b, lambda step, sha: sent.append((step, sha)), lambda q: 0) == 1
    assert sent[-1] == ("read", "b" * 64)
    # Idle far past scale_requeue_s: resent even though the queue seems full.
    with b.catalog.transaction() as db:
        db.execute("UPDATE jobs SET step = '', touched_at = ?", (time.time() - 5,))
    assert sweep(b, lambda step, sha: sent.append((step, sha)), lambda q: 3) == 2
    b.close()


def test_settings_checked(settings):
    with pytest.raises(ConfigError, match="scale_mode"):
        is_scaled(replace(settings, scale_mode="cluster"))
    with pytest.raises(ConfigError, match="scale_database_url"):
        is_scaled(replace(settings, scale_mode="scaled"))
    from digitize.scale.tasks import configure

    with pytest.raises(ConfigError, match="visibility"):
        configure(
            replace(
                settings,
                scale_broker_url="redis://127.0.0.1:1/0",
                scale_visibility_timeout_s=60,
                scale_task_time_limit_s=600,
            )
        )
    from digitize.scale.blobs import open_blob_store

    with pytest.raises(ConfigError, match="scale_blob_store"):
        open_blob_store(replace(settings, scale_blob_store="ftp"))


def test_sqlite_heartbeat_connection_is_separate(settings, tmp_path):
    b = open_backends(_embedded(settings))
    conn = b.jobs.connect()
    assert isinstance(conn, sqlite3.Connection)
    conn.close()
    b.close()


class _FakeTask:
    """What _run_step uses of a bound Celery task: retries so far and retry()."""

    def __init__(self, retries: int) -> None:
        self.request = type("Request", (), {"retries": retries})()
        self.countdowns: list[float] = []

    def retry(self, countdown: float, exc: Exception) -> Exception:
        self.countdowns.append(countdown)
        return RuntimeError("retry")


@pytest.mark.parametrize(
    ("error", "retries", "retried_after", "failed_code"),
    [
        ("store.unreachable", 0, 10.0, None),  # transient: retried with backoff
        ("store.unreachable", 2, 40.0, None),  # the delay doubles each time
        ("store.unreachable", 5, None, "store.unreachable"),  # retries used up
        ("input.damaged_pdf", 0, None, "input.damaged_pdf"),  # permanent: failed
    ],
)
def test_failed_step_retried_with_backoff_or_failed(
    settings, monkeypatch, error, retries, retried_after, failed_code
):
    from digitize.errors import StorageError
    from digitize.scale import tasks

    b = open_backends(
        replace(_embedded(settings), scale_retry_backoff_s=10.0, scale_max_retries=5)
    )
    b.jobs.add("c" * 64, name="x", unit="", dossier="", fmt="png", size_bytes=1)

    def broken(sha, backends):
        raise StorageError("down", code=error)

    monkeypatch.setitem(tasks.STEPS, "read", broken)
    monkeypatch.setitem(tasks._state, "pid", __import__("os").getpid())
    monkeypatch.setitem(tasks._state, "backends", b)
    task = _FakeTask(retries)
    if retried_after is None:
        tasks._run_step(task, "read", "c" * 64)
        assert b.jobs.get("c" * 64)["error_code"] == failed_code
    else:
        with pytest.raises(RuntimeError, match="retry"):
            tasks._run_step(task, "read", "c" * 64)
        assert task.countdowns == [retried_after]
        assert b.jobs.get("c" * 64)["state"] == "queued"
    b.close()
