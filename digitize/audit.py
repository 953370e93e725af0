"""Audit trail of the counter service: who looked up, viewed, downloaded, verified what.

Entries go to `home/audit.sqlite3`, append-only (triggers refuse UPDATE and DELETE),
each chained to the previous one by SHA-256; the last entry's hash is also kept in
`home/audit.head.json`, so an edited, deleted or cut-off entry is found by
`verify_chain`. Entries hold masked ID numbers and initials, never full personal data.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digitize.errors import StorageError
from digitize.logs import mask_id, mask_name
from digitize.store import create_private, now_iso

__all__ = ["AuditLog", "ChainReport", "mask_query", "scrub", "verify_chain"]

GENESIS = "0" * 64
_COLUMNS = (
    "seq",
    "ts",
    "username",
    "role",
    "action",
    "target",
    "ip",
    "outcome",
    "detail",
)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    username TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    ip TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_action ON audit(action, seq);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""
_DIGIT_RUN = re.compile(r"\d{9,12}")


def scrub(text: str) -> str:
    """Safety net: mask any run of 9-12 digits (ID and phone numbers)."""
    return _DIGIT_RUN.sub(lambda m: mask_id(m.group(0)), text)


def mask_query(text: str) -> str:
    """A search as the audit keeps it: words cut to initials, long numbers masked."""
    words = []
    for word in text.split():
        if word.isdigit():
            words.append(mask_id(word) if len(word) >= 9 else word)
        else:
            words.append(mask_name(word))
    return " ".join(words)


def _entry_hash(values: dict[str, Any], prev: str) -> str:
    payload = [values[name] for name in _COLUMNS] + [prev]
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class ChainReport:
    """The result of checking the audit chain."""

    entries: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every entry and the head agree."""
        return not self.problems


class AuditLog:
    """Appends hash-chained entries; readers page through or export them."""

    def __init__(self, path: Path) -> None:
        """Open (or create) the log at `path`; its head file sits beside it."""
        create_private(path)
        self.path = path
        self.head_path = path.with_name(path.stem + ".head.json")
        try:
            self.db = sqlite3.connect(path, timeout=30, check_same_thread=False)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(_SCHEMA)
        except sqlite3.Error as err:
            raise StorageError(f"cannot open the audit log {path}: {err}") from err
        self.lock = threading.Lock()

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def record(
        self,
        *,
        username: str,
        role: str,
        action: str,
        target: str = "",
        ip: str = "",
        outcome: str = "ok",
        detail: str = "",
    ) -> int:
        """Append one entry; return its sequence number.

        `target` and `detail` must already be masked; digit runs are masked again here.
        """
        values = {
            "ts": now_iso(),
            "username": username,
            "role": role,
            "action": action,
            "target": scrub(target),
            "ip": ip,
            "outcome": outcome,
            "detail": scrub(detail),
        }
        with self.lock:
            try:
                return self._append(values)
            except sqlite3.Error as err:
                self.db.rollback()
                raise StorageError(f"cannot write the audit log: {err}") from err

    def _append(self, values: dict[str, Any]) -> int:
        self.db.execute("BEGIN IMMEDIATE")
        last = self.db.execute(
            "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        values["seq"] = (last["seq"] if last else 0) + 1
        prev = last["hash"] if last else GENESIS
        digest = _entry_hash(values, prev)
        self.db.execute(
            f"INSERT INTO audit ({', '.join(_COLUMNS)}, prev, hash)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (*[values[name] for name in _COLUMNS], prev, digest),
        )
        self.db.commit()
        _write_head(self.head_path, values["seq"], digest)
        return int(values["seq"])

    def entries(
        self, *, before: int | None = None, limit: int = 100, action: str = ""
    ) -> list[dict[str, Any]]:
        """Newest entries first, optionally of one action and before a sequence."""
        sql, params = "SELECT * FROM audit WHERE 1=1", []
        if before:
            sql += " AND seq < ?"
            params.append(before)
        if action:
            sql += " AND action = ?"
            params.append(action)
        sql += " ORDER BY seq DESC LIMIT ?"
        params.append(limit)
        return [dict(row) for row in self.db.execute(sql, params)]

    def export_lines(self) -> Iterator[str]:
        """Every entry, oldest first, as JSON lines (with prev and hash)."""
        for row in self.db.execute("SELECT * FROM audit ORDER BY seq"):
            yield json.dumps(dict(row), ensure_ascii=False) + "\n"

    def verify(self) -> ChainReport:
        """Check this log's chain and head."""
        return verify_chain(self.path)


def _write_head(path: Path, seq: int, digest: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".audit-head-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"seq": seq, "hash": digest}, handle)
    Path(tmp).replace(path)


def verify_chain(path: Path) -> ChainReport:
    """Recompute every hash; report edited, deleted, inserted or cut-off entries.

    Raises:
        StorageError: the log file is missing or unreadable.
    """
    if not path.is_file():
        raise StorageError(f"no audit log at {path}", code="audit.missing")
    report = ChainReport()
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        prev, expected_seq = GENESIS, 1
        for row in db.execute("SELECT * FROM audit ORDER BY seq"):
            values = dict(row)
            _check_entry(values, prev, expected_seq, report)
            prev, expected_seq = values["hash"], values["seq"] + 1
            report.entries += 1
    except sqlite3.Error as err:
        raise StorageError(f"cannot read the audit log {path}: {err}") from err
    finally:
        db.close()
    head = path.with_name(path.stem + ".head.json")
    _check_head(head, expected_seq - 1, prev, report)
    return report


def _check_entry(
    values: dict[str, Any], prev: str, expected_seq: int, report: ChainReport
) -> None:
    seq = values["seq"]
    if seq != expected_seq:
        report.problems.append(f"entries {expected_seq}-{seq - 1} are missing")
    if values["prev"] != prev:
        report.problems.append(f"entry {seq} does not follow the entry before it")
    if _entry_hash(values, values["prev"]) != values["hash"]:
        report.problems.append(f"entry {seq} was changed after it was written")


def _check_head(path: Path, last_seq: int, last_hash: str, report: ChainReport) -> None:
    # LIMITATION: whoever replaces both the log and its head file can cut entries off
    # the end undetected -> compare with an exported copy kept elsewhere.
    if not path.is_file():
        if last_seq:
            report.problems.append(f"the head file {path.name} is missing")
        return
    head = json.loads(path.read_text(encoding="utf-8"))
    if head.get("seq") != last_seq or head.get("hash") != last_hash:
        report.problems.append(
            f"the log ends at entry {last_seq} but the head records entry "
            f"{head.get('seq')}: entries at the end were removed or replaced"
        )
