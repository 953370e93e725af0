"""Query stage: find people and documents in the catalog.

Lookup by 12-digit ID number, by name (accent-insensitive, exact diacritics first) with an
optional date of birth, and full text over the OCR text with snippets.
"""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

from digitize.errors import NotFoundError, QueryError
from digitize.extract.names import fold, nfc
from digitize.store import Catalog, fold_text, nfc_keep

__all__ = ["find_by_id", "find_by_name", "search_text", "show_document"]

_ID_RE = re.compile(r"^\d{12}$|^\d{9}$")
_DOB_RE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_SNIPPET_CHARS = 80


def _documents_of(catalog: Catalog, person_id: int) -> list[dict[str, Any]]:
    rows = catalog.db.execute(
        "SELECT d.id, d.original_name, d.unit, d.dossier, d.pages, d.sign_level,"
        " d.validated, d.created_at, group_concat(l.paper_type) AS paper_types"
        " FROM links l JOIN documents d ON d.id = l.document_id"
        " WHERE l.person_id = ? GROUP BY d.id ORDER BY d.created_at",
        (person_id,),
    ).fetchall()
    return [dict(row) for row in rows]


def _fields_of(catalog: Catalog, document_ids: list[str]) -> list[dict[str, Any]]:
    if not document_ids:
        return []
    marks = ",".join("?" * len(document_ids))
    rows = catalog.db.execute(
        f"SELECT * FROM fields WHERE document_id IN ({marks})"
        " ORDER BY name, verified DESC, confidence DESC",
        document_ids,
    ).fetchall()
    return [_field_dict(row) for row in rows]


def _field_dict(row: sqlite3.Row) -> dict[str, Any]:
    item = dict(row)
    item["checks_passed"] = json.loads(item["checks_passed"])
    item["checks_failed"] = json.loads(item["checks_failed"])
    item["verified"] = bool(item["verified"])
    return item


def _person_view(catalog: Catalog, row: sqlite3.Row) -> dict[str, Any]:
    person = dict(row)
    person["documents"] = _documents_of(catalog, row["id"])
    person["fields"] = _fields_of(catalog, [d["id"] for d in person["documents"]])
    return person


def find_by_id(catalog: Catalog, id_number: str) -> dict[str, Any]:
    """The person with this ID number, their documents and fields.

    Raises:
        QueryError: not 12 (or 9) digits.
        NotFoundError: nobody with that number is on file.
    """
    number = id_number.strip().replace(" ", "")
    if not _ID_RE.match(number):
        raise QueryError(
            "an ID number has 12 digits (or 9 for an old CMND)", code="query.bad_id"
        )
    row = catalog.db.execute(
        "SELECT * FROM persons WHERE id_number = ?", (number,)
    ).fetchone()
    if row is None:
        raise NotFoundError("no person with that ID number is on file")
    return _person_view(catalog, row)


def find_by_name(
    catalog: Catalog, name: str, dob: str | None = None
) -> list[dict[str, Any]]:
    """People whose folded name matches; exact diacritics first, then the rest.

    Raises:
        QueryError: empty name or a date of birth not in YYYY[-MM[-DD]] form.
    """
    key = fold(name)
    if not key:
        raise QueryError("give a name to look up", code="query.empty")
    if dob and not _DOB_RE.match(dob):
        raise QueryError("date of birth must be YYYY-MM-DD", code="query.bad_date")
    sql, params = "SELECT * FROM persons WHERE name_key = ?", [key]
    if dob:
        sql += " AND date_of_birth LIKE ?"
        params.append(dob + "%")
    rows = catalog.db.execute(sql, params).fetchall()
    exact = nfc(name).casefold()
    rows.sort(key=lambda r: (nfc(r["full_name"] or "").casefold() != exact, r["id"]))
    return [_person_view(catalog, row) for row in rows]


def _fts_phrase(text: str) -> str:
    tokens = re.findall(r"\w+", text)
    if not tokens:
        raise QueryError("the search text has no words", code="query.empty")
    return '"' + " ".join(tokens) + '"'


def _snippet(text: str, query: str) -> str:
    folded, needle = fold_text(text), fold_text(query)
    norm = nfc_keep(text)
    hit = folded.find(needle)
    if hit < 0:
        return norm[: 2 * _SNIPPET_CHARS].replace("\n", " ")
    start = max(0, hit - _SNIPPET_CHARS)
    end = min(len(norm), hit + len(needle) + _SNIPPET_CHARS)
    piece = norm[start:hit] + "[" + norm[hit : hit + len(needle)] + "]"
    piece += norm[hit + len(needle) : end]
    return (
        ("…" if start else "")
        + piece.replace("\n", " ")
        + ("…" if end < len(norm) else "")
    )


def search_text(catalog: Catalog, query: str, limit: int = 20) -> list[dict[str, Any]]:
    """Pages whose text contains the phrase, with or without diacritics.

    Pages holding the phrase with exactly the diacritics typed rank first.
    """
    phrase = _fts_phrase(fold_text(query))
    rows = catalog.db.execute(
        "SELECT f.document_id, f.idx, f.text, d.original_name, d.unit, d.dossier,"
        " bm25(pages_fts) AS score FROM pages_fts f"
        " JOIN documents d ON d.id = f.document_id"
        " WHERE pages_fts MATCH ? ORDER BY score LIMIT ?",
        (f"folded : {phrase}", limit * 5),
    ).fetchall()
    exact = " ".join(re.findall(r"\w+", nfc_keep(query).casefold()))
    results = []
    for row in rows:
        words = " ".join(re.findall(r"\w+", row["text"].casefold()))
        results.append(
            {
                "document_id": row["document_id"],
                "page": row["idx"] + 1,
                "original_name": row["original_name"],
                "unit": row["unit"],
                "dossier": row["dossier"],
                "exact": exact in words,
                "snippet": _snippet(row["text"], query),
            }
        )
    results.sort(key=lambda r: not r["exact"])
    return results[:limit]


def show_document(catalog: Catalog, document_id: str) -> dict[str, Any]:
    """One document with its pages' text, fields, linked people and events.

    Raises:
        NotFoundError: no document with that id (or id prefix).
    """
    if not re.fullmatch(r"[0-9a-f]{4,64}", document_id):
        raise QueryError("a document id is hexadecimal", code="query.bad_document")
    row = catalog.db.execute(
        "SELECT * FROM documents WHERE id LIKE ? OR sha256 = ?",
        (document_id[:16] + "%", document_id),
    ).fetchone()
    if row is None:
        raise NotFoundError(f"no document {document_id}")
    doc = dict(row)
    doc["pages_text"] = [
        dict(p)
        for p in catalog.db.execute(
            "SELECT idx, rotation, mean_conf, text FROM pages WHERE document_id = ?"
            " ORDER BY idx",
            (doc["id"],),
        )
    ]
    doc["fields"] = _fields_of(catalog, [doc["id"]])
    doc["persons"] = [
        dict(p)
        for p in catalog.db.execute(
            "SELECT p.id, p.id_number, p.full_name, p.date_of_birth FROM links l"
            " JOIN persons p ON p.id = l.person_id WHERE l.document_id = ?",
            (doc["id"],),
        )
    ]
    doc["events"] = [
        dict(e)
        for e in catalog.db.execute(
            "SELECT ts, kind, detail FROM events WHERE document_id = ? ORDER BY id",
            (doc["id"],),
        )
    ]
    return doc
