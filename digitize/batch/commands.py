"""Batch commands of the CLI: reprocess, reindex, check, export, import, report.

cli.py parses the arguments and maps errors to exit codes; each function here turns
the options into a `Selection`, runs the batch and prints its result and summary line
(text or JSON via the `show` callback).
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from digitize.batch import (
    STATUSES,
    BatchRun,
    Outcome,
    Selection,
    Summary,
    run_batch,
    select_documents,
    worker_settings,
)
from digitize.config import Settings
from digitize.errors import ConfigError, QueryError, StorageError
from digitize.progress import progress_bar
from digitize.store import Catalog

__all__ = ["BATCH_COMMANDS", "add_batch_parsers", "add_selection_options", "positive"]

Show = Callable[[Any, bool, str], None]
_FAILED_EXIT, _PROBLEMS_EXIT = 1, 8


def positive(text: str) -> int:
    """Argparse type: a whole number of 1 or more."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return value


def add_selection_options(p: argparse.ArgumentParser) -> None:
    """The selection, --dry-run, --processes and --restart every batch command takes."""
    p.add_argument("--unit", action="append", default=[], help="unit (repeatable)")
    p.add_argument("--dossier", action="append", default=[], help="dossier code")
    p.add_argument("--since", default="", help="stored on or after YYYY-MM-DD")
    p.add_argument("--until", default="", help="stored on or before YYYY-MM-DD")
    p.add_argument("--type", action="append", default=[], help="paper type")
    p.add_argument(
        "--status", action="append", default=[], choices=list(STATUSES),
        help="signed, unsigned, with-fields, no-fields or a PAdES level",
    )  # fmt: skip
    p.add_argument("--document", action="append", default=[], help="document id")
    p.add_argument("--dry-run", action="store_true", help="list, change nothing")
    p.add_argument(
        "--processes", type=positive, default=1, help="documents in parallel"
    )
    p.add_argument(
        "--restart", action="store_true",
        help="start afresh instead of resuming an interrupted run",
    )  # fmt: skip


