"""`digitize report --quarter 2026-Q4`: the district plan's quarterly figures per unit.

Per unit, over documents stored in the quarter (Vietnam time, +07:00): dossiers and
pages digitized, the share signed, the share with identity fields, how often a stored
paper was reused at a counter (views, downloads and prefills in the audit log) and the
median time from the drop in the inbox to the signature. As a table, CSV, and a
one-page PDF with a bar chart drawn here (Pillow) and a text layer over every word.
"""

from __future__ import annotations

import csv
import io
import re
import sqlite3
import statistics
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from digitize.config import Settings
from digitize.errors import QueryError
from digitize.store import Catalog

__all__ = [
    "UnitFigures",
    "build_report",
    "quarter_bounds",
    "report_csv",
    "report_pdf",
    "report_table",
]

VIETNAM = timezone(timedelta(hours=7))
# Audit actions that mean a stored paper was used again at a counter.
REUSE_ACTIONS = ("view.document", "download.signed", "download.original", "prefill")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


@dataclass
class UnitFigures:
    """One unit's row of the quarterly report."""

    unit: str
    dossiers: int = 0
    documents: int = 0
    pages: int = 0
    signed: int = 0
    with_fields: int = 0
    reuses: int = 0
    median_drop_to_signed_s: float | None = None

    @property
    def share_signed(self) -> float:
        """Signed documents / documents (0 when none)."""
        return self.signed / self.documents if self.documents else 0.0

    @property
    def share_with_fields(self) -> float:
        """Documents with at least one identity field / documents."""
        return self.with_fields / self.documents if self.documents else 0.0


def quarter_bounds(quarter: str) -> tuple[str, str]:
    """UTC ISO bounds [start, end) of a quarter written `YYYY-QN`, Vietnam time.

    Raises:
        QueryError: not `YYYY-QN`.
    """
    found = _QUARTER.match(quarter.strip().upper())
    if not found:
        raise QueryError(
            f"--quarter {quarter!r}: write the year and quarter as 2026-Q4",
            code="query.invalid",
        )
    year, q = int(found[1]), int(found[2])
    start = datetime(year, 3 * q - 2, 1, tzinfo=VIETNAM)
    end = datetime(year + q // 4, 3 * q % 12 + 1, 1, tzinfo=VIETNAM)
    return _utc(start), _utc(end)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def build_report(
    catalog: Catalog, settings: Settings, quarter: str
) -> list[UnitFigures]:
    """Per-unit figures for the quarter, units in name order."""
    start, end = quarter_bounds(quarter)
    rows = catalog.db.execute(
        "SELECT d.id, d.unit, d.dossier, d.pages, d.signed_sha256, d.created_at,"
        " d.seconds, COALESCE((SELECT v.signed_at FROM versions v WHERE"
        " v.document_id = d.id ORDER BY v.version LIMIT 1), d.signed_at) AS signed_at,"
        " EXISTS (SELECT 1 FROM fields f WHERE f.document_id = d.id) AS has_fields"
        " FROM documents d WHERE d.created_at >= ? AND d.created_at < ?",
        (start, end),
    ).fetchall()
    drops = _drop_times(settings.home / "ledger.sqlite3")
    units: dict[str, UnitFigures] = {}
    dossiers: dict[str, set[str]] = {}
    waits: dict[str, list[float]] = {}
    for row in rows:
        fig = units.setdefault(row["unit"], UnitFigures(row["unit"]))
        fig.documents += 1
        fig.pages += row["pages"]
        fig.signed += bool(row["signed_sha256"])
        fig.with_fields += bool(row["has_fields"])
        if row["dossier"]:
            dossiers.setdefault(row["unit"], set()).add(row["dossier"])
        wait = _drop_to_signed(row, drops.get(row["id"]))
        if wait is not None:
            waits.setdefault(row["unit"], []).append(wait)
    for unit, fig in units.items():
        fig.dossiers = len(dossiers.get(unit, ()))
        if waits.get(unit):
            fig.median_drop_to_signed_s = statistics.median(waits[unit])
    for unit, count in _reuses(catalog, settings, start, end).items():
        units.setdefault(unit, UnitFigures(unit)).reuses = count
    return [units[u] for u in sorted(units)]


def _drop_times(ledger: Path) -> dict[str, float]:
    """When each stored document's file was first seen in the inbox (epoch s)."""
    if not ledger.is_file():
        return {}
    with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT document_id, MIN(first_seen) FROM entries"
            " WHERE document_id IS NOT NULL AND outcome = 'processed'"
            " GROUP BY document_id"
        ).fetchall()
    return {r[0]: float(r[1]) for r in rows}


