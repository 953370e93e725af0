"""The catalog on PostgreSQL: store.Catalog's writing and query.py's lookups, unchanged.

`PgConnection` accepts the SQL that store.py and query.py write for SQLite (`?` marks,
`INSERT OR IGNORE`, `group_concat`, rows readable by name and by position), so both
modes run the same catalog code; only full-text search has its own SQL (search.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from digitize.errors import StorageError
from digitize.scale import schema
from digitize.store import Catalog

__all__ = ["PgCatalog", "PgConnection", "Row"]

log = logging.getLogger(__name__)

_INSERT_OR_IGNORE = re.compile(r"^\s*INSERT\s+OR\s+IGNORE\s+INTO", re.IGNORECASE)
_INSERT_INTO = re.compile(r"^\s*INSERT\s+INTO\s+(\w+)", re.IGNORECASE)
# Tables whose integer key the database assigns; an insert reports it as lastrowid.
_IDENTITY_TABLES = schema.identity_tables()
# Serialises schema upgrades among workers starting at once (any constant will do).
_UPGRADE_LOCK = 0x64697A31


class Row(tuple):
    """A result row readable by position and by column name, like sqlite3.Row."""

    _names: tuple[str, ...] = ()

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        """Value by index, slice or column name."""
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names.index(key))
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        """Column names, in order (dict(row) relies on it)."""
        return list(self._names)


def _row_factory(cursor: psycopg.Cursor[Any]) -> Any:
    names = tuple(col.name for col in cursor.description or ())
    row_type = type("Row", (Row,), {"_names": names})
    return lambda values: row_type(values)


def translate(sql: str, has_params: bool = True) -> tuple[str, str | None]:
    """SQLite-flavoured SQL to PostgreSQL; also the identity table an INSERT fills."""
    text = sql.replace("%", "%%").replace("?", "%s") if has_params else sql
    if _INSERT_OR_IGNORE.match(text):
        text = _INSERT_OR_IGNORE.sub("INSERT INTO", text) + " ON CONFLICT DO NOTHING"
    target = _INSERT_INTO.match(text)
    if (
        target
        and target.group(1).lower() in _IDENTITY_TABLES
        and "ON CONFLICT" not in text
    ):
        return text + " RETURNING id", target.group(1)
    return text, None


class _Cursor:
    """What sqlite3's cursor gives the catalog code: rows, rowcount, lastrowid."""

    def __init__(self, cursor: psycopg.Cursor[Any], returns_id: bool) -> None:
        self._cursor = cursor
        self.lastrowid: int | None = None
        self.rowcount = cursor.rowcount
        if returns_id:
            self.lastrowid = int(cursor.fetchone()[0])

    def fetchone(self) -> Any:
        return self._cursor.fetchone() if self._cursor.description else None

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall() if self._cursor.description else []

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class PgConnection:
    """A psycopg connection that runs the catalog's SQLite-flavoured statements."""

    def __init__(self, url: str) -> None:
        """Connect in autocommit: reads hold no transaction open, BEGIN starts one."""
        try:
            self.conn = psycopg.connect(
                url, row_factory=_row_factory, connect_timeout=10, autocommit=True
            )
        except psycopg.Error as err:
            raise StorageError(
                f"cannot connect to the PostgreSQL catalog: {err}; check "
                "scale_database_url and that the server is up",
                code="store.unreachable",
            ) from err

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Cursor:
        """Run one statement; `?` marks take `params`."""
        head = sql.strip().upper()
        if head.startswith("PRAGMA"):
            return _Cursor(self.conn.cursor(), False)
        text, identity = translate(
            "BEGIN" if head.startswith("BEGIN") else sql, bool(params)
        )
        try:
            cursor = self.conn.execute(text, tuple(params) if params else None)
        except psycopg.errors.UniqueViolation:
            raise
        except psycopg.OperationalError as err:
            raise StorageError(
                f"catalog unreachable: {err}", code="store.unreachable"
            ) from err
        return _Cursor(cursor, identity is not None)

    def commit(self) -> None:
        """Commit the open transaction, if one is open."""
        if self.conn.info.transaction_status != TransactionStatus.IDLE:
            self.conn.execute("COMMIT")

    def rollback(self) -> None:
        """Roll the open transaction back, if one is open."""
        if self.conn.info.transaction_status != TransactionStatus.IDLE:
            self.conn.execute("ROLLBACK")

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


class PgCatalog(Catalog):
    """store.Catalog over PostgreSQL: same methods, same SQL, schema by migrations."""

    def __init__(self, url: str) -> None:  # noqa: D107 - see class docstring
        self.url = url
        self.db = PgConnection(url)  # type: ignore[assignment]
        with self.transaction() as db:
            db.execute("SELECT pg_advisory_xact_lock(?)", (_UPGRADE_LOCK,))
            self.applied = schema.upgrade(db.execute, schema_version(db), "postgres")


def schema_version(db: Any) -> int:
    """The catalog's recorded schema version; 0 when it has no meta table yet."""
    exists = db.execute("SELECT to_regclass('meta') IS NOT NULL").fetchone()[0]
    if not exists:
        return 0
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0
