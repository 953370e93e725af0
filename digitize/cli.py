"""The `digitize` command: parse arguments, call one function, map errors to exits."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from digitize.batch.commands import BATCH_COMMANDS, add_batch_parsers
from digitize.config import Settings, load_settings
from digitize.errors import DigitizeError, NotFoundError, QueryError
from digitize.logs import configure_logging
from digitize.scale.commands import add_scale_parsers, scaled_handler
from digitize.sign.commands import (
    add_signing_parsers,
    run_signatures,
    run_verify,
    run_versions,
)

__all__ = ["main"]

log = logging.getLogger(__name__)

_SUMMARY_COLUMNS = (
    ("file", 34),
    ("status", 10),
    ("pages", 5),
    ("seconds", 7),
    ("persons", 7),
    ("fields", 6),
    ("signed", 6),
    ("validated", 9),
)


def _common_options(*, top: bool) -> argparse.ArgumentParser:
    """-v, -q, --config, --json: accepted before and after the subcommand.

    The subcommands' copies default to SUPPRESS so that an option given before the
    subcommand is not reset by the subcommand's own default.
    """

    def default(value: object) -> object:
        return value if top else argparse.SUPPRESS

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v", "--verbose", action="count", default=default(0), help="debug logs"
    )
    common.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default(False),
        help="warnings only",
    )
    common.add_argument(
        "--config", type=Path, default=default(None), help="settings file (TOML)"
    )
    common.add_argument(
        "--json", action="store_true", default=default(False), help="JSON on stdout"
    )
    return common


def _parser() -> argparse.ArgumentParser:
    common = _common_options(top=False)
    parser = argparse.ArgumentParser(
        prog="digitize",
        parents=[_common_options(top=True)],
        description="Digitize scanned dossiers: OCR, identity fields, signed PDFs.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("ingest", parents=[common], help="process files where they are")
    p.add_argument("files", nargs="+", type=Path)
    p = sub.add_parser("watch", parents=[common], help="watch an inbox folder")
    p.add_argument("inbox", nargs="?", type=Path)
    p.add_argument("--once", action="store_true", help="drain the folder, then exit")
    sub.add_parser(
        "status", parents=[common], help="watcher liveness: files seen, queued, done"
    )
    p = sub.add_parser("find", parents=[common], help="look a person up")
    p.add_argument("--id", dest="id_number")
    p.add_argument("--name")
    p.add_argument("--dob", help="date of birth, YYYY-MM-DD")
    p = sub.add_parser("search", parents=[common], help="full-text search")
    p.add_argument("text")
    p.add_argument("--limit", type=int, default=20)
    p = sub.add_parser("show", parents=[common], help="one document")
    p.add_argument("document")
    p = sub.add_parser(
        "candidate", parents=[common],
        help="confirm or reject a paper proposed for a person (listed by find)",
    )  # fmt: skip
    p.add_argument("action", choices=["confirm", "reject"])
    p.add_argument("candidate_id", type=int, help="the number after # in find")
    add_signing_parsers(sub, common)
    add_batch_parsers(sub, common)
    sub.add_parser("keys", parents=[common], help="create the development signing key")
    p = sub.add_parser("demo", parents=[common], help="generate samples and run them")
    p.add_argument("--seed", type=int, default=7)
    p = sub.add_parser("serve", parents=[common], help="run the counter service")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p = sub.add_parser("users", parents=[common], help="manage service accounts")
    p.add_argument("action", choices=["add", "passwd", "list"])
    p.add_argument("username", nargs="?", default="")
    p.add_argument("--role", choices=["scanner", "counter", "admin"], default="counter")
    p.add_argument("--units", default="", help="comma-separated units; empty = all")
    p = sub.add_parser("audit", parents=[common], help="check or export the audit log")
    p.add_argument("action", choices=["verify", "export"])
    add_scale_parsers(sub, common)
    return parser


def _print(data: Any, as_json: bool, table: str = "") -> None:
    if as_json:
        json.dump(data, sys.stdout, ensure_ascii=False, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(table + ("\n" if table and not table.endswith("\n") else ""))


def format_summary(outcomes: list[Any]) -> str:
    """One row per file: pages, seconds, persons, fields, signed, validated."""
    head = "  ".join(f"{name:<{width}}" for name, width in _SUMMARY_COLUMNS)
    rows = [head, "-" * len(head)]
    for out in outcomes:
        values = (
            out.name[-34:],
            out.status,
            out.pages,
            f"{out.seconds:.1f}",
            out.persons,
            out.fields,
            "yes" if out.signed else "no",
            "yes" if out.validated else "no",
        )
        rows.append(
            "  ".join(
                f"{v!s:<{w}}"
                for v, (_, w) in zip(values, _SUMMARY_COLUMNS, strict=True)
            )
        )
        if out.status == "failed":
            rows.append(f"    -> {out.error_code} at {out.error_stage}: {out.message}")
        rows += [f"    note: {note}" for note in _input_notes(out.notes)]
    return "\n".join(rows)


def _input_notes(notes: dict[str, Any]) -> list[str]:
    """What staff should know about a stored input: repaired, already signed, ..."""
    said = []
    if notes.get("repaired"):
        said.append(
            "the PDF was damaged and rebuilt before reading; compare the pages with "
            "the paper, the original is kept as received"
        )
    if notes.get("signature_fields"):
        said.append("the input was already signed; its bytes are kept unchanged")
    if (notes.get("encryption") or {}).get("legacy"):
        said.append("the input used legacy RC4 encryption (owner password only)")
    return said


def _cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from digitize.ingest import ingest_paths
    from digitize.store import Catalog

    catalog = Catalog(settings.catalog)
    outcomes = ingest_paths(args.files, settings, catalog)
    _print([o.__dict__ for o in outcomes], args.json, format_summary(outcomes))
    return 0 if all(o.status != "failed" for o in outcomes) else 4


def _cmd_watch(args: argparse.Namespace, settings: Settings) -> int:
    from digitize.config import DEFAULT_CONFIG
    from digitize.ingest import Watcher, watch_until_signalled
    from digitize.store import Catalog

    config = args.config or Path(os.environ.get("DIGITIZE_CONFIG", DEFAULT_CONFIG))
    watcher = Watcher(args.inbox, settings, Catalog(settings.catalog), config=config)
    if not args.once:
        watch_until_signalled(watcher)
        return 0
    outcomes = watcher.drain()
    _print([o.__dict__ for o in outcomes], args.json, format_summary(outcomes))
    return 0


def _cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from digitize.ingest import format_status, read_status

    status = read_status(settings)
    _print(status, args.json, format_status(status))
    return 0 if status["alive"] else 1


def _cmd_find(args: argparse.Namespace, settings: Settings) -> int:
    from digitize.query import find_by_id, find_by_name
    from digitize.store import Catalog
    from digitize.views import format_person

    catalog = Catalog(settings.catalog)
    if args.id_number:
        people = [find_by_id(catalog, args.id_number)]
    elif args.name:
        people = find_by_name(catalog, args.name, args.dob)
    else:
        raise QueryError("give --id NUMBER or --name NAME", code="query.empty")
    _print(
        people, args.json, "\n\n".join(format_person(p) for p in people) or "no match"
    )
    return 0 if people else 10


def _cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from digitize.query import search_text
    from digitize.store import Catalog

    hits = search_text(Catalog(settings.catalog), args.text, args.limit)
    lines = [
        f"{h['document_id']}  p.{h['page']:<3} {h['unit']}/{h['dossier']}  "
        f"{h['snippet']}"
        for h in hits
    ]
    _print(hits, args.json, "\n".join(lines) or "no match")
    return 0 if hits else 10


def _cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from digitize.query import show_document
    from digitize.store import Catalog
    from digitize.views import format_document

    doc = show_document(Catalog(settings.catalog), args.document)
    _print(doc, args.json, format_document(doc))
    return 0


def _cmd_candidate(args: argparse.Namespace, settings: Settings) -> int:
    from digitize.store import Catalog

    accept = args.action == "confirm"
    if not Catalog(settings.catalog).decide_candidate(args.candidate_id, accept=accept):
        raise NotFoundError(
            f"no open candidate #{args.candidate_id}; `digitize find` lists them"
        )
    done = "confirmed: the paper now belongs to the person" if accept else "rejected"
    _print(
        {"candidate": args.candidate_id, "accept": accept},
        args.json,
        f"candidate #{args.candidate_id} {done}",
    )
    return 0


def _cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    return run_verify(args, settings, _print)


def _cmd_signatures(args: argparse.Namespace, settings: Settings) -> int:
    return run_signatures(args, settings, _print)


def _cmd_reprocess(args: argparse.Namespace, settings: Settings) -> int:
    return BATCH_COMMANDS["reprocess"](args, settings, _print)


def _cmd_batch(args: argparse.Namespace, settings: Settings) -> int:
    return BATCH_COMMANDS[args.command](args, settings, _print)


def _cmd_versions(args: argparse.Namespace, settings: Settings) -> int:
    return run_versions(args, settings, _print)


def _cmd_keys(args: argparse.Namespace, settings: Settings) -> int:
    from digitize.keys import ensure_signing_key

    source = ensure_signing_key(settings)
    _print({"key": str(source)}, args.json, f"signing key: {source}")
    return 0


def _cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from digitize.demo import run_demo

    return run_demo(settings, seed=args.seed, as_json=args.json)


def _cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from digitize.web import serve

    serve(settings, args.host, args.port)
    return 0


def _read_password() -> str:
    """Twice from the terminal, or one line from stdin when it is not a terminal."""
    import getpass

    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise DigitizeError("the two passwords differ", code="auth.mismatch")
    return first


def _cmd_users(args: argparse.Namespace, settings: Settings) -> int:
    from digitize.audit import AuditLog
    from digitize.auth import AccessStore

    store = AccessStore(settings.home / "access.sqlite3")
    if args.action == "list":
        users = store.list_users()
        lines = [
            f"{u['username']:<20} {u['role']:<8} {u['units'] or '*'}" for u in users
        ]
        _print(users, args.json, "\n".join(lines) or "no users")
        return 0
    if not args.username:
        raise DigitizeError("give a user name", code="auth.bad_username")
    if args.action == "add":
        units = tuple(u for u in args.units.split(",") if u)
        store.add_user(args.username, _read_password(), args.role, units)
    else:
        store.set_password(args.username, _read_password())
    AuditLog(settings.home / "audit.sqlite3").record(
        username="cli", role="admin", action=f"users.{args.action}",
        target=args.username,
    )  # fmt: skip
    _print({"username": args.username}, args.json, f"{args.action}: {args.username}")
    return 0


def _cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    from digitize.audit import AuditLog, verify_chain

    path = settings.home / "audit.sqlite3"
    if args.action == "export":
        for line in AuditLog(path).export_lines():
            sys.stdout.write(line)
        return 0
    report = verify_chain(path)
    text = "\n".join(
        [f"{report.entries} entries, chain {'intact' if report.ok else 'BROKEN'}"]
        + [f"  {problem}" for problem in report.problems]
    )
    _print({"ok": report.ok, "entries": report.entries, "problems": report.problems},
           args.json, text)  # fmt: skip
    return 0 if report.ok else 8


_COMMANDS = {
    "serve": _cmd_serve,
    "users": _cmd_users,
    "audit": _cmd_audit,
    "ingest": _cmd_ingest,
    "watch": _cmd_watch,
    "status": _cmd_status,
    "find": _cmd_find,
    "search": _cmd_search,
    "show": _cmd_show,
    "candidate": _cmd_candidate,
    "verify": _cmd_verify,
    "signatures": _cmd_signatures,
    "reprocess": _cmd_reprocess,
    "reindex": _cmd_batch,
    "check": _cmd_batch,
    "export": _cmd_batch,
    "import": _cmd_batch,
    "report": _cmd_batch,
    "versions": _cmd_versions,
    "keys": _cmd_keys,
    "demo": _cmd_demo,
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `digitize` console script."""
    args = _parser().parse_args(argv)
    configure_logging(verbose=args.verbose, quiet=args.quiet)
    try:
        settings = load_settings(args.config)
        configure_logging(settings.log_level, verbose=args.verbose, quiet=args.quiet)
        # Scaled mode (and worker, jobs, migrate) runs digitize.scale's handlers.
        handler = scaled_handler(args.command, settings, _print)
        return (handler or _COMMANDS[args.command])(args, settings)
    except DigitizeError as err:
        if args.verbose:
            log.exception("failed")
        sys.stderr.write(f"digitize: error [{err.code}]: {err.message}\n")
        return err.exit_code
    except KeyboardInterrupt:
        sys.stderr.write(
            "digitize: interrupted; what finished is kept (a batch command run again "
            "resumes where it stopped)\n"
        )
        return 130
    except BrokenPipeError:
        # The reader went away (`digitize find --json | head`): not an error of ours.
        # Point stdout at nothing so the interpreter's final flush stays quiet too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