def _drop_to_signed(row: sqlite3.Row, dropped: float | None) -> float | None:
    """Seconds from the drop (or the start of processing) to the first signature."""
    if not row["signed_at"]:
        return None
    signed = datetime.fromisoformat(row["signed_at"]).timestamp()
    if dropped is None:
        # Not dropped through the watcher (`digitize ingest`): from when work began.
        stored = datetime.fromisoformat(row["created_at"]).timestamp()
        dropped = stored - (row["seconds"] or 0.0)
    return max(0.0, signed - dropped)


def _reuses(
    catalog: Catalog, settings: Settings, start: str, end: str
) -> dict[str, int]:
    """Successful views, downloads and prefills in the quarter, by paper's unit.

    A prefill counts for the unit of the person's most recently stored paper.
    """
    path = settings.home / "audit.sqlite3"
    if not path.is_file():
        return {}
    marks = ",".join("?" * len(REUSE_ACTIONS))
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = db.execute(
            f"SELECT action, target FROM audit WHERE action IN ({marks})"
            " AND outcome = 'ok' AND ts >= ? AND ts < ?",
            (*REUSE_ACTIONS, start, end),
        ).fetchall()
    counts: dict[str, int] = {}
    for action, target in rows:
        unit = _unit_of(catalog, action, target)
        if unit is not None:
            counts[unit] = counts.get(unit, 0) + 1
    return counts


def _unit_of(catalog: Catalog, action: str, target: str) -> str | None:
    if action == "prefill":
        person = re.match(r"person:(\d+)", target)
        if person is None:
            return None
        row = catalog.db.execute(
            "SELECT d.unit FROM links l JOIN documents d ON d.id = l.document_id"
            " WHERE l.person_id = ? ORDER BY d.created_at DESC LIMIT 1",
            (int(person[1]),),
        ).fetchone()
    else:
        row = catalog.db.execute(
            "SELECT unit FROM documents WHERE id = ?", (target[:16],)
        ).fetchone()
    return row[0] if row else None


# --- output -------------------------------------------------------------------------

_HEAD = ("unit", "dossiers", "pages", "signed", "with ID fields", "reuses",
         "drop->signed (median)")  # fmt: skip


def _cells(fig: UnitFigures) -> tuple[str, ...]:
    wait = fig.median_drop_to_signed_s
    return (
        fig.unit or "(no unit)",
        str(fig.dossiers),
        str(fig.pages),
        f"{100 * fig.share_signed:.0f}%",
        f"{100 * fig.share_with_fields:.0f}%",
        str(fig.reuses),
        "-" if wait is None else _duration(wait),
    )


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def report_table(figures: list[UnitFigures], quarter: str) -> str:
    """The report as a text table with a total line."""
    rows = [_HEAD, *(_cells(f) for f in figures)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_HEAD))]
    lines = [f"digitization report {quarter.upper()}"]
    for index, row in enumerate(rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    total_pages = sum(f.pages for f in figures)
    lines.append(f"{len(figures)} units, {total_pages} pages")
    return "\n".join(lines)


def report_csv(figures: list[UnitFigures]) -> str:
    """The report as CSV: raw counts and shares (0-1), seconds as numbers."""
    buf = io.StringIO()
    names = [*asdict(UnitFigures("")).keys(), "share_signed", "share_with_fields"]
    writer = csv.DictWriter(buf, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    for fig in figures:
        writer.writerow(
            {**asdict(fig), "share_signed": round(fig.share_signed, 4),
             "share_with_fields": round(fig.share_with_fields, 4)}
        )  # fmt: skip
    return buf.getvalue()


def report_pdf(figures: list[UnitFigures], quarter: str, agency: str) -> bytes:
    """One A4 page: title, table and a bar chart of pages per unit; text selectable."""
    from digitize.batch.report_page import draw_report_page

    return draw_report_page(
        title=f"Báo cáo số hóa / Digitization report {quarter.upper()}",
        subtitle=agency,
        head=_HEAD,
        rows=[_cells(f) for f in figures],
        bars=[(f.unit or "(no unit)", f.pages) for f in figures],
        bar_label="Số trang đã số hóa / pages digitized",
    )
