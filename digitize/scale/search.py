"""Full-text and fuzzy-name search for either catalog, with the same results.

SQLite runs query.py's FTS5 search. PostgreSQL matches the same folded phrase (folded
by store.fold_text in Python, so đ and stacked marks fold alike) against a tsvector of
the folded text; exact-diacritic hits rank first in both. Names damaged by
OCR are found by trigram similarity on the folded name (pg_trgm).
"""

from __future__ import annotations

import re
from typing import Any

from rapidfuzz import fuzz

from digitize.errors import QueryError
from digitize.extract.names import fold
from digitize.query import _snippet  # the embedded search's snippets, shared as is
from digitize.query import search_text as _sqlite_search_text
from digitize.store import Catalog, fold_text, nfc_keep

__all__ = ["find_similar_names", "search_text"]

_WORD = re.compile(r"\w+")
_SIMILARITY = 0.3  # pg_trgm's default threshold for the % operator


def _is_pg(catalog: Catalog) -> bool:
    return type(catalog).__name__ == "PgCatalog"


def _folded_phrase(query: str) -> str:
    words = _WORD.findall(fold_text(query))
    if not words:
        raise QueryError("the search text has no words", code="query.empty")
    return " <-> ".join("'" + w.replace("'", "''") + "'" for w in words)


def search_text(catalog: Catalog, query: str, limit: int = 20) -> list[dict[str, Any]]:
    """Pages whose text holds the phrase, with or without diacritics; exact first."""
    if not _is_pg(catalog):
        return _sqlite_search_text(catalog, query, limit)
    rows = catalog.db.execute(
        "SELECT f.document_id, f.idx, f.text, d.original_name, d.unit, d.dossier"
        " FROM pages_fts f JOIN documents d ON d.id = f.document_id,"
        " to_tsquery('simple', ?) q WHERE f.tsv @@ q"
        " ORDER BY ts_rank(f.tsv, q) DESC, f.document_id, f.idx LIMIT ?",
        (_folded_phrase(query), limit * 5),
    ).fetchall()
    exact = " ".join(_WORD.findall(nfc_keep(query).casefold()))
    results = [
        {
            "document_id": row["document_id"],
            "page": row["idx"] + 1,
            "original_name": row["original_name"],
            "unit": row["unit"],
            "dossier": row["dossier"],
            "exact": exact in " ".join(_WORD.findall(row["text"].casefold())),
            "snippet": _snippet(row["text"], query),
        }
        for row in rows
    ]
    # LIMITATION: within the exact and the other hits, PostgreSQL orders by ts_rank,
    # SQLite by bm25 -> the same hits and groups, the order inside a group may differ.
    results.sort(key=lambda r: not r["exact"])
    return results[:limit]


def find_similar_names(
    catalog: Catalog, name: str, limit: int = 10
) -> list[dict[str, Any]]:
    """People whose folded name is close to `name` (OCR slips), closest first.

    Raises:
        QueryError: the name has no letters.
    """
    key = fold(name)
    if not key:
        raise QueryError("give a name to look up", code="query.empty")
    if _is_pg(catalog):
        rows = catalog.db.execute(
            "SELECT id, id_number, full_name, date_of_birth,"
            " similarity(name_key, ?) AS score FROM persons"
            " WHERE name_key % ? ORDER BY score DESC, id LIMIT ?",
            (key, key, limit),
        ).fetchall()
        return [dict(row) for row in rows]
    # LIMITATION: the embedded catalog has no trigram index -> fuzzy names scan every
    # person with rapidfuzz (fine for a district, slow past a few 100,000 people).
    rows = catalog.db.execute(
        "SELECT id, id_number, full_name, date_of_birth, name_key FROM persons"
        " WHERE name_key IS NOT NULL"
    ).fetchall()
    scored = [(fuzz.ratio(key, row["name_key"]) / 100, row) for row in rows]
    found = [
        {
            **{k: row[k] for k in ("id", "id_number", "full_name", "date_of_birth")},
            "score": score,
        }
        for score, row in sorted(scored, key=lambda s: (-s[0], s[1]["id"]))
        if score >= 1 - _SIMILARITY
    ]
    return found[:limit]
