"""The scaled mode's steps run embedded too: SQLite catalog, local folder, no broker,
and give the catalog rows `process_file` gives for the same scans."""

from __future__ import annotations

from dataclasses import replace

import pytest

from digitize.config import load_settings
from digitize.keys import ensure_signing_key
from digitize.pipeline import process_file
from digitize.scale.backends import open_backends
from digitize.scale.steps import claim_file, run_job
from digitize.store import Catalog
from tests.scale.conftest import make_scans

pytestmark = pytest.mark.slow


def _pages(catalog):
    return sorted(
        tuple(r)
        for r in catalog.db.execute(
            "SELECT d.sha256, d.pages, p.idx, p.text FROM documents d"
            " JOIN pages p ON p.document_id = d.id"
        )
    )


def test_steps_on_sqlite_and_local_folder_match_process_file(tmp_path):
    scans = make_scans(tmp_path / "scans", 3, seed=3)
    base = replace(
        load_settings(), ocr_workers=1, scale_mode="embedded", scale_blob_store="local"
    )
    steps_home = replace(base, home=tmp_path / "steps")
    ensure_signing_key(steps_home)
    b = open_backends(steps_home)
    for path in scans:
        _, sha = claim_file(path, b)
        assert run_job(sha, b) == "stored"
        assert run_job(sha, b) == "stored"  # run again: nothing left to do
    assert b.jobs.counts() == {"stored": 3}
    assert len(list(b.blobs.iter_blobs())) == 9  # original, unsigned, signed each

    direct = replace(base, home=tmp_path / "direct")
    ensure_signing_key(direct)
    catalog = Catalog(direct.catalog)
    for path in scans:
        process_file(path, direct, catalog)
    assert _pages(b.catalog) == _pages(catalog)
    catalog.close()
    b.close()
