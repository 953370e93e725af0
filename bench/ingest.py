"""Throughput of the watched-folder intake under the load-test scenario, per watch mode.

Drops the 300-file scenario of tests/fixtures/load.py (slow writers, .part hand-overs,
duplicates, bad files) into a fresh inbox and runs the real watcher (Tesseract, signing,
SQLite) until every file is put away. Prints, per mode: wall seconds, files and stored
files per minute, and the mean seconds a stored file spent in the pipeline.

    python bench/ingest.py [--modes events,polling] [--workers 2] [--record]

--record writes bench/results/ingest.json (machine, date, figures).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from digitize.config import load_settings
from digitize.ingest import Watcher
from digitize.keys import ensure_signing_key
from digitize.store import Catalog
from tests.fixtures import load

RESULTS = Path(__file__).resolve().parent / "results" / "ingest.json"


def run_mode(mode: str, workers: int, root: Path, keys: Path) -> dict:
    settings = replace(
        load_settings(),
        home=root / mode / "home",
        watch_polling=mode == "polling",
        watch_settle_s=2.5,
        watch_poll_s=0.25,
        watch_rescan_s=10.0,
        watch_young_s=25.0,
        watch_workers=workers,
    )
    shutil.copytree(keys, settings.keys)
    inbox = root / mode / "inbox"
    inbox.mkdir(parents=True)
    drops = load.plan()
    catalog = Catalog(settings.catalog)
    watcher = Watcher(inbox, settings, catalog)
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run_forever, args=(stop,), daemon=True)
    thread.start()
    time.sleep(1.0)

    started = time.monotonic()
    writer = load.start_slow_writer(inbox, drops)
    load.drop_now(inbox, drops)
    late_dropped = False
    while sum(load.count_put_away(settings.home).values()) < len(drops):
        if not late_dropped and len(watcher.outcomes) >= len(drops) // 2:
            load.drop_late(inbox, drops)
            late_dropped = True
        time.sleep(0.2)
    seconds = time.monotonic() - started
    writer.wait()
    stop.set()
    watcher.wake.set()
    thread.join()
    catalog.close()

    stored = [o for o in watcher.outcomes if o.status == "stored"]
    counts = load.count_put_away(settings.home)
    return {
        "mode": mode,
        "workers": workers,
        "files": len(drops),
        "processed": counts["processed"],
        "duplicates": counts["duplicates"],
        "quarantined": counts["quarantine"],
        "wall_s": round(seconds, 1),
        "files_per_min": round(len(drops) * 60 / seconds),
        "stored_per_min": round(len(stored) * 60 / seconds),
        "mean_s_per_stored_file": round(
            sum(o.seconds for o in stored) / len(stored), 2
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="events,polling")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    for key in [k for k in os.environ if k.startswith("DIGITIZE_")]:
        del os.environ[key]
    root = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        keys_home = root / "keys-home"
        ensure_signing_key(replace(load_settings(), home=keys_home))
        results = [
            run_mode(mode, args.workers, root, keys_home / "keys")
            for mode in args.modes.split(",")
        ]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for r in results:
        print(
            f"{r['mode']:<8} {r['files']} files in {r['wall_s']} s: "
            f"{r['files_per_min']} files/min, {r['stored_per_min']} stored/min, "
            f"{r['mean_s_per_stored_file']} s per stored file "
            f"({r['processed']} processed, {r['duplicates']} duplicates, "
            f"{r['quarantined']} quarantined; {r['workers']} workers)"
        )
    if args.record:
        RESULTS.parent.mkdir(exist_ok=True)
        record = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
            f"Python {platform.python_version()}",
            # Other work on the machine slows the figures: keep its load with them.
            "load_average_1min": round(os.getloadavg()[0], 1),
            "scenario": "tests/fixtures/load.py: 300 files (170 good incl. 10 slow "
            "writers over 20 s and 10 .part hand-overs, 80 duplicates, 50 bad); "
            "settle 2.5 s, young 25 s",
            "results": results,
        }
        RESULTS.write_text(json.dumps(record, indent=2) + "\n")
        print(f"recorded in {RESULTS}")


if __name__ == "__main__":
    main()
