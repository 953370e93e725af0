"""Scans uploaded at the counter: saved, queued, and run through the pipeline.

One worker thread takes jobs in order and calls `pipeline.process_file` with its own
catalog connection; job state lives in `home/jobs.sqlite3`, so a client can poll it and
jobs left over by a crash run again at the next start.
"""

from __future__ import annotations

import json
import logging
import queue
import secrets
import shutil
import sqlite3
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from digitize.config import Settings
from digitize.errors import DigitizeError, NotFoundError, QueryError, StorageError
from digitize.pipeline import FileOutcome
from digitize.store import Catalog, now_iso

__all__ = ["JobQueue", "ProcessFn"]

log = logging.getLogger(__name__)

ProcessFn = Callable[..., FileOutcome]
_JOB_ID_LEN = 16
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    status TEXT NOT NULL,
    name TEXT NOT NULL,
    unit TEXT NOT NULL,
    dossier TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    finished_at TEXT,
    document_id TEXT,
    pages INTEGER,
    error_code TEXT,
    message TEXT
);
"""


def _default_process(*args: Any, **kwargs: Any) -> FileOutcome:
    from digitize.pipeline import process_file

    return process_file(*args, **kwargs)


class JobQueue:
    """Upload jobs: `submit` saves and queues, the worker thread processes."""

    def __init__(self, settings: Settings, *, process: ProcessFn | None = None) -> None:
        """Open the job table under `settings.home`; call `start` to begin work."""
        self.settings = settings
        self.process = process or _default_process
        self.folder = settings.home / "uploads"
        self.db = sqlite3.connect(
            settings.home / "jobs.sqlite3", timeout=30, check_same_thread=False
        )
        self.db.row_factory = sqlite3.Row
        self.db.executescript(_SCHEMA)
        self.lock = threading.Lock()
        self.pending: queue.Queue[str | None] = queue.Queue()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the worker; jobs still queued or running from before are redone."""
        rows = self.db.execute(
            "SELECT id FROM jobs WHERE status IN ('queued', 'running')"
            " ORDER BY created_at"
        ).fetchall()
        for row in rows:
            self.pending.put(row["id"])
        self.thread = threading.Thread(
            target=self._work, name="upload-jobs", daemon=True
        )
        self.thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Let the running job finish, then stop the worker."""
        if self.thread is not None:
            self.pending.put(None)
            self.thread.join(timeout_s)
            self.thread = None
        self.db.close()

    def submit(
        self, data_path: Path, *, name: str, username: str, unit: str, dossier: str
    ) -> dict[str, Any]:
        """Take ownership of the saved upload `data_path` and queue it."""
        job_id = secrets.token_hex(_JOB_ID_LEN // 2)
        target = self.folder / job_id / name
        target.parent.mkdir(parents=True, exist_ok=True)
        data_path.replace(target)
        with self.lock:
            self.db.execute(
                "INSERT INTO jobs (id, username, status, name, unit, dossier,"
                " size_bytes, created_at) VALUES (?,?,?,?,?,?,?,?)",
                (
                    job_id,
                    username,
                    "queued",
                    name,
                    unit,
                    dossier,
                    target.stat().st_size,
                    now_iso(),
                ),
            )
            self.db.commit()
        self.pending.put(job_id)
        return self.get(job_id)

    def get(self, job_id: str) -> dict[str, Any]:
        """The job's current state.

        Raises:
            QueryError: not a job id.
            NotFoundError: no such job.
        """
        if len(job_id) != _JOB_ID_LEN or not all(
            c in "0123456789abcdef" for c in job_id
        ):
            raise QueryError("a job id is 16 hexadecimal digits", code="query.bad_job")
        with self.lock:
            row = self.db.execute(
                "SELECT * FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
        if row is None:
            raise NotFoundError(f"no upload job {job_id}")
        return dict(row)

    def wait(self, job_id: str, timeout_s: float) -> dict[str, Any]:
        """Poll until the job is done or `timeout_s` passes (for tests and scripts)."""
        done = threading.Event()
        for _ in range(int(timeout_s * 10)):
            job = self.get(job_id)
            if job["status"] not in ("queued", "running"):
                return job
            done.wait(0.1)
        return self.get(job_id)

    def _set(self, job_id: str, **values: Any) -> None:
        names = ", ".join(f"{k} = ?" for k in values)
        with self.lock:
            self.db.execute(
                f"UPDATE jobs SET {names} WHERE id = ?", (*values.values(), job_id)
            )
            self.db.commit()

    def _work(self) -> None:
        catalog = Catalog(self.settings.catalog)
        try:
            while (job_id := self.pending.get()) is not None:
                self._run(job_id, catalog)
        finally:
            catalog.close()

    def _run(self, job_id: str, catalog: Catalog) -> None:
        job = self.get(job_id)
        path = self.folder / job_id / job["name"]
        if not path.is_file():
            self._set(
                job_id,
                status="failed",
                error_code="store.failed",
                message="the uploaded file is gone",
                finished_at=now_iso(),
            )
            return
        self._set(job_id, status="running")
        try:
            out = self.process(
                path, self.settings, catalog, unit=job["unit"], dossier=job["dossier"]
            )
            self._set(
                job_id,
                status=out.status,
                document_id=out.document_id,
                pages=out.pages,
                finished_at=now_iso(),
            )
            shutil.rmtree(path.parent, ignore_errors=True)
            log.info("upload job %s: %s %s", job_id, out.status, out.document_id)
        except Exception as err:  # one bad upload must not stop the worker
            self._fail(job_id, job, path, err)

    def _fail(
        self, job_id: str, job: dict[str, Any], path: Path, err: Exception
    ) -> None:
        if isinstance(err, DigitizeError):
            code, stage, message = err.code, err.stage, err.message
            log.warning("upload job %s failed at %s: %s", job_id, stage, code)
        else:
            code, stage, message = "internal.error", "unknown", "unexpected error"
            log.error("upload job %s: %s", job_id, traceback.format_exc())
        self._set(
            job_id,
            status="failed",
            error_code=code,
            message=message,
            finished_at=now_iso(),
        )
        self._quarantine(job_id, path, code, stage, message)

    def _quarantine(
        self, job_id: str, path: Path, code: str, stage: str, message: str
    ) -> None:
        target = self.settings.quarantine / "uploads" / job_id / path.name
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(path, target)
            reason = {
                "job": job_id,
                "code": code,
                "stage": stage,
                "message": message,
                "time": now_iso(),
            }
            target.with_name(target.name + ".reason.json").write_text(
                json.dumps(reason, ensure_ascii=False, indent=2) + "\n",
                encoding="utf-8",
            )
            shutil.rmtree(path.parent, ignore_errors=True)
        except OSError as err:
            raise StorageError(f"cannot quarantine upload {job_id}: {err}") from err
