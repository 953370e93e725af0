"""Load: 300 files dropped at once into nested dossier folders, in each watch mode.

Some are written slowly in chunks over 20 seconds by another process, some handed over
as .part files, some are duplicates (some dropped after the first copy was stored),
some are bad. At the end processed + duplicates + quarantined equals dropped, every good
file is searchable, and the watcher is still alive and taking files.
"""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
from dataclasses import replace

import pytest

from digitize.config import load_settings
from digitize.ingest import Watcher, read_status
from digitize.keys import ensure_signing_key
from digitize.query import search_text
from digitize.store import Catalog
from tests.fixtures import badinputs as bad
from tests.fixtures import load

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    home = tmp_path_factory.mktemp("keys")
    ensure_signing_key(replace(load_settings(), home=home))
    return home / "keys"


def _wait(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.mark.parametrize("mode", ["events", "polling"])
def test_300_files_at_once(tmp_path, keys, mode, monkeypatch):
    for key in [k for k in __import__("os").environ if k.startswith("DIGITIZE_")]:
        monkeypatch.delenv(key)
    settings = replace(
        load_settings(),
        home=tmp_path / "home",
        watch_polling=mode == "polling",
        watch_settle_s=2.5,
        watch_poll_s=0.25,
        watch_rescan_s=10.0,
        watch_young_s=25.0,
    )
    shutil.copytree(keys, settings.keys)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    drops = load.plan()
    assert len(drops) == 300
    catalog = Catalog(settings.catalog)
    watcher = Watcher(inbox, settings, catalog)
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run_forever, args=(stop,), daemon=True)
    thread.start()
    _wait(lambda: read_status(settings)["alive"], 20, "the watcher to start")

    started = time.monotonic()
    writer = load.start_slow_writer(inbox, drops)
    load.drop_now(inbox, drops)
    late = [d for d in drops if d.how == "late"]
    stored = [hashlib.sha256(d.data).hexdigest() for d in late]
    _wait(lambda: all(catalog.find_document_by_sha(s) for s in stored), 240,
          "the originals of the late duplicates")  # fmt: skip
    load.drop_late(inbox, drops)
    assert writer.wait(timeout=60) == 0

    def put_away() -> int:
        return sum(load.count_put_away(settings.home).values())

    _wait(lambda: put_away() == len(drops), 240, "every file to be put away")
    seconds = time.monotonic() - started
    try:
        counts = load.count_put_away(settings.home)
        kinds = {
            k: sum(d.kind == k for d in drops) for k in ("good", "duplicate", "bad")
        }
        assert counts == {"processed": kinds["good"], "duplicates": kinds["duplicate"],
                          "quarantine": kinds["bad"]}  # fmt: skip
        for drop in drops:
            if drop.kind == "good":
                hits = {h["document_id"] for h in search_text(catalog, drop.token)}
                assert hits == {hashlib.sha256(drop.data).hexdigest()[:16]}, drop.rel

        # Still alive: a new file after all that is taken too.
        (inbox / "xa-moi" / "HS-9999").mkdir(parents=True)
        extra = bad.text_pdf(["SAU CUNG 79999"])
        (inbox / "xa-moi" / "HS-9999" / "sau-cung.pdf").write_bytes(extra)
        _wait(lambda: search_text(catalog, "79999"), 60, "the last file")
        status = read_status(settings)
        assert thread.is_alive() and status["alive"]
        assert status["done"] == kinds["good"] + 1 and status["queued"] == 0
        assert status["quarantined"] == kinds["bad"]
        assert status["duplicates"] == kinds["duplicate"]
    finally:
        stop.set()
        watcher.wake.set()
        thread.join(timeout=60)
        catalog.close()
    rate = kinds["good"] * 60 / seconds
    total = len(drops) * 60 / seconds
    print(f"\nload {mode}: {len(drops)} files in {seconds:.1f} s; "
          f"{rate:.0f} stored files/min ({total:.0f} files/min)")  # fmt: skip
