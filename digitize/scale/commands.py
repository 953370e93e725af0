"""The CLI's scaled-mode commands: worker, jobs, migrate, scaled watch/ingest/search.

cli.py asks `scaled_handler` first; None means its own command runs. In scaled mode
watch, ingest, find, search and show run here against the PostgreSQL catalog.

Heavy imports (Celery, psycopg, boto3) happen inside the handlers, so the embedded
commands never load them.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from contextlib import closing
from functools import partial
from pathlib import Path
from typing import Any

from digitize.config import Settings
from digitize.errors import DigitizeError

__all__ = ["add_scale_parsers", "scaled_handler"]

Printer = Callable[[Any, bool, str], None]
_UNFINISHED = ("queued", "read", "signed")


def add_scale_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the worker, jobs and migrate sub-commands."""
    p = sub.add_parser("worker", parents=[common], help="run a Celery worker")
    p.add_argument(
        "--queues",
        default="ocr,sign,index",
        help="queues to take tasks from: ocr, sign, index (comma-separated)",
    )
    p.add_argument(
        "--concurrency",
        type=int,
        default=0,
        help="task processes; 0 = scale_worker_concurrency or one per core",
    )
    p.add_argument("--name", default="", help="worker name, e.g. ocr1@%%h")
    p = sub.add_parser("jobs", parents=[common], help="pipeline job counts, failures")
    p.add_argument(
        "--wait",
        type=float,
        default=0.0,
        help="wait up to this many seconds for every job to finish",
    )
    p = sub.add_parser(
        "migrate",
        parents=[common],
        help="upgrade the catalog schema; with SOURCE, move an embedded "
        "deployment into the configured one",
    )
    p.add_argument(
        "source",
        nargs="?",
        type=Path,
        help="home folder of the embedded deployment to move",
    )


def scaled_handler(
    command: str, settings: Settings, printer: Printer
) -> Callable[[argparse.Namespace, Settings], int] | None:
    """The handler for `command` when this module owns it in the configured mode."""
    from digitize.scale.backends import is_scaled

    handlers: dict[str, Callable[..., int]] = {
        "worker": _cmd_worker,
        "jobs": _cmd_jobs,
        "migrate": _cmd_migrate,
    }
    if is_scaled(settings):
        handlers |= {
            "watch": _cmd_watch,
            "ingest": _cmd_ingest,
            "find": _cmd_find,
            "search": _cmd_search,
            "show": _cmd_show,
        }
    handler = handlers.get(command)
    return partial(handler, printer=printer) if handler else None


def _cmd_worker(args: argparse.Namespace, settings: Settings, printer: Printer) -> int:
    from digitize.scale.tasks import run_worker

    run_worker(
        settings, queues=args.queues, concurrency=args.concurrency, name=args.name
    )
    return 0


def _cmd_jobs(args: argparse.Namespace, settings: Settings, printer: Printer) -> int:
    from digitize.scale.backends import open_backends

    b = open_backends(settings)
    try:
        counts = _wait_for_jobs(b, args.wait) if args.wait else b.jobs.counts()
        failed = b.jobs.failed()
    finally:
        b.close()
    lines = [f"{state:<8} {n}" for state, n in sorted(counts.items())]
    lines += [
        f"failed {f['sha256'][:16]} {f['error_code']}: {f['error_message']}"
        for f in failed
    ]
    printer(
        {"counts": counts, "failed": failed}, args.json, "\n".join(lines) or "no jobs"
    )
    if any(counts.get(s) for s in _UNFINISHED):
        return 1
    return 4 if failed else 0


def _wait_for_jobs(b: Any, timeout_s: float) -> dict[str, int]:
    from digitize.scale.tasks import configure, sweep

    configure(b.settings)
    deadline = time.monotonic() + timeout_s
    while True:
        counts = b.jobs.counts()
        if not any(counts.get(s) for s in _UNFINISHED) or time.monotonic() > deadline:
            return counts
        sweep(b)
        time.sleep(min(1.0, b.settings.scale_sweep_s))


