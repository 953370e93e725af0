"""`digitize reindex`: rebuild the full-text index from the catalog's page text.

The whole index is built into a new table beside the live one, then swapped in by one
transaction (drop the old, rename the new); searches use the old index until that
moment and the new one after it. Pages stored while the build runs are caught up in the
swap transaction. With a selection, only those documents' rows are refreshed in place,
each document in one transaction.
"""

from __future__ import annotations

import logging
import re
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any

from digitize.batch import BatchRun, Outcome
from digitize.errors import StorageError
from digitize.store import Catalog, fold_text, nfc_keep

__all__ = ["fold_rows", "refresh_documents", "swap_index"]

log = logging.getLogger(__name__)

LIVE, NEW = "pages_fts", "pages_fts_rebuild"
_CHUNK = 50  # documents folded per task and written per transaction


def fold_rows(rows: list[tuple[str, int, str]]) -> list[tuple[str, str, str, int]]:
    """Index rows (text, folded, document id, page) for page rows (id, page, text)."""
    out = []
    for document_id, idx, text in rows:
        text = nfc_keep(text)
        out.append((text, fold_text(text), document_id, idx))
    return out


def _pages_of(catalog: Catalog, ids: list[str]) -> list[tuple[str, int, str]]:
    marks = ",".join("?" * len(ids))
    rows = catalog.db.execute(
        f"SELECT document_id, idx, text FROM pages WHERE document_id IN ({marks})"
        " ORDER BY document_id, idx",
        ids,
    )
    return [(r[0], r[1], r[2]) for r in rows]


def _create_new(catalog: Catalog) -> None:
    """The new table, declared exactly as the live one (whatever its columns)."""
    row = catalog.db.execute(
        "SELECT sql FROM sqlite_master WHERE name = ?", (LIVE,)
    ).fetchone()
    if row is None:
        raise StorageError("the catalog has no full-text index table to rebuild")
    sql = re.sub(rf"\b{LIVE}\b", NEW, row[0], count=1)
    sql = sql.replace("CREATE VIRTUAL TABLE", "CREATE VIRTUAL TABLE IF NOT EXISTS", 1)
    with catalog.transaction() as db:
        db.execute(sql)


def build_new(
    catalog: Catalog,
    run: BatchRun,
    ids: list[str],
    *,
    processes: int,
    advance: Any,
) -> int:
    """Fill the new table with every listed document not yet in it; return how many."""
    if "snapshot" not in run.state:
        # Pages stored after this row id are caught up at the swap.
        with catalog.transaction() as db:
            db.execute(f"DROP TABLE IF EXISTS {NEW}")
        snapshot = catalog.db.execute("SELECT COALESCE(MAX(rowid), 0) FROM pages")
        run.save_state(snapshot=int(snapshot.fetchone()[0]))
    _create_new(catalog)
    done = run.finished_items()
    todo = [i for i in ids if i not in done]
    chunks = [todo[i : i + _CHUNK] for i in range(0, len(todo), _CHUNK)]
    for chunk, rows in zip(chunks, _folded(catalog, chunks, processes), strict=True):
        with catalog.transaction() as db:
            db.executemany(
                f"INSERT INTO {NEW} (text, folded, document_id, idx) VALUES (?,?,?,?)",
                rows,
            )
        for document_id in chunk:
            run.record(Outcome(document_id, "done"))
        advance(len(chunk))
    return len(todo)


def _folded(catalog: Catalog, chunks: list[list[str]], processes: int) -> Any:
    """Folded rows per chunk, in order; folding (pure Python) runs in workers."""
    if processes <= 1:
        for chunk in chunks:
            yield fold_rows(_pages_of(catalog, chunk))
        return
    with ProcessPoolExecutor(processes, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(fold_rows, _pages_of(catalog, c)) for c in chunks]
        for future in futures:
            yield future.result()


def swap_index(catalog: Catalog, snapshot: int) -> int:
    """Catch up pages stored during the build, then swap; one transaction.

    Returns the number of documents caught up.
    """
    with catalog.transaction() as db:
        changed = [
            r[0]
            for r in db.execute(
                "SELECT DISTINCT document_id FROM pages WHERE rowid > ?", (snapshot,)
            )
        ]
        db.execute(
            f"DELETE FROM {NEW} WHERE document_id NOT IN"
            " (SELECT DISTINCT document_id FROM pages)"
        )
        for start in range(0, len(changed), _CHUNK):
            ids = changed[start : start + _CHUNK]
            marks = ",".join("?" * len(ids))
            db.execute(f"DELETE FROM {NEW} WHERE document_id IN ({marks})", ids)
            db.executemany(
                f"INSERT INTO {NEW} (text, folded, document_id, idx) VALUES (?,?,?,?)",
                fold_rows(_pages_of(catalog, ids)),
            )
        db.execute(f"DROP TABLE {LIVE}")
        db.execute(f"ALTER TABLE {NEW} RENAME TO {LIVE}")
    log.info("search index swapped in (%d documents caught up)", len(changed))
    return len(changed)


def refresh_documents(catalog: Catalog, ids: list[str]) -> None:
    """Replace the index rows of these documents in place (selection given)."""
    for document_id in ids:
        rows = fold_rows(_pages_of(catalog, [document_id]))
        with catalog.transaction() as db:
            db.execute(f"DELETE FROM {LIVE} WHERE document_id = ?", (document_id,))
            db.executemany(
                f"INSERT INTO {LIVE} (text, folded, document_id, idx) VALUES (?,?,?,?)",
                rows,
            )
