"""Query stage: find people and documents in the catalog.

Lookup by 12-digit ID number, by name (accent-insensitive, exact diacritics first) with an
optional date of birth, and full text over the OCR text with snippets.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from typing import Any

from digitize.errors import NotFoundError, QueryError
from digitize.extract.dates import make_iso
from digitize.extract.names import fold, nfc
from digitize.linking import open_candidates
from digitize.store import Catalog, fold_text, nfc_keep

__all__ = [
    "SearchFilters",
    "dossier_documents",
    "find_by_id",
    "find_by_name",
    "find_people",
    "get_document",
    "get_person",
    "person_papers",
    "search_pages",
    "search_text",
    "show_document",
]

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
    person["candidates"] = open_candidates(catalog.db, row["id"])
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
        "SELECT * FROM persons WHERE id_number = ? OR id IN (SELECT person_id"
        " FROM person_old_ids WHERE old_id_number = ?)",
        (number, number),
    ).fetchone()
    if row is None:
        raise NotFoundError("no person with that ID number is on file")
    return _person_view(catalog, row)


def _check_dob(dob: str | None) -> None:
    """Refuse a date of birth that is malformed or not on the calendar (1990-02-30)."""
    if not dob:
        return
    parts = [int(p) for p in dob.split("-")] if _DOB_RE.match(dob) else []
    if not parts or make_iso(*parts) is None:
        raise QueryError(
            "date of birth must be a real date, YYYY-MM-DD (or YYYY-MM, YYYY)",
            code="query.bad_date",
        )


def _name_key(name: str, dob: str | None) -> str:
    """The folded key of `name`, after checking it and `dob`."""
    key = fold(name)
    if not key:
        raise QueryError("give a name to look up", code="query.empty")
    _check_dob(dob)
    return key


def find_by_name(
    catalog: Catalog, name: str, dob: str | None = None
) -> list[dict[str, Any]]:
    """People whose folded name matches; exact diacritics first, then the rest.

    Raises:
        QueryError: empty name or a date of birth not in YYYY[-MM[-DD]] form.
    """
    key = _name_key(name, dob)
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
        raise QueryError(
            "a document id is 4 to 64 lower-case hexadecimal digits",
            code="query.bad_document",
        )
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


# Counter service: person summaries, papers with their validity, dossiers, and full
# text with filters and highlighted snippets.

_DOCUMENT_ID_RE = re.compile(r"^[0-9a-f]{16}$")
_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PEOPLE_SCAN = 500
_PAPER_SQL = (
    "SELECT d.id, d.original_name, d.unit, d.dossier, d.format, d.pages,"
    " d.signed_sha256 IS NOT NULL AS signed, d.sign_level, d.validated, d.signed_at,"
    " d.created_at, group_concat(DISTINCT l.paper_type) AS paper_types,"
    " (SELECT max(value) FROM fields x WHERE x.document_id = d.id"
    "  AND x.name = 'expiry_date') AS expiry_date,"
    " (SELECT max(value) FROM fields x WHERE x.document_id = d.id"
    "  AND x.name = 'issue_date') AS issue_date"
    " FROM links l JOIN documents d ON d.id = l.document_id"
)


def find_people(
    catalog: Catalog, name: str, dob: str | None = None, *, limit: int = 50
) -> list[dict[str, Any]]:
    """Short rows (no documents) of people whose folded name matches; exact first.

    Raises:
        QueryError: empty name or a date of birth not in YYYY[-MM[-DD]] form.
    """
    key = _name_key(name, dob)
    sql = (
        "SELECT p.id, p.id_number, p.full_name, p.date_of_birth, p.sex,"
        " (SELECT count(*) FROM links l WHERE l.person_id = p.id) AS documents"
        " FROM persons p WHERE p.name_key = ?"
    )
    params: list[Any] = [key]
    if dob:
        # '~' sorts after digits and '-': a prefix range the index can use.
        sql += " AND p.date_of_birth >= ? AND p.date_of_birth < ?"
        params += [dob, dob + "~"]
    rows = catalog.db.execute(sql + " LIMIT ?", [*params, _PEOPLE_SCAN]).fetchall()
    exact = nfc(name).casefold()
    rows.sort(key=lambda r: (nfc(r["full_name"] or "").casefold() != exact, r["id"]))
    return [dict(row) for row in rows[:limit]]


def get_person(catalog: Catalog, person_id: int) -> dict[str, Any]:
    """One person by catalog id, with their documents and fields.

    Raises:
        NotFoundError: no such person.
    """
    row = catalog.db.execute(
        "SELECT * FROM persons WHERE id = ?", (person_id,)
    ).fetchone()
    if row is None:
        raise NotFoundError("no such person is on file")
    return _person_view(catalog, row)


def person_papers(
    catalog: Catalog, person_id: int, *, today: str
) -> list[dict[str, Any]]:
    """A person's documents, newest first, with paper types and whether still valid.

    `still_valid` is False past a card's expiry date (`today`, YYYY-MM-DD, is the
    reference), True before it, None when the paper shows no expiry date.
    """
    rows = catalog.db.execute(
        _PAPER_SQL + " WHERE l.person_id = ? GROUP BY d.id ORDER BY d.created_at DESC",
        (person_id,),
    ).fetchall()
    return [_paper_dict(row, today) for row in rows]


def _paper_dict(row: sqlite3.Row, today: str) -> dict[str, Any]:
    paper = dict(row)
    paper["paper_types"] = sorted(set((paper["paper_types"] or "").split(","))) or []
    paper["paper_types"] = [t for t in paper["paper_types"] if t]
    paper["signed"] = bool(paper["signed"])
    paper["validated"] = bool(paper["validated"])
    expiry = paper["expiry_date"]
    valid = expiry >= today if expiry and _DAY_RE.match(expiry) else None
    paper["still_valid"] = valid
    return paper


def get_document(catalog: Catalog, document_id: str) -> dict[str, Any]:
    """One document's catalog row and paper types, by its exact 16-digit id.

    Raises:
        QueryError: the id is not 16 lower-case hexadecimal digits.
        NotFoundError: no such document.
    """
    if not _DOCUMENT_ID_RE.match(document_id):
        raise QueryError(
            "a document id is 16 hexadecimal digits", code="query.bad_document"
        )
    row = catalog.db.execute(
        "SELECT * FROM documents WHERE id = ?", (document_id,)
    ).fetchone()
    if row is None:
        raise NotFoundError(f"no document {document_id}")
    doc = dict(row)
    types = catalog.db.execute(
        "SELECT DISTINCT paper_type FROM fields WHERE document_id = ?", (document_id,)
    ).fetchall()
    doc["paper_types"] = sorted(t[0] for t in types)
    return doc


def dossier_documents(
    catalog: Catalog, unit: str, dossier: str
) -> list[dict[str, Any]]:
    """Documents filed under one unit and dossier code, oldest first, with people."""
    rows = catalog.db.execute(
        "SELECT d.id, d.original_name, d.format, d.pages, d.sign_level, d.validated,"
        " d.signed_sha256 IS NOT NULL AS signed, d.created_at,"
        " (SELECT group_concat(DISTINCT paper_type) FROM fields x"
        "  WHERE x.document_id = d.id) AS paper_types"
        " FROM documents d WHERE d.unit = ? AND d.dossier = ? ORDER BY d.created_at",
        (unit, dossier),
    ).fetchall()
    docs = []
    for row in rows:
        doc = dict(row)
        doc["paper_types"] = [t for t in (doc["paper_types"] or "").split(",") if t]
        doc["signed"], doc["validated"] = bool(doc["signed"]), bool(doc["validated"])
        doc["persons"] = [
            dict(p)
            for p in catalog.db.execute(
                "SELECT DISTINCT p.id, p.id_number, p.full_name FROM links l"
                " JOIN persons p ON p.id = l.person_id WHERE l.document_id = ?",
                (doc["id"],),
            )
        ]
        docs.append(doc)
    return docs


@dataclass(frozen=True)
class SearchFilters:
    """Optional limits on a full-text search; empty values do not filter."""

    unit: str = ""
    dossier: str = ""
    paper_type: str = ""
    date_from: str = ""
    """First day digitized, YYYY-MM-DD, inclusive."""
    date_to: str = ""
    """Last day digitized, YYYY-MM-DD, inclusive."""
    units: tuple[str, ...] = ()
    """Only these units (a user restricted to some units); empty means all."""


def _filter_sql(filters: SearchFilters) -> tuple[str, list[Any]]:
    for name in ("date_from", "date_to"):
        value = getattr(filters, name)
        if value and not _DAY_RE.match(value):
            raise QueryError(f"{name} must be YYYY-MM-DD", code="query.bad_date")
    clauses, params = [], []
    for column in ("unit", "dossier"):
        if getattr(filters, column):
            clauses.append(f"d.{column} = ?")
            params.append(getattr(filters, column))
    if filters.paper_type:
        clauses.append(
            "EXISTS (SELECT 1 FROM fields x WHERE x.document_id = d.id"
            " AND x.paper_type = ?)"
        )
        params.append(filters.paper_type)
    if filters.date_from:
        clauses.append("d.created_at >= ?")
        params.append(filters.date_from)
    if filters.date_to:
        clauses.append("d.created_at < ?")
        params.append(filters.date_to + "~")
    if filters.units:
        clauses.append(f"d.unit IN ({','.join('?' * len(filters.units))})")
        params += list(filters.units)
    return "".join(" AND " + c for c in clauses), params


def search_pages(
    catalog: Catalog, query: str, filters: SearchFilters | None = None, limit: int = 20
) -> list[dict[str, Any]]:
    """Pages holding the phrase, exact diacritics first, then newest first.

    Each hit has `parts`: the snippet as [text, is_match] pieces for highlighting.

    Raises:
        QueryError: no words in the query, or a malformed date filter.
    """
    where, params = _filter_sql(filters or SearchFilters())
    exact_phrase = _fts_phrase(nfc_keep(query).casefold())
    folded_phrase = _fts_phrase(fold_text(query))
    # LIMITATION: no relevance score (bm25) -> exact diacritics first, then newest
    # first; FTS5 then stops after `limit` rows instead of scoring every page.
    sql = (
        "SELECT f.rowid AS rid, f.document_id, f.idx, f.text, d.original_name,"
        " d.unit, d.dossier, d.created_at FROM pages_fts f CROSS JOIN documents d"
        " ON d.id = f.document_id WHERE pages_fts MATCH ?"
        + where
        + " ORDER BY f.rowid DESC LIMIT ?"
    )
    # A query typed without marks has no "exact" pass: its tokens exist only in the
    # folded column, and a column-filtered phrase would then scan every page.
    passes: list[tuple[str, bool | None]] = [(f"folded : {folded_phrase}", None)]
    if fold_text(query) != nfc_keep(query).casefold():
        passes.insert(0, (f"text : {exact_phrase}", True))
    hits: dict[int, dict[str, Any]] = {}
    for phrase, exact in passes:
        for row in catalog.db.execute(sql, [phrase, *params, limit]):
            if row["rid"] not in hits and len(hits) < limit:
                found = exact if exact is not None else _has_words(row["text"], query)
                hits[row["rid"]] = _hit(row, query, found)
    return sorted(hits.values(), key=lambda hit: not hit["exact"])


def _has_words(text: str, query: str) -> bool:
    """True when `text` holds the query's words with the marks as typed."""
    words = " ".join(re.findall(r"\w+", nfc_keep(query).casefold()))
    return words in " ".join(re.findall(r"\w+", nfc_keep(text).casefold()))


