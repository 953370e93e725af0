"""Batch machinery shared by reprocess, reindex, check, export and import.

A `Selection` picks documents from the catalog (unit, dossier, dates, paper type,
status, ids); `run_batch` takes the items of one command through a work function,
in worker processes when asked, with one progress bar, and records each finished item
in the catalog's `batch_runs`/`batch_items` tables, so a second run of the same
command on the same selection skips what is done; it ends with one `Summary`.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from multiprocessing import get_context
from typing import Any

from digitize.config import Settings
from digitize.errors import DigitizeError, NotFoundError, QueryError
from digitize.progress import progress_bar
from digitize.store import Catalog, now_iso

__all__ = [
    "STATUSES",
    "BatchRun",
    "Outcome",
    "Selection",
    "Summary",
    "run_batch",
    "select_documents",
    "worker_settings",
]

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batch_runs (
    id INTEGER PRIMARY KEY,
    command TEXT NOT NULL,
    key TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT '{}',
    started_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX IF NOT EXISTS batch_runs_key ON batch_runs(command, key);
CREATE TABLE IF NOT EXISTS batch_items (
    run_id INTEGER NOT NULL REFERENCES batch_runs(id),
    item TEXT NOT NULL,
    status TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}',
    finished_at TEXT NOT NULL,
    PRIMARY KEY (run_id, item)
);
"""
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ID = re.compile(r"^[0-9a-f]{4,64}$")
# --status values and the SQL condition on documents `d` that each one means.
STATUSES = {
    "signed": "d.signed_sha256 IS NOT NULL",
    "unsigned": "d.signed_sha256 IS NULL",
    "with-fields": "EXISTS (SELECT 1 FROM fields f WHERE f.document_id = d.id)",
    "no-fields": "NOT EXISTS (SELECT 1 FROM fields f WHERE f.document_id = d.id)",
    "B-B": "d.sign_level = 'B-B'",
    "B-T": "d.sign_level = 'B-T'",
    "B-LT": "d.sign_level = 'B-LT'",
    "B-LTA": "d.sign_level = 'B-LTA'",
}


@dataclass(frozen=True)
class Selection:
    """Which documents a batch command works on; empty fields select everything."""

    units: tuple[str, ...] = ()
    dossiers: tuple[str, ...] = ()
    """Dossier codes (hồ sơ), as filed in INBOX/<unit>/<code>/."""
    since: str = ""
    """Stored on or after this day (YYYY-MM-DD, UTC)."""
    until: str = ""
    """Stored on or before this day (YYYY-MM-DD, UTC)."""
    types: tuple[str, ...] = ()
    """Paper types found on the document or given by its dossier's manifest."""
    statuses: tuple[str, ...] = ()
    """Keys of `STATUSES`; a document must match every one."""
    documents: tuple[str, ...] = ()
    """Document ids or id prefixes (4+ hex digits)."""

    def __post_init__(self) -> None:
        """Refuse malformed values with a message naming the option."""
        for name in ("since", "until"):
            value = getattr(self, name)
            if value and not (_DAY.match(value) and _is_day(value)):
                raise QueryError(
                    f"--{name} {value!r} is not a day; write YYYY-MM-DD",
                    code="query.bad_date",
                )
        for status in self.statuses:
            if status not in STATUSES:
                raise QueryError(
                    f"--status {status!r} is unknown; use one of "
                    + ", ".join(STATUSES),
                    code="query.invalid",
                )
        for doc in self.documents:
            if not _ID.match(doc.lower()):
                raise QueryError(
                    f"--document {doc[:20]!r} is not a document id (hexadecimal)",
                    code="query.bad_document",
                )
        if self.since and self.until and self.since > self.until:
            raise QueryError(
                f"--since {self.since} is after --until {self.until}; nothing between",
                code="query.bad_date",
            )

    def key(self) -> str:
        """A stable text for this selection (resuming finds runs by it)."""
        return json.dumps(asdict(self), sort_keys=True)

    @property
    def is_everything(self) -> bool:
        """True when nothing narrows the selection."""
        return self == Selection()


