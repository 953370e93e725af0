"""Ingest ledger: one row per inbox file the watcher has met, kept in SQLite.

A restart reads it back, so finished files are not ingested again and queued ones are
not forgotten. It also holds the watcher's heartbeat for `digitize status`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from digitize.errors import StorageError
from digitize.store import create_private

__all__ = ["ACTIVE", "FINAL", "Entry", "Ledger"]

# seen: waiting for the quiet period; queued: settled, waiting for a worker;
# working: a worker holds it; retry: waiting out a backoff or a young file's parse;
# moving: outcome decided, the inbox file is being put away.
ACTIVE = ("seen", "queued", "working", "retry", "moving")
# The inbox file is gone: stored, duplicate, quarantined (or refused), or vanished.
FINAL = ("processed", "duplicate", "quarantined", "vanished")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY,
    folder TEXT NOT NULL,
    path BLOB NOT NULL,
    size_bytes INTEGER NOT NULL DEFAULT 0,
    mtime_ns INTEGER NOT NULL DEFAULT 0,
    inode INTEGER NOT NULL DEFAULT 0,
    sha256 TEXT,
    state TEXT NOT NULL,
    stage TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    crashes INTEGER NOT NULL DEFAULT 0,
    next_try REAL NOT NULL DEFAULT 0,
    dup_of TEXT,
    document_id TEXT,
    outcome TEXT,
    destination BLOB,
    reason TEXT,
    blobs TEXT NOT NULL DEFAULT '[]',
    first_seen REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS entries_active ON entries(folder, path)
    WHERE state IN ('seen', 'queued', 'working', 'retry', 'moving');
CREATE INDEX IF NOT EXISTS entries_state ON entries(state);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Entry:
    """One ledger row: an inbox file and how far it got."""

    id: int
    folder: Path
    """The watched folder (resolved)."""
    relative: Path
    """Path inside the folder, the raw on-disk name."""
    size_bytes: int
    mtime_ns: int
    inode: int
    sha256: str | None
    state: str
    stage: str
    """Last stage boundary a worker reached."""
    attempts: int
    """Transient errors met so far."""
    crashes: int
    """Workers that died holding this file."""
    next_try: float
    """Unix time before which the entry is left alone."""
    dup_of: str | None
    """Document id when the bytes were already stored at claim time."""
    document_id: str | None
    outcome: str | None
    destination: Path | None
    reason: dict[str, Any] | None
    blobs: list[str]
    """Repository files a worker was about to write (removed if never committed)."""
    first_seen: float

    @property
    def path(self) -> Path:
        """Where the file is in the inbox."""
        return self.folder / self.relative

    @property
    def short(self) -> str:
        """How logs name the file: ledger id and short hash, never its name."""
        return f"#{self.id}" + (f" {self.sha256[:10]}" if self.sha256 else "")


def _entry(row: sqlite3.Row) -> Entry:
    return Entry(
        id=row["id"],
        folder=Path(row["folder"]),
        relative=Path(os.fsdecode(row["path"])),
        size_bytes=row["size_bytes"],
        mtime_ns=row["mtime_ns"],
        inode=row["inode"],
        sha256=row["sha256"],
        state=row["state"],
        stage=row["stage"],
        attempts=row["attempts"],
        crashes=row["crashes"],
        next_try=row["next_try"],
        dup_of=row["dup_of"],
        document_id=row["document_id"],
        outcome=row["outcome"],
        destination=Path(os.fsdecode(row["destination"]))
        if row["destination"]
        else None,
        reason=json.loads(row["reason"]) if row["reason"] else None,
        blobs=json.loads(row["blobs"]),
        first_seen=row["first_seen"],
    )


_COLUMNS = {
    "size_bytes", "mtime_ns", "inode", "sha256", "state", "stage", "attempts",
    "crashes", "next_try", "dup_of", "document_id", "outcome", "destination",
    "reason", "blobs",
}  # fmt: skip


def _encode(column: str, value: Any) -> Any:
    if column == "destination" and value is not None:
        return os.fsencode(value)
    if column in ("reason", "blobs") and value is not None:
        return json.dumps(value, ensure_ascii=False)
    return value


class Ledger:
    """The ledger file: one connection shared by the watcher's threads, under a lock."""

    def __init__(self, path: Path) -> None:
        """Open (or create) the ledger file."""
        create_private(path)
        try:
            self.db = sqlite3.connect(
                path, timeout=30, check_same_thread=False, isolation_level=None
            )
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            # Durable across a killed process; a power cut may lose the last steps,
            # which recovery redoes from the catalog (the catalog keeps FULL).
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(_SCHEMA)
        except sqlite3.Error as err:
            raise StorageError(f"cannot open the ingest ledger {path}: {err}") from err
        self.lock = threading.RLock()

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def observe(self, folder: Path, relative: Path, stat: os.stat_result) -> Entry:
        """The active entry for this file, created or re-queued when the file changed.

        A file that changed after it was queued goes back to `seen` to settle again.
        """
        key = (str(folder), os.fsencode(relative))
        ident = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
        now = time.time()
        with self._write() as db:
            row = db.execute(
                "SELECT * FROM entries WHERE folder = ? AND path = ? AND state IN"
                " ('seen','queued','working','retry','moving')",
                key,
            ).fetchone()
            if row is None:
                cur = db.execute(
                    "INSERT INTO entries (folder, path, size_bytes, mtime_ns, inode,"
                    " state, first_seen, updated) VALUES (?,?,?,?,?, 'seen', ?, ?)",
                    (*key, *ident, now, now),
                )
                row_id = cur.lastrowid
            else:
                row_id = row["id"]
                old = (row["size_bytes"], row["mtime_ns"], row["inode"])
                if old != ident and row["state"] in ("seen", "queued", "retry"):
                    db.execute(
                        "UPDATE entries SET size_bytes = ?, mtime_ns = ?, inode = ?,"
                        " state = 'seen', updated = ? WHERE id = ?",
                        (*ident, now, row_id),
                    )
        return self.get(int(row_id or 0))

    def get(self, entry_id: int) -> Entry:
        """One entry by id."""
        with self.lock:
            row = self.db.execute(
                "SELECT * FROM entries WHERE id = ?", (entry_id,)
            ).fetchone()
        if row is None:
            raise StorageError(f"ledger entry #{entry_id} does not exist")
        return _entry(row)

    def update(self, entry_id: int, **values: Any) -> Entry:
        """Set columns of one entry (state, stage, outcome, ...) and return it."""
        unknown = set(values) - _COLUMNS
        if unknown:
            raise StorageError(f"unknown ledger columns {sorted(unknown)}")
        names = ", ".join(f"{name} = ?" for name in values)
        params = [_encode(k, v) for k, v in values.items()]
        with self._write() as db:
            db.execute(
                f"UPDATE entries SET {names}, updated = ? WHERE id = ?",
                (*params, time.time(), entry_id),
            )
        return self.get(entry_id)

    def entries(self, *states: str, folder: Path | None = None) -> list[Entry]:
        """Entries in any of these states (all active ones when none are named)."""
        wanted = states or ACTIVE
        sql = f"SELECT * FROM entries WHERE state IN ({','.join('?' * len(wanted))})"
        params: list[Any] = list(wanted)
        if folder is not None:
            sql += " AND folder = ?"
            params.append(str(folder))
        with self.lock:
            rows = self.db.execute(sql + " ORDER BY id", params).fetchall()
        return [_entry(row) for row in rows]

    def last_final(self, folder: Path, relative: Path) -> Entry | None:
        """The newest finished entry for this path, if any."""
        with self.lock:
            row = self.db.execute(
                "SELECT * FROM entries WHERE folder = ? AND path = ? AND state IN"
                " ('processed','duplicate','quarantined','vanished')"
                " ORDER BY id DESC LIMIT 1",
                (str(folder), os.fsencode(relative)),
            ).fetchone()
        return _entry(row) if row else None

    def counts(self) -> dict[str, int]:
        """How many entries are in each state."""
        with self.lock:
            rows = self.db.execute(
                "SELECT state, count(*) FROM entries GROUP BY state"
            ).fetchall()
        return {state: n for state, n in rows}

    def set_meta(self, **values: Any) -> None:
        """Record watcher facts (heartbeat, last rescan, ...) as JSON values."""
        with self._write() as db:
            for key, value in values.items():
                db.execute(
                    "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                    (key, json.dumps(value)),
                )

    def meta(self) -> dict[str, Any]:
        """Every recorded watcher fact."""
        with self.lock:
            rows = self.db.execute("SELECT key, value FROM meta").fetchall()
        return {key: json.loads(value) for key, value in rows}