def _hit(row: sqlite3.Row, query: str, exact: bool) -> dict[str, Any]:
    parts = _snippet_parts(row["text"], query)
    return {
        "document_id": row["document_id"],
        "page": row["idx"] + 1,
        "original_name": row["original_name"],
        "unit": row["unit"],
        "dossier": row["dossier"],
        "created_at": row["created_at"],
        "exact": exact,
        "parts": parts,
        "snippet": "".join(f"[{t}]" if m else t for t, m in parts),
    }


def _snippet_parts(text: str, query: str) -> list[tuple[str, bool]]:
    """The text around the first match, split into (piece, is_match) pairs."""
    norm = nfc_keep(text).replace("\n", " ")
    folded = fold_text(norm)
    needle = " ".join(re.findall(r"\w+", fold_text(query)))
    first = folded.find(needle) if needle else -1
    if first < 0:
        return [(norm[: 2 * _SNIPPET_CHARS], False)]
    start = max(0, first - _SNIPPET_CHARS)
    end = min(len(norm), first + len(needle) + _SNIPPET_CHARS)
    parts: list[tuple[str, bool]] = [("…", False)] if start else []
    pos = start
    while (hit := folded.find(needle, pos, end)) >= 0:
        parts += [(norm[pos:hit], False), (norm[hit : hit + len(needle)], True)]
        pos = hit + len(needle)
    parts.append((norm[pos:end] + ("…" if end < len(norm) else ""), False))
    return [(t, m) for t, m in parts if t]
