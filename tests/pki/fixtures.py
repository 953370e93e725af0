"""pytest fixtures over the test PKI: one live PKI per test session, settings per level.

Import the fixtures into a test module with `from tests.pki.fixtures import *`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from digitize.config import Settings
from tests.factories import make_pdf
from tests.pki.server import PASSPHRASE, TestPki

__all__ = ["make_pdf", "pki_fixture", "settings_for", "with_level"]


@pytest.fixture(scope="session", name="pki")
def pki_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestPki]:
    """The live test PKI on 127.0.0.1, started for the session, stopped after it."""
    server = TestPki(tmp_path_factory.mktemp("pki"))
    server.start()
    yield server
    server.stop()


def settings_for(
    pki: TestPki, home: Path, *, signer: str = "signer1", level: str = "auto"
) -> Settings:
    """Settings that sign with `signer`'s PKCS#12 and trust only the test root."""
    passphrase = pki.folder / "passphrase"
    passphrase.write_bytes(PASSPHRASE + b"\n")
    p12 = pki.folder / f"{signer}.p12"
    if not p12.exists():
        pki.write_p12(signer)
    return Settings(
        home=home,
        sign_pkcs12=str(p12),
        sign_passphrase_file=str(passphrase),
        sign_trust_roots=str(pki.write_root()),
        sign_tsa_url=pki.tsa_url if level != "B-B" else "",
        sign_level=level,
        sign_network_timeout_s=5.0,
    )


def with_level(settings: Settings, level: str) -> Settings:
    """The same settings at another level (B-B drops the TSA)."""
    if level == "B-B":
        return replace(settings, sign_level=level, sign_tsa_url="")
    return replace(settings, sign_level=level)
