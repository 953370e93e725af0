"""`digitize migrate`: move an embedded deployment into the scaled one, then verify.

The embedded deployment is a SQLite catalog and a repository folder; the scaled one is
PostgreSQL and a shared folder or S3 bucket.

Blobs go first (each read back and checked against its SHA-256), then every catalog row
in one transaction. Rows keep their bytes; only the surrogate ids of persons and events
are the target's own, since a province catalog merges many districts (persons are
matched by ID number). Running it twice changes nothing the second time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digitize.config import Settings
from digitize.errors import ConfigError, StorageError
from digitize.scale.backends import is_scaled, open_backends, upgrade_sqlite
from digitize.scale.blobs import BlobStore, LocalBlobStore
from digitize.store import Catalog

__all__ = ["MigrationReport", "migrate_home", "upgrade_catalog"]

log = logging.getLogger(__name__)

_PERSON_COLUMNS = (
    "id_number",
    "full_name",
    "name_key",
    "date_of_birth",
    "sex",
    "created_at",
)


@dataclass
class MigrationReport:
    """Rows and blobs read from the source and found identical in the target."""

    rows: dict[str, tuple[int, int]] = field(default_factory=dict)
    digests: dict[str, tuple[str, str]] = field(default_factory=dict)
    blobs: tuple[int, int] = (0, 0)
    copied_documents: int = 0
    merged_persons: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every count and every digest agrees."""
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "ok": self.ok,
            "rows": self.rows,
            "digests": self.digests,
            "blobs": self.blobs,
            "copied_documents": self.copied_documents,
            "merged_persons": self.merged_persons,
            "problems": self.problems,
        }

    def summary(self) -> str:
        """One line per table, blobs and the verdict."""
        lines = [
            f"{name:<10} source {src:>7}  target {dst:>7}  "
            f"{'same' if self.digests[name][0] == self.digests[name][1] else 'DIFF'}"
            for name, (src, dst) in self.rows.items()
        ]
        lines.append(
            f"blobs      source {self.blobs[0]:>7}  verified {self.blobs[1]:>5}"
        )
        lines.append(
            f"{self.copied_documents} documents copied, "
            f"{self.merged_persons} persons merged by ID number"
        )
        lines += [f"PROBLEM: {p}" for p in self.problems]
        lines.append("migration verified" if self.ok else "migration NOT verified")
        return "\n".join(lines)


def upgrade_catalog(settings: Settings) -> list[int]:
    """Bring the configured catalog to the newest schema; return versions applied."""
    if is_scaled(settings):
        from digitize.scale.pgcatalog import PgCatalog

        pg = PgCatalog(settings.scale_database_url)
        applied, catalog = pg.applied, pg
    else:
        catalog = Catalog(settings.catalog)
        applied = upgrade_sqlite(catalog)
    catalog.close()
    return applied


def _open_source(home: Path) -> sqlite3.Connection:
    path = home / "catalog.sqlite3"
    if not path.is_file():
        raise ConfigError(f"{path} does not exist; give the embedded home folder")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    return db


def migrate_home(source: Path, settings: Settings) -> MigrationReport:
    """Copy an embedded home's catalog and blobs into the scaled deployment, verified.

    Raises:
        ConfigError: the settings do not name a scaled deployment, or no catalog.
        StorageError: a source blob does not match its name (nothing is copied then).
    """
    if not is_scaled(settings):
        raise ConfigError(
            "migrate moves into the scaled deployment; set scale_mode = "
            "scaled and scale_database_url in the settings used"
        )
    src = _open_source(source)
    b = open_backends(settings)
    report = MigrationReport()
    try:
        report.blobs = _copy_blobs(LocalBlobStore(source / "repository"), b.blobs)
        with b.catalog.transaction() as db:
            new_docs = _copy_documents(src, db)
            person_ids = _copy_persons(src, db, report)
            _copy_rows(src, db, new_docs, person_ids)
        report.copied_documents = len(new_docs)
        _verify(src, b.catalog.db, report)
    finally:
        src.close()
        b.close()
    log.info(
        "migrated %d documents, %d blobs", report.copied_documents, report.blobs[0]
    )
    return report


def _copy_blobs(source: LocalBlobStore, target: BlobStore) -> tuple[int, int]:
    keys = list(source.iter_blobs())
    for sha, suffix in keys:
        if (
            not target.exists(sha, suffix)
            and target.put(source.get(sha, suffix), suffix) != sha
        ):
            raise StorageError(f"blob {sha[:12]}{suffix} changed while copied")
    verified = sum(1 for sha, suffix in keys if target.get(sha, suffix) is not None)
    return len(keys), verified


def _columns(src: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in src.execute(f"PRAGMA table_info({table})")]


def _insert(
    db: Any, table: str, columns: list[str] | tuple[str, ...], values: Any
) -> int:
    marks = ",".join("?" * len(columns))
    cur = db.execute(
        f"INSERT OR IGNORE INTO {table} ({','.join(columns)}) VALUES ({marks})",
        tuple(values),
    )
    return int(cur.rowcount)


def _tables(src: sqlite3.Connection) -> list[str]:
    """The source's tables in creation order (parents first), without FTS internals."""
    rows = src.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY rowid"
    ).fetchall()
    shadows = {
        f"{r[0]}_{s}"
        for r in rows
        if "VIRTUAL" in (r[1] or "").upper()
        for s in ("data", "idx", "content", "docsize", "config")
    }
    return [
        r[0]
        for r in rows
        if r[0] not in shadows
        and r[0] not in ("meta", "jobs")
        and not r[0].startswith("sqlite_")
    ]


