"""Signing against a live local test PKI: every PAdES level, revocation, tokens.

The PKI (root, issuing CA, OCSP, CRL, TSA) runs on 127.0.0.1 for the session; keys
are generated at every run. Real pyHanko signing and validation throughout.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from io import BytesIO
from pathlib import Path

import pikepdf
import pytest
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.stamp import TextStamp, TextStampStyle

from digitize.config import Settings
from digitize.errors import ConfigError, SigningError, SigningUnavailableError
from digitize.sign import sign_pdf, verify_pdf
from tests.pki.fixtures import make_pdf, pki_fixture, settings_for  # noqa: F401
from tests.pki.hsm import (
    KEY_ID,
    MODULE,
    PIN,
    TOKEN,
    RemoteSignerServer,
    SoftToken,
    has_softhsm,
)
from tests.pki.server import TestPki

pytestmark = pytest.mark.slow

LEVELS = ["B-B", "B-T", "B-LT", "B-LTA"]


@pytest.fixture(scope="module")
def signed_by_level(
    pki: TestPki,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[Settings, bytes]]:
    """One file signed at each level (servers up)."""
    home = tmp_path_factory.mktemp("levels") / "home"
    made = {}
    for level in LEVELS:
        settings = settings_for(pki, home, level=level)
        made[level] = (settings, sign_pdf(make_pdf(text=level), settings).data)
    return made


@pytest.mark.parametrize("level", LEVELS)
def test_every_level_signs_and_validates(
    signed_by_level: dict[str, tuple[Settings, bytes]], level: str
) -> None:
    settings, data = signed_by_level[level]
    [report] = verify_pdf(data, settings)
    assert report.level == level
    assert report.ok and report.intact and report.valid and report.trusted
    assert (report.timestamp_at is not None) == (level != "B-B")
    assert report.revocation_checked == (level in ("B-LT", "B-LTA"))
    assert report.lta_indication == ("PASSED/OK" if level == "B-LTA" else "")
    expected = "NONE" if level in ("B-B", "B-T") else "LTA_UPDATES"
    assert report.modification_level == expected
    assert f"level {level}" in report.summary_en and f"mức {level}" in report.summary_vi


def test_auto_level_is_b_lta_with_a_tsa_and_b_b_without(
    pki: TestPki,
    tmp_path: Path,
) -> None:
    settings = settings_for(pki, tmp_path / "home")
    assert sign_pdf(make_pdf(), settings).level == "B-LTA"
    plain = replace(settings, sign_tsa_url="")
    assert sign_pdf(make_pdf(), plain).level == "B-B"


def test_b_lta_validates_offline_with_servers_stopped(
    signed_by_level: dict[str, tuple[Settings, bytes]],
    pki: TestPki,
) -> None:
    pki.stop()
    try:
        settings, data = signed_by_level["B-LTA"]
        [report] = verify_pdf(data, settings)
        assert report.ok and report.revocation_checked
        assert report.lta_indication == "PASSED/OK"
        # B-T has no embedded revocation data: offline it cannot be checked.
        settings, data = signed_by_level["B-T"]
        [report] = verify_pdf(data, settings)
        assert report.trusted and not report.revocation_checked
        assert "revocation not checked" in report.summary_en
    finally:
        pki.start()


def test_unreachable_tsa_fails_the_job_and_never_downgrades(
    pki: TestPki,
    tmp_path: Path,
) -> None:
    for level in ("B-T", "B-LTA"):
        settings = settings_for(pki, tmp_path / "home", level=level)
        dead = replace(settings, sign_tsa_url="http://127.0.0.1:9/tsa")
        with pytest.raises(SigningUnavailableError) as caught:
            sign_pdf(make_pdf(), dead)
        assert caught.value.code == "sign.unavailable" and caught.value.transient


def test_revocation_servers_down_fail_b_lt_for_retry(
    pki: TestPki,
    tmp_path: Path,
) -> None:
    settings = settings_for(pki, tmp_path / "home", level="B-LT")
    pki.stop()
    try:
        with pytest.raises(SigningUnavailableError) as caught:
            sign_pdf(make_pdf(), settings)
        assert caught.value.transient
    finally:
        pki.start()


def test_revoked_signer_is_refused(pki: TestPki, tmp_path: Path) -> None:
    settings = settings_for(pki, tmp_path / "home", signer="signer2")
    with pytest.raises(SigningError) as caught:
        sign_pdf(make_pdf(), settings)
    assert caught.value.code == "sign.cert_revoked"
    assert "Trần" not in caught.value.message


def test_revoked_signer_b_b_is_reported_revoked_online(
    pki: TestPki,
    tmp_path: Path,
) -> None:
    # B-B checks nothing at signing; verification online finds the revocation.
    settings = settings_for(pki, tmp_path / "home", signer="signer2", level="B-B")
    data = sign_pdf(make_pdf(), settings).data
    [offline] = verify_pdf(data, settings)
    assert not offline.revocation_checked
    [online] = verify_pdf(data, settings, online=True)
    assert online.revoked and not online.trusted and not online.ok
    assert "REVOKED" in online.summary_en and "THU HỒI" in online.summary_vi


def test_change_after_signing_is_detected(
    signed_by_level: dict[str, tuple[Settings, bytes]],
) -> None:
    settings, data = signed_by_level["B-LTA"]
    writer = IncrementalPdfFileWriter(BytesIO(data))
    TextStamp(writer, style=TextStampStyle(stamp_text="ĐÃ SỬA")).apply(0, 50, 50)
    out = BytesIO()
    writer.write(out)
    [report] = verify_pdf(out.getvalue(), settings)
    assert report.intact and not report.ok
    assert report.modification_level not in ("NONE", "LTA_UPDATES", "FORM_FILLING")
    assert report.changes == "the document was changed after signing"


def test_second_signature_keeps_the_first_valid(
    signed_by_level: dict[str, tuple[Settings, bytes]],
) -> None:
    settings, data = signed_by_level["B-LTA"]
    twice = sign_pdf(data, settings)
    assert twice.data.startswith(data)
    first, second = verify_pdf(twice.data, settings)
    assert first.ok and first.level == "B-LTA" and first.lta_indication == "PASSED/OK"
    assert second.ok and second.level == "B-LTA"


def test_hybrid_xref_pdf_is_normalised_before_signing(
    pki: TestPki,
    tmp_path: Path,
) -> None:
    from tests.unit.test_sign_normalize import hybrid_pdf

    settings = settings_for(pki, tmp_path / "home", level="B-T")
    source = hybrid_pdf()
    result = sign_pdf(source, settings)
    assert result.normalized and result.unsigned != source
    assert result.data.startswith(result.unsigned)
    assert hashlib.sha256(result.unsigned).hexdigest() == result.unsigned_sha256
    [report] = verify_pdf(result.data, settings)
    assert report.ok and report.level == "B-T"


def test_file_over_100_mb_signs_and_validates(
    pki: TestPki,
    tmp_path: Path,
) -> None:
    settings = settings_for(pki, tmp_path / "home", level="B-LTA")
    big = _big_pdf(101 * 1024 * 1024)
    assert len(big) > 100_000_000
    result = sign_pdf(big, settings)
    assert result.data[: len(big)] == big
    [report] = verify_pdf(result.data, settings)
    assert report.ok and report.level == "B-LTA"


def _big_pdf(size_bytes: int) -> bytes:
    """A one-page PDF carrying an incompressible, never-decoded stream."""
    pdf = pikepdf.new()
    pdf.add_blank_page()
    blob = pikepdf.Stream(pdf, _random_bytes(size_bytes))
    pdf.Root.BigAttachment = pdf.make_indirect(blob)
    out = BytesIO()
    pdf.save(out, compress_streams=False)
    return out.getvalue()


def _random_bytes(size: int) -> bytes:
    # SHA-256 counter stream: incompressible, fast, reproducible.
    seed = hashlib.sha256(b"digitize").digest()
    block = b"".join(
        hashlib.sha256(seed + i.to_bytes(4, "big")).digest() for i in range(2048)
    )
    return (block * (size // len(block) + 1))[:size]


# --- key sources ------------------------------------------------------------------


@pytest.mark.skipif(not has_softhsm(), reason="softhsm2 not installed")
def test_pkcs11_token_signs_with_softhsm(
    pki: TestPki,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = tmp_path_factory.mktemp("softhsm")
    SoftToken(folder).create(pki)
    monkeypatch.setenv("DIGITIZE_SIGN_PIN", PIN)
    base = settings_for(pki, folder / "home", level="B-LTA")
    settings = replace(
        base,
        sign_source="pkcs11",
        sign_pkcs12="",
        sign_pkcs11_module=str(MODULE),
        sign_pkcs11_token=TOKEN,
        sign_pkcs11_key_id=KEY_ID.hex(),
    )
    result = sign_pdf(make_pdf(text="token"), settings)
    [report] = verify_pdf(result.data, settings)
    assert report.ok and report.level == "B-LTA"
    assert "Nguy" in report.signer_subject


def test_pkcs11_missing_module_is_a_config_error(
    pki: TestPki,
    tmp_path: Path,
) -> None:
    settings = replace(
        settings_for(pki, tmp_path / "home", level="B-B"),
        sign_source="pkcs11",
        sign_pkcs11_module=str(tmp_path / "none.so"),
        sign_pkcs11_token=TOKEN,
        sign_pkcs11_key_id="01",
    )
    with pytest.raises(ConfigError) as caught:
        sign_pdf(make_pdf(), settings)
    assert caught.value.code == "config.sign_key"


@pytest.fixture
def remote(pki: TestPki):
    server = RemoteSignerServer(pki.key_der("signer1"))
    server.start()
    yield server
    server.stop()


def _remote_settings(
    pki: TestPki,
    home: Path,
    url: str,
    level: str = "B-LTA",
) -> Settings:
    chain = home.parent / "remote-chain.pem"
    chain.write_bytes(b"".join(pki.cert_pem(c) for c in ("signer1", "interm", "root")))
    return replace(
        settings_for(pki, home, level=level),
        sign_source="remote",
        sign_pkcs12="",
        sign_remote_url=url,
        sign_remote_cert=str(chain),
    )


def test_remote_signer_hook_signs(
    pki: TestPki,
    remote: RemoteSignerServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DIGITIZE_SIGN_REMOTE_TOKEN", remote.token)
    settings = _remote_settings(pki, tmp_path / "home", remote.url)
    result = sign_pdf(make_pdf(text="remote"), settings)
    [report] = verify_pdf(result.data, settings)
    assert report.ok and report.level == "B-LTA"
    assert remote.requests and remote.requests[0]["digest_algorithm"] == "sha256"


def test_remote_signer_failures_are_typed(
    pki: TestPki,
    remote: RemoteSignerServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = _remote_settings(pki, tmp_path / "home", remote.url, level="B-B")
    monkeypatch.setenv("DIGITIZE_SIGN_REMOTE_TOKEN", "wrong")
    with pytest.raises(SigningError) as caught:
        sign_pdf(make_pdf(), settings)
    assert caught.value.code == "sign.remote_refused"
    monkeypatch.setenv("DIGITIZE_SIGN_REMOTE_TOKEN", remote.token)
    remote.fail_with = 503
    with pytest.raises(SigningUnavailableError):
        sign_pdf(make_pdf(), settings)
    down = replace(settings, sign_remote_url="http://127.0.0.1:9/sign")
    with pytest.raises(SigningUnavailableError):
        sign_pdf(make_pdf(), down)
    public = replace(settings, sign_remote_url="http://signer.example/sign")
    with pytest.raises(ConfigError):
        sign_pdf(make_pdf(), public)
