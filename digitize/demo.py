"""The demo job: generate samples, make a development key, run the watcher once, report."""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from digitize.config import Settings
from digitize.ingest import Watcher
from digitize.keys import ensure_signing_key
from digitize.store import Catalog

__all__ = ["run_demo"]


def _generate(out: Path, seed: int) -> dict[str, Any]:
    # samples/ lives beside the package in the source tree; the demo runs from there.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from samples.generate import generate

    return generate(out, seed=seed, set_name="demo")


def _card_check(catalog: Catalog, truth: dict[str, Any]) -> tuple[int, int, list[str]]:
    found, lines = 0, []
    for person in truth["persons"]:
        row = catalog.db.execute(
            "SELECT date_of_birth FROM persons WHERE id_number = ?",
            (person["id_number"],),
        ).fetchone()
        ok = row is not None
        found += ok
        dob_ok = ok and row["date_of_birth"] == person["date_of_birth"]
        lines.append(
            f"  card {person['card']:<12} ID number {'found' if ok else 'MISSING':<8}"
            f" date of birth {'right' if dob_ok else 'WRONG/MISSING'}"
        )
    return found, len(truth["persons"]), lines


def run_demo(settings: Settings, *, seed: int = 7, as_json: bool = False) -> int:
    """Run the main job over freshly generated samples; exit 0 when all cards were found."""
    from digitize.cli import format_summary

    samples = settings.home / "samples"
    shutil.rmtree(samples, ignore_errors=True)
    truth = _generate(samples, seed)
    key = ensure_signing_key(settings)
    sys.stderr.write(f"signing key: {key}\n")

    inbox = settings.inbox
    for source in sorted((samples / "inbox").rglob("*")):
        if source.is_file():
            target = inbox / source.relative_to(samples / "inbox")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)

    catalog = Catalog(settings.catalog)
    outcomes = Watcher(inbox, replace(settings, watch_settle_s=0.0), catalog).drain()
    found, total, lines = _card_check(catalog, truth)
    if as_json:
        json.dump(
            {
                "files": [o.__dict__ for o in outcomes],
                "cards_found": found,
                "cards": total,
            },
            sys.stdout,
            ensure_ascii=False,
            indent=2,
        )
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_summary(outcomes) + "\n\nIdentity cards:\n")
        sys.stdout.write(
            "\n".join(lines) + f"\n{found}/{total} ID numbers found; "
            f"catalog {settings.catalog}\n"
        )
    failed = [o for o in outcomes if o.status == "failed" or not o.validated]
    return 0 if found == total and not failed else 1
