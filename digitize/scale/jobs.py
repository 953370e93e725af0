"""The jobs table: the state of record of every file in the pipeline, keyed by SHA-256.

A job moves queued -> read -> signed -> stored (or failed). Each move is a compare-and-
set on the old state, so when a step runs twice only the first result is recorded.
A running step touches its row every `scale_heartbeat_s`; a row silent for longer than
`scale_stale_s` belongs to a dead worker and is sent again by `stale_jobs`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from digitize.records import Field, OcrPage, Paper
from digitize.store import Catalog, now_iso

__all__ = ["NEXT_STEP", "JobStore", "dump_reading", "load_reading"]

log = logging.getLogger(__name__)

# The step that moves a job on from each state.
NEXT_STEP = {"queued": "read", "read": "sign", "signed": "index"}
_RESULT_COLUMNS = frozenset(
    {
        "reading",
        "unsigned_sha256",
        "signed_sha256",
        "sign_level",
        "signer",
        "signed_at",
        "ocr_seconds",
        "error_code",
        "error_message",
    }
)


def dump_reading(pages: list[OcrPage], papers: list[Paper]) -> str:
    """The OCR step's result as JSON: page text and metrics (no word boxes), papers."""
    return json.dumps(
        {
            "pages": [{**asdict(p), "words": []} for p in pages],
            "papers": [asdict(p) for p in papers],
        },
        ensure_ascii=False,
        sort_keys=True,
    )


def load_reading(text: str) -> tuple[list[OcrPage], list[Paper]]:
    """Pages and papers back from `dump_reading`'s JSON."""
    data = json.loads(text)
    pages = [OcrPage(**p) for p in data["pages"]]
    papers = []
    for item in data["papers"]:
        fields = {name: Field(**f) for name, f in item.pop("fields").items()}
        papers.append(Paper(**item, fields=fields))
    return pages, papers


class JobStore:
    """Reads and moves jobs in the catalog's database (SQLite or PostgreSQL)."""

    def __init__(self, catalog: Catalog, connect: Callable[[], Any]) -> None:
        """Use the catalog's connection; `connect()` opens another for heartbeats."""
        self.catalog = catalog
        self.connect = connect

    def add(
        self,
        sha256: str,
        *,
        name: str,
        unit: str,
        dossier: str,
        fmt: str,
        size_bytes: int,
    ) -> bool:
        """Record a new queued job; False when a job for these bytes exists."""
        with self.catalog.transaction() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO jobs (sha256, original_name, unit, dossier,"
                " format, size_bytes, state, created_at, touched_at)"
                " VALUES (?,?,?,?,?,?,'queued',?,?)",
                (sha256, name, unit, dossier, fmt, size_bytes, now_iso(), time.time()),
            )
        return cur.rowcount == 1

    def get(self, sha256: str) -> Any:
        """The job row, or None."""
        return self.catalog.db.execute(
            "SELECT * FROM jobs WHERE sha256 = ?", (sha256,)
        ).fetchone()

    def advance(
        self, sha256: str, from_state: str, to_state: str, **result: Any
    ) -> bool:
        """Move the job on with the step's result, only if still in `from_state`."""
        unknown = set(result) - _RESULT_COLUMNS
        if unknown:
            raise ValueError(f"not job result columns: {sorted(unknown)}")
        sets = "".join(f", {column} = ?" for column in result)
        with self.catalog.transaction() as db:
            cur = db.execute(
                f"UPDATE jobs SET state = ?, step = '', touched_at = ?{sets}"
                " WHERE sha256 = ? AND state = ?",
                (to_state, time.time(), *result.values(), sha256, from_state),
            )
        return cur.rowcount == 1

    def fail(self, sha256: str, code: str, message: str) -> None:
        """Mark the job failed for good, keeping the error's code and message."""
        with self.catalog.transaction() as db:
            db.execute(
                "UPDATE jobs SET state = 'failed', step = '', error_code = ?,"
                " error_message = ?, touched_at = ? WHERE sha256 = ?"
                " AND state <> 'stored'",
                (code, message, time.time(), sha256),
            )

    def counts(self) -> dict[str, int]:
        """How many jobs are in each state."""
        rows = self.catalog.db.execute(
            "SELECT state, count(*) FROM jobs GROUP BY state"
        ).fetchall()
        return {row[0]: int(row[1]) for row in rows}

    def failed(self) -> list[dict[str, Any]]:
        """Failed jobs: id, name, error code and message."""
        rows = self.catalog.db.execute(
            "SELECT sha256, original_name, unit, dossier, error_code, error_message"
            " FROM jobs WHERE state = 'failed' ORDER BY touched_at"
        ).fetchall()
        return [dict(row) for row in rows]

    def stale(
        self, *, stale_s: float, requeue_s: float
    ) -> list[tuple[str, str, float, bool]]:
        """Unfinished jobs nobody works on: (sha256, state, touched_at, was_running).

        A running step silent for `stale_s` lost its worker; an idle job untouched
        for `requeue_s` may have lost its message.
        """
        now = time.time()
        rows = self.catalog.db.execute(
            "SELECT sha256, state, touched_at, step FROM jobs"
            " WHERE state IN ('queued', 'read', 'signed') AND ("
            " (step <> '' AND touched_at < ?) OR (step = '' AND touched_at < ?))",
            (now - stale_s, now - requeue_s),
        ).fetchall()
        return [(row[0], row[1], float(row[2]), bool(row[3])) for row in rows]

    def claim_resend(self, sha256: str, touched_at: float) -> bool:
        """Take the right to send a stale job again (one sweeper wins)."""
        with self.catalog.transaction() as db:
            cur = db.execute(
                "UPDATE jobs SET touched_at = ?, step = '' WHERE sha256 = ?"
                " AND touched_at = ?",
                (time.time(), sha256, touched_at),
            )
        return cur.rowcount == 1

    @contextmanager
    def running(
        self, sha256: str, step: str, worker: str, heartbeat_s: float
    ) -> Iterator[None]:
        """Mark the step as running on `worker` and keep the row alive while it runs."""
        with self.catalog.transaction() as db:
            db.execute(
                "UPDATE jobs SET step = ?, worker = ?, attempts = attempts + 1,"
                " touched_at = ? WHERE sha256 = ?",
                (step, worker, time.time(), sha256),
            )
        stop = threading.Event()
        beat = threading.Thread(
            target=self._beat, args=(sha256, step, heartbeat_s, stop), daemon=True
        )
        beat.start()
        try:
            yield
        except BaseException:
            self._release(sha256, step)
            raise
        finally:
            stop.set()
            beat.join(timeout=heartbeat_s + 5)

    def _release(self, sha256: str, step: str) -> None:
        with self.catalog.transaction() as db:
            db.execute(
                "UPDATE jobs SET step = '', touched_at = ?"
                " WHERE sha256 = ? AND step = ?",
                (time.time(), sha256, step),
            )

    def _beat(
        self, sha256: str, step: str, every_s: float, stop: threading.Event
    ) -> None:
        conn = None
        try:
            while not stop.wait(every_s):
                conn = conn or self.connect()
                conn.execute(
                    "UPDATE jobs SET touched_at = ? WHERE sha256 = ? AND step = ?",
                    (time.time(), sha256, step),
                )
                conn.commit()
        except Exception as err:
            log.warning("heartbeat of job %s stopped: %s", sha256[:12], err)
        finally:
            if conn is not None:
                conn.close()
