"""Shared fixtures: settings on a temporary home, a catalog, generated samples."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from digitize.config import load_settings
from digitize.store import Catalog


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Settings whose state lives under tmp_path; no DIGITIZE_* from the caller."""
    import os

    for key in list(os.environ):
        if key.startswith("DIGITIZE_"):
            monkeypatch.delenv(key)
    return replace(
        load_settings(), home=tmp_path / "home", watch_settle_s=0.0, watch_poll_s=0.05
    )


@pytest.fixture
def catalog(settings):
    cat = Catalog(settings.catalog)
    yield cat
    cat.close()
