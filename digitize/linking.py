"""Store stage, people: which person each stored paper belongs to.

A paper joins a person by its 12-digit number when that number passed all its
checks. An old 9-digit CMND number joins only through a source that states both
numbers (a chip card's QR field 2). Name, full date of birth and sex shared with a
person on file give a candidate in `person_candidates` that counter staff confirm or
reject; nothing is merged on them alone. A person's name, birth date and sex are the
best values among their papers: verified first, then the most confident.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

from digitize.extract.names import fold, nfc
from digitize.records import Field, Paper

__all__ = ["LINKING_SCHEMA", "decide_candidate", "link_persons", "open_candidates"]

LINKING_SCHEMA = """
CREATE TABLE IF NOT EXISTS person_old_ids (
    old_id_number TEXT PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES persons(id),
    document_id TEXT NOT NULL REFERENCES documents(id),
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS person_candidates (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES persons(id),
    document_id TEXT NOT NULL REFERENCES documents(id),
    paper_type TEXT NOT NULL,
    page_idx INTEGER NOT NULL,
    reason TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    created_at TEXT NOT NULL,
    decided_at TEXT,
    UNIQUE (person_id, document_id, paper_type, page_idx, reason)
);
CREATE INDEX IF NOT EXISTS person_candidates_person ON person_candidates(person_id);
"""
_PERSON_FIELDS = ("full_name", "date_of_birth", "sex")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def link_persons(
    db: sqlite3.Connection, document_id: str, papers: list[Paper]
) -> list[int]:
    """Link the document's papers to persons; record candidates; return person ids.

    Runs inside the caller's transaction, after the paper's fields were inserted.
    """
    ids: list[int] = []
    for paper in papers:
        person_id = _person_of(db, document_id, paper)
        if person_id is not None:
            db.execute(
                "INSERT OR IGNORE INTO links VALUES (?,?,?)",
                (person_id, document_id, paper.paper_type),
            )
            _refresh_person(db, person_id)
            ids += [] if person_id in ids else [person_id]
        _add_candidates(db, document_id, paper, linked=person_id)
        _add_doubtful_number(db, document_id, paper, linked=person_id)
    return ids


def _add_doubtful_number(
    db: sqlite3.Connection, document_id: str, paper: Paper, *, linked: int | None
) -> None:
    """A 12-digit number that failed a check but names a person on file."""
    pin = paper.fields.get("id_number")
    if linked is not None or pin is None or "pin.shape" not in pin.checks_passed:
        return
    row = db.execute(
        "SELECT id FROM persons WHERE id_number = ?", (pin.value,)
    ).fetchone()
    if row is not None:
        _insert_candidate(db, row[0], document_id, paper, "id_number_doubtful")


def _person_of(db: sqlite3.Connection, document_id: str, paper: Paper) -> int | None:
    """The person a paper belongs to by number, created from a sound 12-digit one."""
    pin = paper.fields.get("id_number")
    if pin is not None and _is_sound(pin, "pin.shape"):
        person_id = _upsert_person(db, pin.value)
        old = paper.fields.get("old_id_number")
        if old is not None and old.source == "qr" and _is_sound(old, "cmnd.shape"):
            _record_old_id(db, person_id, old.value, document_id)
        return person_id
    old = paper.fields.get("old_id_number")
    if old is None or not _is_sound(old, "cmnd.shape"):
        return None
    row = db.execute(
        "SELECT person_id FROM person_old_ids WHERE old_id_number = ?", (old.value,)
    ).fetchone()
    return int(row[0]) if row else None


def _is_sound(number: Field, shape: str) -> bool:
    """Shape passed and no check failed: a doubtful number links nobody."""
    return shape in number.checks_passed and not number.checks_failed


def _upsert_person(db: sqlite3.Connection, pin: str) -> int:
    row = db.execute("SELECT id FROM persons WHERE id_number = ?", (pin,)).fetchone()
    if row is not None:
        return int(row[0])
    cur = db.execute(
        "INSERT INTO persons (id_number, created_at) VALUES (?, ?)", (pin, _now())
    )
    return int(cur.lastrowid or 0)


def _record_old_id(
    db: sqlite3.Connection, person_id: int, old: str, document_id: str
) -> None:
    """Remember a QR's CMND number; papers showing only that number join now."""
    cur = db.execute(
        "INSERT OR IGNORE INTO person_old_ids VALUES (?,?,?,?)",
        (old, person_id, document_id, _now()),
    )
    if cur.rowcount != 1:
        return
    earlier = db.execute(
        "SELECT DISTINCT f.document_id, f.paper_type FROM fields f"
        " WHERE f.name = 'old_id_number' AND f.value = ? AND f.checks_failed = '[]'"
        " AND NOT EXISTS (SELECT 1 FROM links l WHERE l.document_id = f.document_id"
        " AND l.paper_type = f.paper_type)",
        (old,),
    ).fetchall()
    for document, paper_type in earlier:
        db.execute(
            "INSERT OR IGNORE INTO links VALUES (?,?,?)",
            (person_id, document, paper_type),
        )


def _refresh_person(db: sqlite3.Connection, person_id: int) -> None:
    """Name, birth date and sex from the best field among the person's papers."""
    rows = db.execute(
        "SELECT f.name, f.value, f.verified, f.confidence FROM fields f"
        " JOIN links l ON l.document_id = f.document_id AND l.paper_type = f.paper_type"
        " WHERE l.person_id = ? AND f.name IN ('full_name', 'date_of_birth', 'sex')"
        " AND f.value != '' AND f.checks_failed NOT LIKE '%shape%'"
        " AND f.checks_failed NOT LIKE '%date.valid%'",
        (person_id,),
    ).fetchall()
    best: dict[str, str] = {}
    for name in _PERSON_FIELDS:
        found = [r for r in rows if r[0] == name]
        if found:
            best[name] = max(found, key=lambda r: _rank(name, r[1], r[2], r[3]))[1]
    full_name = best.get("full_name")
    db.execute(
        "UPDATE persons SET full_name = ?, name_key = ?, date_of_birth = ?, sex = ?"
        " WHERE id = ?",
        (
            nfc(full_name) if full_name else None,
            fold(full_name) if full_name else None,
            best.get("date_of_birth"),
            best.get("sex"),
            person_id,
        ),
    )


def _rank(
    name: str, value: str, verified: int, confidence: float
) -> tuple[int, int, float]:
    """Names with their marks first (an MRZ has none); then verified, full dates."""
    if name == "full_name":
        return (int(fold(value) != value.upper()), verified, confidence)
    precision = len(value) if name == "date_of_birth" else 0  # day, month, year
    return (verified, precision, confidence)


def _add_candidates(
    db: sqlite3.Connection, document_id: str, paper: Paper, *, linked: int | None
) -> None:
    """Persons who share the paper's name and full birth date (and sex, if shown)."""
    name, dob = paper.value("full_name"), paper.value("date_of_birth")
    if not name or not dob or len(dob) != 10:
        return
    sex = paper.value("sex")
    sql = "SELECT id FROM persons WHERE name_key = ? AND date_of_birth = ?"
    params: list[object] = [fold(name), dob]
    if sex:
        sql += " AND sex = ?"
        params.append(sex)
    reason = "name_dob_sex" if sex else "name_dob"
    for (person_id,) in db.execute(sql, params).fetchall():
        if person_id == linked:
            continue
        _insert_candidate(db, person_id, document_id, paper, reason)


def _insert_candidate(
    db: sqlite3.Connection, person_id: int, document_id: str, paper: Paper, reason: str
) -> None:
    db.execute(
        "INSERT OR IGNORE INTO person_candidates (person_id, document_id,"
        " paper_type, page_idx, reason, created_at) VALUES (?,?,?,?,?,?)",
        (person_id, document_id, paper.paper_type, paper.page_index, reason, _now()),
    )


def open_candidates(db: sqlite3.Connection, person_id: int) -> list[dict[str, object]]:
    """Papers that may belong to the person and wait for someone to decide."""
    rows = db.execute(
        "SELECT id, document_id, paper_type, page_idx, reason, created_at"
        " FROM person_candidates WHERE person_id = ? AND status = 'open' ORDER BY id",
        (person_id,),
    ).fetchall()
    keys = ("id", "document_id", "paper_type", "page_idx", "reason", "created_at")
    return [dict(zip(keys, row, strict=True)) for row in rows]


# LIMITATION: candidates are decided with `digitize candidate` (no web control yet)
# -> at the counter they stay listed under the person until IT decides them.
def decide_candidate(
    db: sqlite3.Connection, candidate_id: int, *, accept: bool
) -> bool:
    """Confirm (link the paper) or reject a candidate; False if it was not open."""
    row = db.execute(
        "SELECT person_id, document_id, paper_type FROM person_candidates"
        " WHERE id = ? AND status = 'open'",
        (candidate_id,),
    ).fetchone()
    if row is None:
        return False
    db.execute(
        "UPDATE person_candidates SET status = ?, decided_at = ? WHERE id = ?",
        ("confirmed" if accept else "rejected", _now(), candidate_id),
    )
    if accept:
        db.execute("INSERT OR IGNORE INTO links VALUES (?,?,?)", tuple(row))
        _refresh_person(db, int(row[0]))
    db.execute(
        "INSERT INTO events (ts, document_id, kind, detail) VALUES (?,?,?,?)",
        (
            _now(),
            row[1],
            "candidate",
            json.dumps({"id": candidate_id, "accept": accept}),
        ),
    )
    return True
