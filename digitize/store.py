"""Store stage: content-addressed blobs on disk and the SQLite catalog.

Blobs are written first (idempotent: same bytes, same name); then one transaction records
the document, its pages, fields, person links and full-text rows. Only after the commit
does the caller move the inbox file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
import threading
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from digitize.errors import StorageError
from digitize.linking import LINKING_SCHEMA, decide_candidate, link_persons
from digitize.records import OcrPage, Paper

__all__ = [
    "Catalog",
    "DocumentRecord",
    "blob_path",
    "create_private",
    "fold_text",
    "sha256_file",
    "write_blob",
]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    original_name TEXT NOT NULL,
    unit TEXT NOT NULL DEFAULT '',
    dossier TEXT NOT NULL DEFAULT '',
    format TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    pages INTEGER NOT NULL,
    unsigned_sha256 TEXT,
    signed_sha256 TEXT,
    sign_level TEXT,
    signer TEXT,
    signed_at TEXT,
    validated INTEGER NOT NULL DEFAULT 0,
    seconds REAL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pages (
    document_id TEXT NOT NULL REFERENCES documents(id),
    idx INTEGER NOT NULL,
    width_px INTEGER, height_px INTEGER, dpi REAL,
    rotation INTEGER, mean_conf REAL,
    text TEXT NOT NULL,
    PRIMARY KEY (document_id, idx)
);
CREATE TABLE IF NOT EXISTS persons (
    id INTEGER PRIMARY KEY,
    id_number TEXT NOT NULL UNIQUE,
    full_name TEXT,
    name_key TEXT,
    date_of_birth TEXT,
    sex TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS persons_name ON persons(name_key, date_of_birth);
CREATE TABLE IF NOT EXISTS fields (
    document_id TEXT NOT NULL REFERENCES documents(id),
    page_idx INTEGER NOT NULL,
    paper_type TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    raw TEXT,
    source TEXT NOT NULL,
    confidence REAL NOT NULL,
    checks_passed TEXT NOT NULL,
    checks_failed TEXT NOT NULL,
    verified INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS fields_doc ON fields(document_id);
CREATE TABLE IF NOT EXISTS links (
    person_id INTEGER NOT NULL REFERENCES persons(id),
    document_id TEXT NOT NULL REFERENCES documents(id),
    paper_type TEXT NOT NULL,
    UNIQUE (person_id, document_id, paper_type)
);
CREATE INDEX IF NOT EXISTS links_doc ON links(document_id);
-- The counter service lists a dossier's documents and filters searches by date.
CREATE INDEX IF NOT EXISTS documents_dossier ON documents(unit, dossier);
CREATE INDEX IF NOT EXISTS documents_created ON documents(created_at);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    document_id TEXT,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
-- The legal chain: every signed file a document ever had. The documents row holds
-- the current one; older rows keep their blobs and say when they were superseded.
CREATE TABLE IF NOT EXISTS versions (
    document_id TEXT NOT NULL REFERENCES documents(id),
    version INTEGER NOT NULL,
    kind TEXT NOT NULL,
    unsigned_sha256 TEXT,
    signed_sha256 TEXT NOT NULL,
    sign_level TEXT,
    signer TEXT,
    signed_at TEXT,
    created_at TEXT NOT NULL,
    superseded_at TEXT,
    PRIMARY KEY (document_id, version)
);
-- Signatures found on PDFs as received (third-party signed input), as verified.
CREATE TABLE IF NOT EXISTS input_signatures (
    id INTEGER PRIMARY KEY,
    input_sha256 TEXT NOT NULL,
    document_id TEXT,
    field_name TEXT NOT NULL,
    signer TEXT,
    signed_at TEXT,
    level TEXT,
    intact INTEGER NOT NULL,
    trusted INTEGER NOT NULL,
    revocation_checked INTEGER NOT NULL,
    ok INTEGER NOT NULL,
    report TEXT NOT NULL,
    checked_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS input_signatures_sha ON input_signatures(input_sha256);
-- Dossiers (hồ sơ) as filed in INBOX/<unit>/<code>/: each file is one paper of one
-- dossier; a duplicate file links its dossier to the document stored before.
CREATE TABLE IF NOT EXISTS dossiers (
    unit TEXT NOT NULL,
    code TEXT NOT NULL,
    procedure_code TEXT NOT NULL DEFAULT '',
    applicant_id_number TEXT NOT NULL DEFAULT '',
    paper_types TEXT NOT NULL DEFAULT '{}',
    manifest_warnings TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (unit, code)
);
CREATE TABLE IF NOT EXISTS dossier_papers (
    unit TEXT NOT NULL,
    dossier TEXT NOT NULL,
    document_id TEXT NOT NULL REFERENCES documents(id),
    file_name TEXT NOT NULL,
    paper_type TEXT NOT NULL DEFAULT '',
    duplicate INTEGER NOT NULL DEFAULT 0,
    added_at TEXT NOT NULL,
    UNIQUE (unit, dossier, document_id, file_name)
);
CREATE INDEX IF NOT EXISTS dossier_papers_doc ON dossier_papers(document_id);
CREATE VIRTUAL TABLE IF NOT EXISTS pages_fts USING fts5(
    text, folded, document_id UNINDEXED, idx UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 0'
);
"""