def _rows(
    src: sqlite3.Connection, table: str, where: str = "", params: tuple[Any, ...] = ()
) -> tuple[list[str], list[tuple[Any, ...]]]:
    cols = _columns(src, table)
    rows = src.execute(f"SELECT {','.join(cols)} FROM {table} {where}", params)
    return cols, [tuple(r) for r in rows]


def _copy_documents(src: sqlite3.Connection, db: Any) -> set[str]:
    """Documents new to the target; their ids."""
    new = set()
    cols, docs = _rows(src, "documents", "ORDER BY id")
    for doc in docs:
        if _insert(db, "documents", cols, doc):
            new.add(doc[0])  # else already there (an earlier run, or the same bytes)
    return new


def _copy_rows(
    src: sqlite3.Connection, db: Any, new_docs: set[str], person_ids: dict[int, int]
) -> None:
    """Every other table, parents first, person ids mapped to the target's.

    Rows naming a document are copied with new documents only; rows whose id the
    database assigns get the target's id, unless the same values are already there.
    """
    for table in _tables(src):
        if table in ("documents", "persons"):
            continue
        cols, rows = _rows(src, table)
        identity = table in _identity() and cols[0] == "id"
        if identity:
            cols, rows = cols[1:], [r[1:] for r in rows]
        for row in rows:
            values = dict(zip(cols, row, strict=True))
            if values.get("document_id") not in (None, *new_docs):
                continue
            if "person_id" in values:
                values["person_id"] = person_ids[values["person_id"]]
            if identity:
                _insert_new(db, table, values)
            else:
                _insert(db, table, list(values), list(values.values()))


def _insert_new(db: Any, table: str, values: dict[str, Any]) -> None:
    same = " AND ".join(f"{c} IS NOT DISTINCT FROM ?" for c in values)
    if (
        db.execute(
            f"SELECT 1 FROM {table} WHERE {same} LIMIT 1", tuple(values.values())
        ).fetchone()
        is None
    ):
        db.execute(
            f"INSERT INTO {table} ({','.join(values)})"
            f" VALUES ({','.join('?' * len(values))})",
            tuple(values.values()),
        )


def _copy_persons(src: sqlite3.Connection, db: Any, report: MigrationReport) -> dict:
    """Persons new to the target; a known ID number maps to the target's person."""
    ids = {}
    for person in src.execute("SELECT * FROM persons ORDER BY id"):
        found = db.execute(
            "SELECT id FROM persons WHERE id_number = ?", (person["id_number"],)
        ).fetchone()
        if found is None:
            cur = db.execute(
                f"INSERT INTO persons ({','.join(_PERSON_COLUMNS)})"
                f" VALUES ({','.join('?' * len(_PERSON_COLUMNS))})",
                tuple(person[c] for c in _PERSON_COLUMNS),
            )
            ids[person["id"]] = cur.lastrowid
        else:
            # LIMITATION: a person already in the province catalog keeps its row there
            # -> the district's spelling of the name is not copied; counted as merged.
            ids[person["id"]] = found[0]
            report.merged_persons += 1
    return ids


def _identity() -> frozenset[str]:
    from digitize.scale.schema import identity_tables

    return identity_tables()


def _digest(rows: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(rows)).encode()).hexdigest()


def _dump(rows: Any) -> list[str]:
    return [json.dumps(list(r), ensure_ascii=False, default=str) for r in rows]


def _table_rows(
    src: sqlite3.Connection, target: Any, table: str, doc_ids: list[str]
) -> tuple[list[str], list[str]]:
    """A table's rows as JSON lines, source and target, without surrogate ids."""
    cols = [c for c in _columns(src, table) if not (c == "id" and table in _identity())]
    # Person ids differ between the catalogs: compare the person's ID number instead.
    exprs = [
        f"(SELECT p.id_number FROM persons p WHERE p.id = t.{c})"
        if c == "person_id"
        else f"t.{c}"
        for c in cols
    ]
    sql = f"SELECT {','.join(exprs)} FROM {table} t"
    key = (
        "id" if table == "documents" else "document_id" if "document_id" in cols else ""
    )
    where = f" WHERE t.{key} = ANY(?) OR t.{key} IS NULL" if key else ""
    source = _dump(src.execute(sql))
    target_rows = target.execute(sql + where, (doc_ids,) if key else ()).fetchall()
    return source, _dump(target_rows)


def _verify(src: sqlite3.Connection, target: Any, report: MigrationReport) -> None:
    """Every source row must be in the target with the same bytes: counts and SHA-256.

    Persons already in the target (merged by ID number) keep the target's row.
    """
    doc_ids = [r[0] for r in src.execute("SELECT id FROM documents")]
    for table in _tables(src):
        source, target_rows = _table_rows(src, target, table, doc_ids)
        available = Counter(target_rows)
        found = []
        for row in source:
            if available[row] > 0:
                available[row] -= 1
                found.append(row)
        report.rows[table] = (len(source), len(found))
        report.digests[table] = (_digest(source), _digest(found))
        missing = len(source) - len(found)
        if missing and not (table == "persons" and missing <= report.merged_persons):
            report.problems.append(f"{table}: {missing} source rows not in the target")