def _is_day(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _where(sel: Selection) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []

    def any_of(template: str, values: Iterable[Any]) -> None:
        values = list(values)
        if values:
            clauses.append("(" + " OR ".join(template for _ in values) + ")")
            params.extend(p for v in values for p in ([v] * template.count("?")))

    any_of("d.unit = ?", sel.units)
    any_of(
        "(d.dossier = ? OR EXISTS (SELECT 1 FROM dossier_papers p"
        " WHERE p.document_id = d.id AND p.dossier = ?))",
        sel.dossiers,
    )
    any_of(
        "(EXISTS (SELECT 1 FROM fields f WHERE f.document_id = d.id"
        " AND f.paper_type = ?) OR EXISTS (SELECT 1 FROM dossier_papers p"
        " WHERE p.document_id = d.id AND p.paper_type = ?))",
        sel.types,
    )
    any_of("d.id LIKE ?", [doc.lower()[:16] + "%" for doc in sel.documents])
    if sel.since:
        clauses.append("d.created_at >= ?")
        params.append(sel.since)
    if sel.until:
        clauses.append("d.created_at < ?")
        params.append(sel.until + "T99")  # every time of that day sorts below
    clauses += [STATUSES[s] for s in sel.statuses]
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def select_documents(catalog: Catalog, selection: Selection) -> list[str]:
    """Ids of the selected documents, oldest first.

    Raises:
        QueryError: a --type no document on file has (a typo selects nothing).
        NotFoundError: a --document id matches no document.
    """
    _check_names(catalog, selection)
    where, params = _where(selection)
    rows = catalog.db.execute(
        f"SELECT d.id FROM documents d{where} ORDER BY d.created_at, d.rowid", params
    )
    return [row[0] for row in rows]


def _check_names(catalog: Catalog, selection: Selection) -> None:
    if selection.types:
        known = {
            row[0]
            for row in catalog.db.execute(
                "SELECT DISTINCT paper_type FROM fields UNION "
                "SELECT DISTINCT paper_type FROM dossier_papers"
            )
            if row[0]
        }
        unknown = [t for t in selection.types if t not in known]
        if unknown:
            raise QueryError(
                f"--type {unknown[0]!r} is on no document; types on file: "
                + (", ".join(sorted(known)) or "none"),
                code="query.invalid",
            )
    for doc in selection.documents:
        prefix = doc.lower()[:16] + "%"
        if not catalog.db.execute(
            "SELECT 1 FROM documents WHERE id LIKE ?", (prefix,)
        ).fetchone():
            raise NotFoundError(f"no document {doc[:20]!r} in the catalog")


@dataclass
class Outcome:
    """What a work function did with one item."""

    item: str
    status: str  # done | failed | skipped
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Summary:
    """The end of a batch command: counts, time, and where failures are listed."""

    command: str
    run_id: int
    done: int = 0
    failed: int = 0
    skipped: int = 0
    resumed: int = 0
    """Items finished by an earlier, interrupted run of the same command."""
    seconds: float = 0.0
    dry_run: bool = False
    outcomes: list[Outcome] = field(default_factory=list)

    def line(self) -> str:
        """The one summary line every batch command ends with."""
        if self.dry_run:
            return f"{self.command}: dry run, {self.done} would be handled"
        text = (
            f"{self.command}: {self.done} done, {self.failed} failed, "
            f"{self.skipped} skipped"
        )
        if self.resumed:
            text += f" ({self.resumed} already done by the interrupted run)"
        text += f" in {self.seconds:.1f} s"
        if self.failed:
            text += f"; failures listed above and kept in batch run {self.run_id}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        data = asdict(self)
        data["line"] = self.line()
        return data


class BatchRun:
    """One command's run over a selection, resumable from the catalog."""

    def __init__(
        self, catalog: Catalog, command: str, key: str, *, restart: bool = False
    ) -> None:
        """Continue the unfinished run with this command and key, or start one."""
        self.catalog = catalog
        self.db: sqlite3.Connection = catalog.db
        self.db.executescript(_SCHEMA)
        row = self.db.execute(
            "SELECT id, state, started_at FROM batch_runs WHERE command = ? AND key = ?"
            " AND finished_at IS NULL ORDER BY id DESC LIMIT 1",
            (command, key),
        ).fetchone()
        if row is not None and not restart:
            self.id, self.state = int(row[0]), json.loads(row[1])
            self.started_at: str = row[2]
            return
        self.started_at = now_iso()
        with catalog.transaction() as db:
            cur = db.execute(
                "INSERT INTO batch_runs (command, key, started_at) VALUES (?,?,?)",
                (command, key, self.started_at),
            )
        self.id, self.state = int(cur.lastrowid or 0), {}

    def finished_items(self) -> dict[str, Outcome]:
        """Items an earlier attempt of this run already finished (not failed)."""
        rows = self.db.execute(
            "SELECT item, status, detail FROM batch_items WHERE run_id = ?"
            " AND status != 'failed'",
            (self.id,),
        )
        return {r[0]: Outcome(r[0], r[1], json.loads(r[2])) for r in rows}

    def record(self, outcome: Outcome) -> None:
        """Keep one finished item (its own transaction: an interruption loses none)."""
        with self.catalog.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO batch_items VALUES (?,?,?,?,?)",
                (
                    self.id,
                    outcome.item,
                    outcome.status,
                    json.dumps(outcome.detail, ensure_ascii=False, default=str),
                    now_iso(),
                ),
            )

    def save_state(self, **values: Any) -> None:
        """Keep values a resumed run needs (e.g. where a rebuild started)."""
        self.state.update(values)
        with self.catalog.transaction() as db:
            db.execute(
                "UPDATE batch_runs SET state = ? WHERE id = ?",
                (json.dumps(self.state), self.id),
            )

    def finish(self) -> None:
        """Mark the run complete: the next run of the command starts afresh."""
        with self.catalog.transaction() as db:
            db.execute(
                "UPDATE batch_runs SET finished_at = ? WHERE id = ?",
                (now_iso(), self.id),
            )