def add_batch_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add reindex, check, export, import and report (reprocess: sign/commands.py)."""
    p = sub.add_parser("reindex", parents=[common], help="rebuild the search index")
    add_selection_options(p)
    p = sub.add_parser("check", parents=[common], help="blobs, rows and signatures")
    add_selection_options(p)
    p = sub.add_parser("export", parents=[common], help="dossier packages (zip)")
    add_selection_options(p)
    p.add_argument("--out", type=Path, required=True, help="folder for the zips")
    p = sub.add_parser("import", parents=[common], help="store dossier packages")
    p.add_argument("packages", nargs="+", type=Path)
    p.add_argument("--dry-run", action="store_true", help="check only, store nothing")
    p.add_argument(
        "--processes", type=positive, default=1, help="packages in parallel"
    )
    p.add_argument("--restart", action="store_true", help=argparse.SUPPRESS)
    p = sub.add_parser("report", parents=[common], help="quarterly figures per unit")
    p.add_argument("--quarter", required=True, help="e.g. 2026-Q4")
    p.add_argument("--unit", action="append", default=[], help="only these units")
    p.add_argument("--csv", type=Path, help="also write the figures as CSV here")
    p.add_argument("--pdf", type=Path, help="also write a one-page PDF here")


def _embedded_only(settings: Settings) -> None:
    # LIMITATION: batch commands work on the embedded catalog (SQLite and the local
    # repository) -> in scaled mode they refuse to run rather than act on the wrong one.
    if settings.scale_mode != "embedded":
        raise ConfigError(
            "batch commands (reprocess, reindex, check, export, import, report) run "
            'on the embedded catalog; run them with scale.mode = "embedded"',
            code="config.invalid",
        )


def _selection(args: argparse.Namespace) -> Selection:
    return Selection(
        units=tuple(args.unit),
        dossiers=tuple(args.dossier),
        since=args.since,
        until=args.until,
        types=tuple(args.type),
        statuses=tuple(args.status),
        documents=tuple(getattr(args, "document", []) or [])
        + tuple(getattr(args, "documents", []) or []),
    )


def _finish(show: Show, args: argparse.Namespace, summary: Summary, text: str) -> None:
    lines = [text] if text else []
    show(summary.to_dict(), args.json, "\n".join([*lines, summary.line()]))


def _failures_text(summary: Summary) -> str:
    return "\n".join(
        f"{o.item}  FAILED {o.detail.get('code', '')}: {o.detail.get('message', '')}"
        for o in summary.outcomes
        if o.status == "failed"
    )


def _dry(args: argparse.Namespace, show: Show, command: str, items: list[str]) -> int:
    summary = Summary(command=command, run_id=0, done=len(items), dry_run=True)
    summary.outcomes = [Outcome(i, "skipped", {"dry_run": True}) for i in items]
    _finish(show, args, summary, "\n".join(items))
    return 0


def run_reprocess_batch(
    args: argparse.Namespace, settings: Settings, show: Show
) -> int:
    """`digitize reprocess [ID...] [selection]`: new signed versions from the scans."""
    from digitize.batch.work import reprocess_item

    _embedded_only(settings)
    selection = _selection(args)
    if selection.is_everything and not args.all:
        raise QueryError(
            "reprocess needs document ids, a selection (--unit, --since, ...) or --all",
            code="query.empty",
        )
    catalog = Catalog(settings.catalog)
    items = select_documents(catalog, selection)
    if args.dry_run:
        return _dry(args, show, "reprocess", items)
    run = BatchRun(catalog, "reprocess", selection.key(), restart=args.restart)
    _recover_reprocessed(run, items)
    summary = run_batch(
        run, items, reprocess_item, worker_settings(settings, args.processes),
        processes=args.processes, label="reprocess", show_progress=not args.quiet,
    )  # fmt: skip
    _finish(show, args, summary, _failures_text(summary))
    return _FAILED_EXIT if summary.failed else 0


def _recover_reprocessed(run: BatchRun, items: list[str]) -> None:
    """Count as done what an interrupted attempt of `run` committed but did not record.

    A worker stores its new version in one transaction and the parent records the
    item after; an interruption between the two would reprocess the document again.
    """
    done = run.finished_items()
    for start in range(0, len(items), 500):
        chunk = [item for item in items[start : start + 500] if item not in done]
        if not chunk:
            continue
        marks = ",".join("?" * len(chunk))
        rows = run.db.execute(
            f"SELECT document_id, max(version) FROM versions WHERE kind = 'reprocessed'"
            f" AND created_at >= ? AND document_id IN ({marks}) GROUP BY document_id",
            (run.started_at, *chunk),
        )
        for document_id, version in rows:
            run.record(Outcome(document_id, "done", {"version": version,
                                                     "recovered": True}))  # fmt: skip


def run_reindex(args: argparse.Namespace, settings: Settings, show: Show) -> int:
    """`digitize reindex`: a new index swapped in at once, or chosen documents."""
    _embedded_only(settings)
    from digitize.batch.reindex import build_new, swap_index
    from digitize.batch.work import reindex_item

    selection = _selection(args)
    catalog = Catalog(settings.catalog)
    items = select_documents(catalog, selection)
    if args.dry_run:
        return _dry(args, show, "reindex", items)
    run = BatchRun(catalog, "reindex", selection.key(), restart=args.restart)
    if not selection.is_everything:
        summary = run_batch(
            run, items, reindex_item, settings, processes=1, label="reindex",
            show_progress=not args.quiet,
        )  # fmt: skip
        _finish(show, args, summary, "")
        return 0
    summary = Summary(command="reindex", run_id=run.id)
    summary.resumed = len(run.finished_items())
    with progress_bar(
        len(items) - summary.resumed, "document", "reindex", enabled=not args.quiet
    ) as advance:
        summary.done = build_new(
            catalog, run, items, processes=args.processes, advance=advance
        )
    caught_up = swap_index(catalog, run.state["snapshot"])
    run.finish()
    summary.done += summary.resumed
    text = f"new index swapped in; {caught_up} documents stored meanwhile caught up"
    _finish(show, args, summary, text)
    return 0


def run_check(args: argparse.Namespace, settings: Settings, show: Show) -> int:
    """`digitize check`: every problem found, each with the command that fixes it."""
    _embedded_only(settings)
    from digitize.batch.check import check_document, check_orphans, problems_of

    selection = _selection(args)
    catalog = Catalog(settings.catalog)
    items = select_documents(catalog, selection)
    if args.dry_run:
        return _dry(args, show, "check", items)
    run = BatchRun(catalog, "check", selection.key(), restart=args.restart)
    summary = run_batch(
        run, items, check_document, settings, processes=args.processes,
        label="check", show_progress=not args.quiet,
    )  # fmt: skip
    problems = problems_of(summary.outcomes)
    if selection.is_everything:
        problems += [p.__dict__ for p in check_orphans(catalog)]
    text = "\n".join(
        f"{p['document_id']}  {p['what']}\n    fix: {p['fix']}" for p in problems
    )
    data = {**summary.to_dict(), "problems": problems}
    show(data, args.json, "\n".join([text or "no problem found", summary.line()]))
    return _PROBLEMS_EXIT if problems else 0


def run_export(args: argparse.Namespace, settings: Settings, show: Show) -> int:
    """`digitize export --out DIR [selection]`: one zip per dossier."""
    _embedded_only(settings)
    from digitize.batch.package import dossier_keys, export_dossier

    selection = _selection(args)
    catalog = Catalog(settings.catalog)
    items = dossier_keys(catalog, select_documents(catalog, selection))
    if args.dry_run:
        return _dry(args, show, "export", items)
    key = selection.key() + str(args.out.resolve())
    run = BatchRun(catalog, "export", key, restart=args.restart)
    work = functools.partial(export_dossier, out=args.out)
    summary = run_batch(
        run, items, work, settings, processes=args.processes, unit="dossier",
        label="export", show_progress=not args.quiet,
    )  # fmt: skip
    _finish(show, args, summary, _failures_text(summary))
    return _FAILED_EXIT if summary.failed else 0


def run_import(args: argparse.Namespace, settings: Settings, show: Show) -> int:
    """`digitize import ZIP...`: check each package whole, store what is new."""
    _embedded_only(settings)
    from digitize.batch.package import import_package

    items = [str(p.resolve()) for p in args.packages]
    if args.dry_run:
        return _dry(args, show, "import", items)
    catalog = Catalog(settings.catalog)
    run = BatchRun(catalog, "import", "\n".join(items), restart=args.restart)
    summary = run_batch(
        run, items, import_package, settings, processes=args.processes,
        unit="package", label="import", show_progress=not args.quiet,
    )  # fmt: skip
    _finish(show, args, summary, _failures_text(summary))
    return _FAILED_EXIT if summary.failed else 0


def run_report(args: argparse.Namespace, settings: Settings, show: Show) -> int:
    """`digitize report --quarter YYYY-QN`: table on stdout, CSV and PDF on request."""
    _embedded_only(settings)
    from digitize.report import build_report, report_csv, report_pdf, report_table

    figures = build_report(Catalog(settings.catalog), settings, args.quarter)
    if args.unit:
        figures = [f for f in figures if f.unit in set(args.unit)]
    if args.csv:
        _write_output(args.csv, report_csv(figures).encode("utf-8"))
    if args.pdf:
        _write_output(
            args.pdf, report_pdf(figures, args.quarter, settings.sign_agency)
        )
    data = [
        {**f.__dict__, "share_signed": f.share_signed,
         "share_with_fields": f.share_with_fields}
        for f in figures
    ]  # fmt: skip
    show(data, args.json, report_table(figures, args.quarter))
    if args.csv or args.pdf:
        written = [str(p) for p in (args.csv, args.pdf) if p]
        sys.stderr.write(f"written: {', '.join(written)}\n")
    return 0


BATCH_COMMANDS: dict[str, Callable[[argparse.Namespace, Settings, Show], int]] = {
    "reprocess": run_reprocess_batch,
    "reindex": run_reindex,
    "check": run_check,
    "export": run_export,
    "import": run_import,
    "report": run_report,
}


def _write_output(path: Path, data: bytes) -> None:
    """Write a file the user named; a bad path is a typed error, not a traceback."""
    try:
        path.write_bytes(data)
    except OSError as err:
        raise StorageError(
            f"cannot write {path} ({err.strerror}); give a file in an existing folder",
            code="store.failed",
        ) from err