def _cmd_migrate(args: argparse.Namespace, settings: Settings, printer: Printer) -> int:
    from digitize.scale.migrate import migrate_home, upgrade_catalog

    if args.source is None:
        versions = upgrade_catalog(settings)
        printer(
            {"applied": versions},
            args.json,
            f"schema upgraded through version {versions[-1]}"
            if versions
            else "schema already at the newest version",
        )
        return 0
    report = migrate_home(args.source, settings)
    printer(report.as_dict(), args.json, report.summary())
    return 0 if report.ok else 8


def _cmd_watch(args: argparse.Namespace, settings: Settings, printer: Printer) -> int:
    from digitize.cli import format_summary
    from digitize.scale.backends import open_backends
    from digitize.scale.ingest import EnqueueWatcher
    from digitize.scale.tasks import configure, send_step, sweep

    configure(settings)
    b = open_backends(settings)
    inbox = args.inbox or settings.inbox
    inbox.mkdir(parents=True, exist_ok=True)
    watcher = EnqueueWatcher(inbox, b, send_step, lambda: sweep(b))
    if not args.once:
        watcher.run_forever()
        return 0
    outcomes = watcher.drain()
    printer([o.__dict__ for o in outcomes], args.json, format_summary(outcomes))
    return 0 if all(o.status != "failed" for o in outcomes) else 4


def _cmd_ingest(args: argparse.Namespace, settings: Settings, printer: Printer) -> int:
    from digitize.cli import format_summary
    from digitize.pipeline import FileOutcome
    from digitize.scale.backends import open_backends
    from digitize.scale.steps import claim_file
    from digitize.scale.tasks import configure, send_step

    configure(settings)
    b = open_backends(settings)
    outcomes = []
    for path in args.files:
        try:
            out, sha = claim_file(path, b)
        except DigitizeError as err:
            out, sha = (
                FileOutcome(
                    path.name,
                    "failed",
                    error_code=err.code,
                    error_stage=err.stage,
                    message=err.message,
                ),
                "",
            )
        if out.status == "queued":
            send_step("read", sha)
        outcomes.append(out)
    printer([o.__dict__ for o in outcomes], args.json, format_summary(outcomes))
    return 0 if all(o.status != "failed" for o in outcomes) else 4


def _cmd_find(args: argparse.Namespace, settings: Settings, printer: Printer) -> int:
    from digitize.query import find_by_id, find_by_name
    from digitize.scale.backends import open_catalog
    from digitize.views import format_person

    if not (args.id_number or args.name):
        raise DigitizeError("give --id NUMBER or --name NAME", code="query.empty")
    with closing(open_catalog(settings)) as catalog:
        people = (
            [find_by_id(catalog, args.id_number)]
            if args.id_number
            else find_by_name(catalog, args.name, args.dob)
        )
    text = "\n\n".join(format_person(p) for p in people) or "no match"
    printer(people, args.json, text)
    return 0 if people else 10


def _cmd_search(args: argparse.Namespace, settings: Settings, printer: Printer) -> int:
    from digitize.scale.backends import open_catalog
    from digitize.scale.search import search_text

    with closing(open_catalog(settings)) as catalog:
        hits = search_text(catalog, args.text, args.limit)
    lines = [
        f"{h['document_id']}  p.{h['page']:<3} {h['unit']}/{h['dossier']}  "
        f"{h['snippet']}"
        for h in hits
    ]
    printer(hits, args.json, "\n".join(lines) or "no match")
    return 0 if hits else 10


def _cmd_show(args: argparse.Namespace, settings: Settings, printer: Printer) -> int:
    from digitize.query import show_document
    from digitize.scale.backends import open_catalog
    from digitize.views import format_document

    with closing(open_catalog(settings)) as catalog:
        doc = show_document(catalog, args.document)
    printer(doc, args.json, format_document(doc))
    return 0