def worker_settings(settings: Settings, processes: int) -> Settings:
    """Settings for one of `processes` workers: the cores shared out, not multiplied."""
    cores = os.cpu_count() or 1
    return replace(settings, ocr_workers=max(1, math.ceil(cores / max(1, processes))))


Work = Callable[[str, Settings], Outcome]


def run_batch(
    run: BatchRun,
    items: list[str],
    work: Work,
    settings: Settings,
    *,
    processes: int = 1,
    unit: str = "document",
    label: str = "",
    show_progress: bool = True,
) -> Summary:
    """Take every item not yet finished by `run` through `work`; record each outcome.

    `work(item, settings)` runs in this process (processes=1) or in `processes` spawned
    workers; it returns an `Outcome` and raises only for bugs. An interruption
    (Ctrl-C) leaves the run unfinished: the next call with the same run resumes.
    """
    started = time.perf_counter()
    summary = Summary(run_id=run.id, command=label or unit)
    earlier = run.finished_items()
    todo = [item for item in items if item not in earlier]
    summary.resumed = len(items) - len(todo)
    with progress_bar(len(todo), unit, label, enabled=show_progress) as advance:
        for outcome in _outcomes(todo, work, settings, processes):
            run.record(outcome)
            _count(summary, outcome)
            advance(1)
    for item in items:
        if item in earlier:
            _count(summary, earlier[item], resumed=True)
    run.finish()
    summary.seconds = time.perf_counter() - started
    log.debug("%s", summary.line())  # the command prints it on stdout
    return summary


def _count(summary: Summary, outcome: Outcome, *, resumed: bool = False) -> None:
    summary.outcomes.append(outcome)
    if outcome.status == "failed":
        summary.failed += 1
    elif outcome.status == "skipped" and not resumed:
        summary.skipped += 1
    else:
        summary.done += 1


def _outcomes(
    items: list[str], work: Work, settings: Settings, processes: int
) -> Iterable[Outcome]:
    if processes <= 1 or len(items) <= 1:
        for item in items:
            yield _guarded(work, item, settings)
        return
    # spawn: a clean interpreter per worker, whatever threads this process runs.
    context = get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=processes, mp_context=context)
    pending: dict[Future[Outcome], str] = {}
    queue = iter(items)
    try:
        for item in queue:
            pending[pool.submit(_guarded, work, item, settings)] = item
            if len(pending) >= 2 * processes:
                break
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                pending.pop(future)
                yield future.result()
                nxt = next(queue, None)
                if nxt is not None:
                    pending[pool.submit(_guarded, work, nxt, settings)] = nxt
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _guarded(work: Work, item: str, settings: Settings) -> Outcome:
    """One item; an expected error becomes a `failed` outcome with its code."""
    try:
        return work(item, settings)
    except DigitizeError as err:
        return Outcome(item, "failed", {"code": err.code, "message": err.message})
    except OSError as err:
        return Outcome(item, "failed", {"code": "store.failed", "message": str(err)})
