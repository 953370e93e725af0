"""Signing commands of the CLI: verify, signatures check/extend, reprocess, versions.

cli.py parses the arguments and maps errors to exit codes; these functions call one
stage function each and format its result (text or JSON via the `show` callback).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from digitize.config import Settings
from digitize.errors import NotFoundError
from digitize.progress import progress_bar

__all__ = [
    "add_signing_parsers",
    "run_reprocess",
    "run_signatures",
    "run_verify",
    "run_versions",
]

Show = Callable[[Any, bool, str], None]
_SIGN_EXIT = 7


def add_signing_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add `verify`, `signatures`, `reprocess` and `versions` to the subcommands."""
    p = sub.add_parser("verify", parents=[common], help="check a PDF's signatures")
    p.add_argument("file", type=_path)
    p.add_argument(
        "--online", action="store_true", help="also fetch OCSP/CRL (revocation)"
    )
    p = sub.add_parser(
        "signatures", parents=[common], help="long-term care of the signed archive"
    )
    p.add_argument("action", choices=["check", "extend"])
    p.add_argument("documents", nargs="*", help="extend only these document ids")
    # A batch command: ids and/or the shared selection (digitize.batch.commands).
    from digitize.batch.commands import add_selection_options, positive

    p.add_argument("--processes", type=positive, default=1, help="files in parallel")
    p = sub.add_parser(
        "reprocess", parents=[common], help="OCR and sign documents' scans again"
    )

    p.add_argument("documents", nargs="*", help="document ids")
    p.add_argument("--all", action="store_true", help="every document")
    add_selection_options(p)
    p = sub.add_parser(
        "versions", parents=[common], help="a document's signed versions"
    )
    p.add_argument("document")


def _path(value: str) -> Any:
    from pathlib import Path

    return Path(value)


def run_verify(args: argparse.Namespace, settings: Settings, show: Show) -> int:
    """`digitize verify FILE`: one report per signature; exit 7 unless all are ok."""
    from digitize.sign import report_to_dict, verify_pdf

    try:
        data = args.file.read_bytes()
    except OSError as err:
        raise NotFoundError(
            f"cannot read {args.file.name} ({err.strerror}); check the path"
        ) from err
    reports = verify_pdf(data, settings, online=args.online)
    data = [report_to_dict(r) for r in reports]
    text = "\n\n".join(_report_text(d) for d in data) or "the file has no signature"
    show(data, args.json, text)
    return 0 if reports and all(r.ok for r in reports) else _SIGN_EXIT


def _report_text(d: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"{d['field_name']}: {d['summary_en']}",
            f"  {d['summary_vi']}",
            f"  signer        {d['signer_subject']}",
            f"  level         {d['level']}"
            + (f"  (long-term: {d['lta_indication']})" if d["lta_indication"] else ""),
            _checks_line(d),
            f"  revocation    {'checked' if d['revocation_checked'] else 'not checked'}"
            + ("  REVOKED" if d["revoked"] else ""),
            f"  signing time  {d['claimed_at'] or '-'} (claimed by the signer)",
            f"  timestamp     {d['timestamp_at'] or '-'}",
            "  after signing "
            + (
                f"{d['changes']} ({d['modification_level']})" + _coverage_note(d)
                if d["intact"]
                else "not assessed: the signed bytes themselves were changed"
            ),
        ]
    )


def _coverage_note(d: dict[str, Any]) -> str:
    if d["coverage"] != "ENTIRE_REVISION" or d["modification_level"] != "NONE":
        return ""
    # Later revisions are described above; here bytes follow that are no PDF update.
    return "; bytes that are not a PDF update follow the signed file (ignored)"


def _checks_line(d: dict[str, Any]) -> str:
    # pyHanko's validity, trust and change checks mean nothing once the digest of
    # the signed bytes differs: say so rather than print their leftover values.
    if not d["intact"]:
        return "  intact        NO   valid -   trusted -   (content altered)"
    yes = {True: "yes", False: "no"}
    return (
        f"  intact        yes   valid {yes[bool(d['valid'])]}"
        f"   trusted {yes[bool(d['trusted'])]}"
    )


def run_signatures(args: argparse.Namespace, settings: Settings, show: Show) -> int:
    """`digitize signatures check|extend`: offline re-validation, timestamp renewal."""
    from digitize.sign.archive import check_archive, extend_archive, status_to_dict
    from digitize.store import Catalog

    catalog = Catalog(settings.catalog)
    total = catalog.db.execute(
        "SELECT count(*) FROM documents WHERE signed_sha256 IS NOT NULL"
    ).fetchone()[0]
    processes = max(1, args.processes)
    with progress_bar(total, "file", args.action, enabled=not args.quiet) as advance:
        if args.action == "check":
            statuses = check_archive(
                settings, catalog, processes=processes, advance=advance
            )
            data = [status_to_dict(s) for s in statuses]
            show(data, args.json, _check_text(data))
            failed = [s for s in statuses if not s.ok]
            return _SIGN_EXIT if failed else 0
        only = set(args.documents) or None
        results = extend_archive(
            settings, catalog, processes=processes, advance=advance, only=only
        )
    show(results, args.json, _extend_text(results))
    return 0 if all(r["ok"] for r in results) else _SIGN_EXIT


def _check_text(data: list[dict[str, Any]]) -> str:
    rows = [
        f"{d['document_id']}  {d['level'] or '-':<6} {'ok' if d['ok'] else 'FAILED':<6}"
        f" expires {d['expires_at'][:10] or '-':<10}"
        + (f"  extend: {d['reason']}" if d["needs_extension"] else "")
        + (f"  {d['reason']} {d['error']}" if not d["ok"] else "")
        for d in data
    ]
    ok = sum(d["ok"] for d in data)
    extend = sum(d["needs_extension"] for d in data)
    rows.append(
        f"{len(data)} checked offline: {ok} valid, {len(data) - ok} failed, "
        f"{extend} to extend (digitize signatures extend)"
    )
    return "\n".join(rows)


def _extend_text(results: list[dict[str, Any]]) -> str:
    rows = [
        f"{r['document_id']}  "
        + (f"extended, version {r['version']}" if r["ok"] else f"FAILED {r['error']}")
        for r in results
    ]
    done = sum(r["ok"] for r in results)
    rows.append(f"{done} extended, {len(results) - done} failed")
    return "\n".join(rows)


def run_reprocess(args: argparse.Namespace, settings: Settings, show: Show) -> int:
    """`digitize reprocess ID`: a new signed version from the scan as received."""
    from digitize.reprocess import reprocess_document
    from digitize.store import Catalog

    outcome = reprocess_document(args.document, settings, Catalog(settings.catalog))
    show(
        outcome.__dict__,
        args.json,
        f"{outcome.document_id}: new version signed {outcome.sign_level}, "
        f"{outcome.pages} pages in {outcome.seconds:.1f} s",
    )
    return 0


def run_versions(args: argparse.Namespace, settings: Settings, show: Show) -> int:
    """`digitize versions ID`: every signed version, current and superseded."""
    from digitize.sign.chain import list_versions
    from digitize.store import Catalog

    versions = list_versions(Catalog(settings.catalog), settings, args.document)
    text = "\n".join(
        f"v{v['version']} {v['kind']:<11} {v['sign_level'] or '-':<6}"
        f" signed {v.get('signed_at') or '-'}  "
        + ("current" if v["current"] else f"superseded {v['superseded_at']}")
        + f"  {v['signed_path']}"
        for v in versions
    )
    show(versions, args.json, text or "no signed version")
    return 0
