"""`digitize check`: blobs, catalog rows and signatures; each problem with its fix.

Per document (in worker processes when asked): every blob it references, current and
superseded; its page, index, field and version rows; the legal chain (the signed file
begins with the derivative's bytes) and the signature, offline. Once per run: rows
that point to no document.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import asdict, dataclass
from typing import Any

from digitize.batch import Outcome
from digitize.config import Settings
from digitize.errors import DigitizeError
from digitize.store import Catalog, blob_path, sha256_file

__all__ = ["Problem", "check_document", "check_orphans"]

log = logging.getLogger(__name__)

_REPROCESS = "digitize reprocess --document {id}"
_RESTORE = "restore {path} from a backup (the scan as received cannot be made again)"
_RESTORE_OLD = "restore {path} from a backup (an old version cannot be made again)"
_REMAKE = (
    "digitize reprocess --document {id} (a sound new version; the damaged file stays "
    "listed under the old one until {path} is restored from a backup)"
)
# Rows of these tables must belong to a document in `documents`.
_CHILD_TABLES = ("pages", "fields", "links", "versions", "dossier_papers")


@dataclass(frozen=True)
class Problem:
    """One thing wrong, where, and the command (or step) that fixes it."""

    document_id: str
    what: str
    fix: str


def check_document(document_id: str, settings: Settings) -> Outcome:
    """Worker: every check of one document; `failed` with the problems found."""
    catalog = Catalog(settings.catalog)
    try:
        doc = catalog.db.execute(
            "SELECT * FROM documents WHERE id = ?", (document_id,)
        ).fetchone()
        if doc is None:
            return Outcome(document_id, "skipped", {"reason": "no longer in catalog"})
        problems = _blobs(catalog, doc, settings)
        problems += _rows(catalog.db, doc)
        problems += _signature(doc, settings, problems)
    finally:
        catalog.close()
    if problems:
        return Outcome(
            document_id, "failed", {"problems": [asdict(p) for p in problems]}
        )
    return Outcome(document_id, "done")


def _blobs(catalog: Catalog, doc: sqlite3.Row, settings: Settings) -> list[Problem]:
    """The original, the current derivative and signed file, and older versions."""
    ident = doc["id"]
    wanted = [("scan as received", doc["sha256"], "." + doc["format"], _RESTORE)]
    if doc["unsigned_sha256"]:
        wanted.append(("derivative", doc["unsigned_sha256"], ".unsigned.pdf", _REMAKE))
    if doc["signed_sha256"]:
        wanted.append(("signed file", doc["signed_sha256"], ".signed.pdf", _REMAKE))
    for row in catalog.db.execute(
        "SELECT version, unsigned_sha256, signed_sha256 FROM versions"
        " WHERE document_id = ? AND superseded_at IS NOT NULL",
        (ident,),
    ):
        old = f"version {row[0]} (superseded)"
        if row[1]:
            wanted.append((f"{old} derivative", row[1], ".unsigned.pdf", _RESTORE_OLD))
        wanted.append((f"{old} signed file", row[2], ".signed.pdf", _RESTORE_OLD))
    problems, seen = [], set()
    for what, sha, suffix, fix in wanted:
        path = blob_path(settings.repository, sha, suffix)
        if path in seen:
            continue
        seen.add(path)
        remedy = (fix or _REPROCESS).format(id=ident, path=path)
        if not path.is_file():
            problems.append(Problem(ident, f"{what} is missing: {path}", remedy))
        elif sha256_file(path) != sha:
            problems.append(
                Problem(ident, f"{what} does not match its hash: {path}", remedy)
            )
    return problems


def _count(db: sqlite3.Connection, table: str, ident: str) -> int:
    row = db.execute(f"SELECT count(*) FROM {table} WHERE document_id = ?", (ident,))
    return int(row.fetchone()[0])


def _rows(db: sqlite3.Connection, doc: sqlite3.Row) -> list[Problem]:
    ident, problems = doc["id"], []
    pages = _count(db, "pages", ident)
    if pages != doc["pages"]:
        problems.append(
            Problem(
                ident,
                f"the catalog says {doc['pages']} pages but holds {pages} page rows",
                _REPROCESS.format(id=ident),
            )
        )
    indexed = _count(db, "pages_fts", ident)
    if indexed != pages:
        problems.append(
            Problem(
                ident,
                f"the search index holds {indexed} rows for {pages} pages",
                "digitize reindex",
            )
        )
    stray = db.execute(
        "SELECT count(*) FROM fields WHERE document_id = ? AND page_idx >= ?",
        (ident, pages),
    ).fetchone()[0]
    if stray:
        problems.append(
            Problem(ident, f"{stray} fields name a page the document does not have",
                    _REPROCESS.format(id=ident))
        )  # fmt: skip
    return problems + _versions(db, doc)


def _versions(db: sqlite3.Connection, doc: sqlite3.Row) -> list[Problem]:
    current = db.execute(
        "SELECT signed_sha256 FROM versions WHERE document_id = ?"
        " AND superseded_at IS NULL",
        (doc["id"],),
    ).fetchall()
    if not current or not doc["signed_sha256"]:
        return []  # documents stored before versions were kept have none
    if len(current) > 1 or current[0][0] != doc["signed_sha256"]:
        return [
            Problem(
                doc["id"],
                f"{len(current)} current versions, not the one the document names",
                _REPROCESS.format(id=doc["id"]),
            )
        ]
    return []


def _signature(
    doc: sqlite3.Row, settings: Settings, problems: list[Problem]
) -> list[Problem]:
    """The legal chain and the signature, when the signed file itself is sound."""
    if not doc["signed_sha256"] or any("signed file" in p.what for p in problems):
        return []
    from digitize.sign import verify_pdf

    ident = doc["id"]
    data = blob_path(settings.repository, doc["signed_sha256"], ".signed.pdf")
    signed = data.read_bytes()
    found = []
    if doc["unsigned_sha256"] and not any("derivative" in p.what for p in problems):
        unsigned = blob_path(
            settings.repository, doc["unsigned_sha256"], ".unsigned.pdf"
        )
        if not signed.startswith(unsigned.read_bytes()):
            found.append(
                Problem(ident, "the signed file does not begin with the derivative",
                        _REPROCESS.format(id=ident))
            )  # fmt: skip
    try:
        reports = verify_pdf(signed, settings)
    except DigitizeError as err:
        return [*found, Problem(ident, f"signature cannot be checked: {err.code}",
                                _REPROCESS.format(id=ident))]  # fmt: skip
    bad = [r for r in reports if not r.ok]
    if not reports or bad:
        what = bad[0].summary_en if bad else "the signed file holds no signature"
        fix = _REPROCESS.format(id=ident)
        if bad and bad[0].intact and not bad[0].trusted:
            fix = (
                "add the root of the signer's CA to sign.trust_roots (papers imported "
                f"from another system), or {fix}"
            )
        found.append(Problem(ident, f"signature not valid: {what}", fix))
    return found


def check_orphans(catalog: Catalog) -> list[Problem]:
    """Rows that belong to no document (once per run, not per document)."""
    problems = []
    for table in (*_CHILD_TABLES, "pages_fts"):
        count = catalog.db.execute(
            f"SELECT count(*) FROM {table} WHERE document_id NOT IN"
            " (SELECT id FROM documents)"
        ).fetchone()[0]
        if count:
            fix = (
                "digitize reindex"
                if table == "pages_fts"
                else f"delete them: DELETE FROM {table} WHERE document_id NOT IN"
                " (SELECT id FROM documents)"
            )
            problems.append(
                Problem("-", f"{count} rows of {table} belong to no document", fix)
            )
    return problems


def problems_of(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    """Every problem the outcomes carry, in document order."""
    return [p for o in outcomes for p in o.detail.get("problems", [])]
