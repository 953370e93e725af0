"""Share of each form's fields prefilled from the papers of the generated sample people.

Generates a sample set, runs it through the real pipeline (Tesseract, signing) into a
temporary repository, then for every fake person prefills each form in config/forms/
and prints the share of fields filled, and how many filled values match the truth.

    python bench/prefill.py [--set demo|full] [--seed 7] [--home DIR]

With --home, an existing repository is used and nothing is generated; the truth check
is then skipped. Target: above 60% for every form.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from digitize.config import load_settings
from digitize.ingest import Watcher
from digitize.keys import ensure_signing_key
from digitize.prefill import load_forms, load_offices, prefill_form, prefill_shares
from digitize.query import get_person
from digitize.store import Catalog

TARGET = 0.60
# Form fields whose value is a stored identity field as printed: checked against truth.
_TRUTH_KEYS = {"so_dinh_danh": "id_number", "noi_thuong_tru": "residence"}


def build_repository(root: Path, set_name: str, seed: int) -> tuple[Path, dict]:
    """Generate samples under root and ingest them; return the home and the truth."""
    from samples.generate import generate

    truth = generate(root / "samples", seed=seed, set_name=set_name)
    settings = replace(load_settings(), home=root / "home", watch_settle_s=0.0)
    ensure_signing_key(settings)
    catalog = Catalog(settings.catalog)
    started = time.monotonic()
    outcomes = Watcher(root / "samples" / "inbox", settings, catalog).drain()
    catalog.close()
    print(f"ingested {len(outcomes)} files in {time.monotonic() - started:.0f} s")
    return settings.home, truth


def _people(catalog: Catalog) -> list[dict[str, Any]]:
    ids = [row[0] for row in catalog.db.execute("SELECT id FROM persons ORDER BY id")]
    return [get_person(catalog, person_id) for person_id in ids]


def _correct(catalog: Catalog, truth: dict) -> tuple[int, int]:
    """Prefilled ID numbers and residences that equal the truth, and how many."""
    forms, offices = load_forms(), load_offices()
    by_id = {p["id_number"]: p for p in truth["persons"]}
    right = checked = 0
    for person in _people(catalog):
        expected = by_id.get(person["id_number"])
        for form in forms.values():
            result = prefill_form(
                form, person, offices=offices, unit="", today=date.today()
            )
            for item in result["fields"]:
                key = _TRUTH_KEYS.get(item["key"])
                if key and expected and item["value"]:
                    checked += 1
                    right += item["value"] == expected[key]
    return right, checked


def report(home: Path, truth: dict | None) -> bool:
    """Print the table; True when every form is above the target."""
    catalog = Catalog(home / "catalog.sqlite3")
    people = _people(catalog)
    shares = prefill_shares(people, load_forms(), load_offices(), today=date.today())
    print(
        f"\n{'form':<14} {'people':>6} {'prefilled':>10} {'fields':>7} {'share':>7}"
        f"  target"
    )
    ok = True
    for form_id, row in shares.items():
        met = row["share"] > TARGET
        ok &= met
        print(
            f"{form_id:<14} {row['people']:>6} {row['prefilled']:>10} {row['total']:>7}"
            f" {row['share']:>7.1%}  >{TARGET:.0%} {'met' if met else 'NOT met'}"
        )
    if truth is not None:
        right, checked = _correct(catalog, truth)
        print(
            "\nprefilled ID numbers and residences equal to the truth: "
            f"{right}/{checked}"
        )
    print(json.dumps({k: round(v["share"], 3) for k, v in shares.items()}))
    catalog.close()
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", dest="set_name", default="demo")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--home", type=Path, help="existing repository (no generation)")
    args = parser.parse_args()
    if args.home:
        return 0 if report(args.home, None) else 1
    with tempfile.TemporaryDirectory(prefix="bench-prefill-") as tmp:
        home, truth = build_repository(Path(tmp), args.set_name, args.seed)
        return 0 if report(home, truth) else 1


if __name__ == "__main__":
    sys.exit(main())