def now_iso() -> str:
    """The current UTC time, ISO 8601."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@cache
def _fold_char(char: str) -> str:
    if char in "đĐ":
        return "d"
    base = unicodedata.normalize("NFD", char)[0]
    return base.lower() if len(base) == 1 else char.lower()


def fold_text(text: str) -> str:
    """Lower-case text without marks, one character for one: offsets stay aligned.

    Index and snippets rely on this: position i of the folded text is position i of
    `nfc_keep(text)`.
    """
    return "".join(map(_fold_char, nfc_keep(text)))


def nfc_keep(text: str) -> str:
    """NFC without collapsing spaces: offsets stay aligned with `fold_text`."""
    return unicodedata.normalize("NFC", text)


def create_private(path: Path) -> None:
    """Create a database file readable by its owner only (it holds personal data).

    SQLite gives its -wal and -shm files the same mode as the database file.
    """
    if str(path) == ":memory:":
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def blob_path(repository: Path, sha256: str, suffix: str) -> Path:
    """Where the blob with this hash lives: repository/ab/abcdef....suffix."""
    return repository / sha256[:2] / f"{sha256}{suffix}"


def write_blob(repository: Path, data: bytes | Path, suffix: str) -> str:
    """Store bytes (or a file's bytes, copied in chunks) under their SHA-256.

    Written to a temporary file, fsynced and renamed, so a crash never leaves half a
    blob. Returns the hash.
    """
    if isinstance(data, Path):
        sha, size = sha256_file(data), data.stat().st_size
    else:
        sha, size = hashlib.sha256(data).hexdigest(), len(data)
    target = blob_path(repository, sha, suffix)
    if target.exists() and target.stat().st_size == size:
        return sha
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        # Named after the target, so the watcher's recovery can find a half-written
        # blob of a killed worker.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".tmp-{target.name}.")
        with os.fdopen(fd, "wb") as handle:
            if isinstance(data, Path):
                with data.open("rb") as source:
                    shutil.copyfileobj(source, handle, 1 << 20)
            else:
                handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(target)
    except OSError as err:
        raise StorageError(f"cannot write blob {sha[:12]}: {err}") from err
    return sha


@dataclass
class DocumentRecord:
    """Everything the store stage records for one ingested file."""

    sha256: str
    original_name: str
    format: str
    size_bytes: int
    pages: list[OcrPage]
    papers: list[Paper] = field(default_factory=list)
    unit: str = ""
    dossier: str = ""
    unsigned_sha256: str | None = None
    signed_sha256: str | None = None
    sign_level: str | None = None
    signer: str | None = None
    signed_at: str | None = None
    validated: bool = False
    seconds: float = 0.0
    notes: dict[str, Any] = field(default_factory=dict)
    """Facts about the input kept with the `stored` event: repaired, encryption, ..."""

    @property
    def id(self) -> str:
        """Short, stable document id: the first 16 hex digits of the input's hash."""
        return self.sha256[:16]


class Catalog:
    """The SQLite catalog: one connection, schema created on first use."""

    def __init__(self, path: Path) -> None:
        """Open (and create if needed) the catalog at `path`."""
        create_private(path)
        try:
            self.db = sqlite3.connect(path, timeout=30, check_same_thread=False)
        except sqlite3.Error as err:
            raise StorageError(f"cannot open the catalog {path}: {err}") from err
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(_SCHEMA)
        self.db.executescript(LINKING_SCHEMA)
        self.db.execute(
            "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
            (str(SCHEMA_VERSION),),
        )
        self.db.commit()

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit: commit on success, roll back on any error."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
            yield self.db
            self.db.commit()
        except BaseException:
            self.db.rollback()
            raise

    def find_document_by_sha(self, sha256: str) -> sqlite3.Row | None:
        """The document stored for these input bytes, if any."""
        return self.db.execute(
            "SELECT * FROM documents WHERE sha256 = ?", (sha256,)
        ).fetchone()

    def log_event(self, kind: str, document_id: str | None, detail: Any = "") -> None:
        """Append one event row (its own transaction)."""
        text = (
            detail
            if isinstance(detail, str)
            else json.dumps(detail, ensure_ascii=False)
        )
        with self.transaction() as db:
            db.execute(
                "INSERT INTO events (ts, document_id, kind, detail) VALUES (?, ?, ?, ?)",
                (now_iso(), document_id, kind, text),
            )

    def link_paper(
        self,
        unit: str,
        dossier: str,
        document_id: str,
        file_name: str,
        *,
        duplicate: bool = False,
    ) -> bool:
        """File a stored document as one paper of a dossier; False if already filed.

        Idempotent, so the watcher may repeat it after a crash. A new duplicate link is
        also recorded as a `duplicate` event.
        """
        now = now_iso()
        with self.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO dossiers (unit, code, created_at, updated_at)"
                " VALUES (?,?,?,?)",
                (unit, dossier, now, now),
            )
            types = db.execute(
                "SELECT paper_types FROM dossiers WHERE unit = ? AND code = ?",
                (unit, dossier),
            ).fetchone()[0]
            name = nfc_keep(file_name)
            cur = db.execute(
                "INSERT OR IGNORE INTO dossier_papers (unit, dossier, document_id,"
                " file_name, paper_type, duplicate, added_at) VALUES (?,?,?,?,?,?,?)",
                (unit, dossier, document_id, name, json.loads(types).get(name, ""),
                 int(duplicate), now),
            )  # fmt: skip
            added = cur.rowcount == 1
            if added and duplicate:
                db.execute(
                    "INSERT INTO events (ts, document_id, kind, detail)"
                    " VALUES (?, ?, 'duplicate', ?)",
                    (now, document_id, json.dumps({"unit": unit, "dossier": dossier})),
                )
        return added

    def dossier_file_names(self, unit: str, code: str) -> set[str]:
        """Names (NFC) of the files filed as papers of a dossier."""
        rows = self.db.execute(
            "SELECT file_name FROM dossier_papers WHERE unit = ? AND dossier = ?",
            (unit, code),
        )
        return {row[0] for row in rows}

    def update_dossier(
        self,
        unit: str,
        code: str,
        *,
        fields: dict[str, str],
        paper_types: dict[str, str],
        warnings: list[str],
    ) -> None:
        """Record a dossier's manifest: procedure code, applicant, paper types.

        Papers filed before the manifest arrived get their types now; later ones get
        them from `link_paper`.
        """
        now = now_iso()
        paper_types = {nfc_keep(k): v for k, v in paper_types.items()}
        with self.transaction() as db:
            db.execute(
                "INSERT INTO dossiers (unit, code, procedure_code, applicant_id_number,"
                " paper_types, manifest_warnings, created_at, updated_at)"
                " VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (unit, code) DO UPDATE SET"
                " procedure_code = excluded.procedure_code,"
                " applicant_id_number = excluded.applicant_id_number,"
                " paper_types = excluded.paper_types,"
                " manifest_warnings = excluded.manifest_warnings,"
                " updated_at = excluded.updated_at",
                (
                    unit,
                    code,
                    fields.get("procedure_code", ""),
                    fields.get("applicant_id_number", ""),
                    json.dumps(paper_types, ensure_ascii=False),
                    json.dumps(warnings, ensure_ascii=False),
                    now,
                    now,
                ),
            )
            for name, paper_type in paper_types.items():
                db.execute(
                    "UPDATE dossier_papers SET paper_type = ? WHERE unit = ?"
                    " AND dossier = ? AND file_name = ?",
                    (paper_type, unit, code, nfc_keep(name)),
                )

    def add_document(self, record: DocumentRecord) -> list[int]:
        """Record a document with pages, fields, links and index rows; return person ids."""
        with self.transaction() as db:
            self._insert_document(db, record)
            self._insert_pages(db, record)
            self._insert_fields(db, record)
            person_ids = self._link_persons(db, record)
            if record.signed_sha256:
                self._insert_version(db, record, kind="signed", version=1)
            db.execute(
                "INSERT INTO events (ts, document_id, kind, detail) VALUES (?, ?, ?, ?)",
                (
                    now_iso(),
                    record.id,
                    "stored",
                    json.dumps(
                        {"pages": len(record.pages), **record.notes},
                        ensure_ascii=False,
                        default=str,
                    ),
                ),
            )
        return person_ids

    def replace_reading(self, record: DocumentRecord, *, kind: str) -> int:
        """Store a new signed version of a document; the old one is superseded.

        Pages, fields, links and index rows are replaced by the record's; the old
        blobs stay where they are. Returns the new version number.
        """
        with self.transaction() as db:
            version = self._supersede(db, record.id)
            for table in ("pages", "fields", "links", "pages_fts"):
                db.execute(f"DELETE FROM {table} WHERE document_id = ?", (record.id,))
            self._insert_pages(db, record)
            self._insert_fields(db, record)
            self._link_persons(db, record)
            self._update_signed(db, record)
            self._insert_version(db, record, kind=kind, version=version)
        return version

    def add_signed_version(self, record: DocumentRecord, *, kind: str) -> int:
        """A new signed file for the same reading (e.g. an archive timestamp added)."""
        with self.transaction() as db:
            version = self._supersede(db, record.id)
            self._update_signed(db, record)
            self._insert_version(db, record, kind=kind, version=version)
        return version

    def _supersede(self, db: sqlite3.Connection, document_id: str) -> int:
        """Mark the current version superseded (backfilling version 1); next number."""
        row = db.execute("SELECT * FROM documents WHERE id = ?", (document_id,))
        current = row.fetchone()
        if current is None:
            raise StorageError(f"document {document_id} is not in the catalog")
        if (
            current["signed_sha256"]
            and not db.execute(
                "SELECT 1 FROM versions WHERE document_id = ?", (document_id,)
            ).fetchone()
        ):
            db.execute(
                "INSERT INTO versions (document_id, version, kind, unsigned_sha256,"
                " signed_sha256, sign_level, signer, signed_at, created_at)"
                " VALUES (?,1,'signed',?,?,?,?,?,?)",
                (
                    document_id,
                    current["unsigned_sha256"],
                    current["signed_sha256"],
                    current["sign_level"],
                    current["signer"],
                    current["signed_at"],
                    current["created_at"],
                ),
            )
        db.execute(
            "UPDATE versions SET superseded_at = ? WHERE document_id = ?"
            " AND superseded_at IS NULL",
            (now_iso(), document_id),
        )
        last = db.execute(
            "SELECT COALESCE(MAX(version), 0) FROM versions WHERE document_id = ?",
            (document_id,),
        ).fetchone()[0]
        return int(last) + 1

    def _update_signed(self, db: sqlite3.Connection, r: DocumentRecord) -> None:
        db.execute(
            "UPDATE documents SET unsigned_sha256 = ?, signed_sha256 = ?,"
            " sign_level = ?, signer = ?, signed_at = ?, validated = ? WHERE id = ?",
            (
                r.unsigned_sha256,
                r.signed_sha256,
                r.sign_level,
                r.signer,
                r.signed_at,
                int(r.validated),
                r.id,
            ),
        )

    def _insert_version(
        self, db: sqlite3.Connection, r: DocumentRecord, *, kind: str, version: int
    ) -> None:
        db.execute(
            "INSERT INTO versions (document_id, version, kind, unsigned_sha256,"
            " signed_sha256, sign_level, signer, signed_at, created_at)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            (
                r.id,
                version,
                kind,
                r.unsigned_sha256,
                r.signed_sha256,
                r.sign_level,
                r.signer,
                r.signed_at,
                now_iso(),
            ),
        )

    def _insert_document(self, db: sqlite3.Connection, r: DocumentRecord) -> None:
        db.execute(
            "INSERT INTO documents (id, sha256, original_name, unit, dossier, format,"
            " size_bytes, pages, unsigned_sha256, signed_sha256, sign_level, signer,"
            " signed_at, validated, seconds, created_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                r.id,
                r.sha256,
                nfc_keep(r.original_name),
                r.unit,
                r.dossier,
                r.format,
                r.size_bytes,
                len(r.pages),
                r.unsigned_sha256,
                r.signed_sha256,
                r.sign_level,
                r.signer,
                r.signed_at,
                int(r.validated),
                r.seconds,
                now_iso(),
            ),
        )

    def _insert_pages(self, db: sqlite3.Connection, r: DocumentRecord) -> None:
        for page in r.pages:
            text = nfc_keep(page.text)
            db.execute(
                "INSERT INTO pages VALUES (?,?,?,?,?,?,?,?)",
                (
                    r.id,
                    page.index,
                    page.width_px,
                    page.height_px,
                    page.dpi,
                    page.rotation_deg,
                    page.mean_conf,
                    text,
                ),
            )
            db.execute(
                "INSERT INTO pages_fts (text, folded, document_id, idx) VALUES (?,?,?,?)",
                (text, fold_text(text), r.id, page.index),
            )

    def _insert_fields(self, db: sqlite3.Connection, r: DocumentRecord) -> None:
        for paper in r.papers:
            for f in paper.fields.values():
                db.execute(
                    "INSERT INTO fields VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        r.id,
                        paper.page_index,
                        paper.paper_type,
                        f.name,
                        f.value,
                        f.raw,
                        f.source,
                        f.confidence,
                        json.dumps(f.checks_passed),
                        json.dumps(f.checks_failed),
                        int(f.verified),
                    ),
                )

    def _link_persons(self, db: sqlite3.Connection, r: DocumentRecord) -> list[int]:
        # People: by ID number, candidates for review (digitize.linking).
        return link_persons(db, r.id, r.papers)

    def decide_candidate(self, candidate_id: int, *, accept: bool) -> bool:
        """Confirm or reject a paper proposed for a person; False if not open."""
        with self.transaction() as db:
            return decide_candidate(db, candidate_id, accept=accept)


class ThreadCatalogs:
    """One catalog connection per calling thread (SQLite connections are not shared)."""

    def __init__(self, path: Path) -> None:
        """Connections to the catalog at `path` are opened on first use per thread."""
        self.path = path
        self._local = threading.local()
        self._opened: list[Catalog] = []
        self._lock = threading.Lock()

    def get(self) -> Catalog:
        """This thread's connection."""
        catalog = getattr(self._local, "catalog", None)
        if catalog is None:
            catalog = Catalog(self.path)
            self._local.catalog = catalog
            with self._lock:
                self._opened.append(catalog)
        return catalog

    def close(self) -> None:
        """Close every connection opened so far."""
        with self._lock:
            for catalog in self._opened:
                catalog.close()
            self._opened.clear()
