"""Signing keys: development CA and signer, configured PKCS#12, passphrases, roots."""

from __future__ import annotations

import datetime as dt
import logging
import stat
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from digitize.config import Settings
from digitize.errors import ConfigError, SigningError
from digitize.keys import (
    DEV_ORGANIZATION,
    DevKeys,
    create_dev_keys,
    ensure_signing_key,
    read_dev_keys,
    trust_root_paths,
)
from tests.factories import self_signed

NOTICE_VI = "KHÔNG CÓ GIÁ TRỊ PHÁP LÝ"
NOTICE_EN = "NOT FOR LEGAL USE"


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> DevKeys:
    return create_dev_keys(tmp_path_factory.mktemp("dev") / "keys")


def _load_p12(dev: DevKeys):
    return pkcs12.load_key_and_certificates(
        dev.signer_p12.read_bytes(), dev.passphrase()
    )


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(home=tmp_path / "home", **values)  # type: ignore[arg-type]


def test_dev_keys_files_and_modes(dev: DevKeys) -> None:
    for path in (dev.root_pem, dev.signer_p12, dev.passphrase_file, dev.readme):
        assert path.is_file()
    assert stat.S_IMODE(dev.passphrase_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(dev.signer_p12.stat().st_mode) == 0o600
    readme = dev.readme.read_text(encoding="utf-8")
    assert NOTICE_EN in readme and NOTICE_VI in readme and "DEVELOPMENT" in readme
    assert len(dev.passphrase()) >= 24


def test_dev_p12_needs_its_passphrase(dev: DevKeys) -> None:
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(dev.signer_p12.read_bytes(), None)


def test_dev_certificates_say_not_for_legal_use(dev: DevKeys) -> None:
    key, signer, chain = _load_p12(dev)
    root = x509.load_pem_x509_certificate(dev.root_pem.read_bytes())
    assert [c.fingerprint(hashes.SHA256()) for c in chain] == [
        root.fingerprint(hashes.SHA256())
    ]
    for cert in (root, signer):
        cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        org = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
        assert NOTICE_VI in cn and NOTICE_EN in cn
        assert org == DEV_ORGANIZATION
        assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size >= 2048


def test_dev_signer_profile(dev: DevKeys) -> None:
    _, signer, _ = _load_p12(dev)
    root = x509.load_pem_x509_certificate(dev.root_pem.read_bytes())
    signer.verify_directly_issued_by(root)
    usage = signer.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment
    assert not usage.key_cert_sign
    assert not signer.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    root_basic = root.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert root_basic.ca
    now = dt.datetime.now(dt.UTC)
    assert signer.not_valid_before_utc <= now < signer.not_valid_after_utc


def test_create_dev_keys_never_overwrites(dev: DevKeys) -> None:
    before = dev.signer_p12.read_bytes()
    with pytest.raises(ConfigError) as caught:
        create_dev_keys(dev.directory)
    assert caught.value.code == "config.sign_key"
    assert "already exists" in caught.value.message
    assert dev.signer_p12.read_bytes() == before


def test_ensure_signing_key_creates_then_reuses(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    first = ensure_signing_key(settings)
    p12 = settings.keys / "signer.p12"
    made = p12.read_bytes()
    second = ensure_signing_key(settings)
    assert first.is_development and second.is_development
    assert first.trust_roots == (settings.keys / "root.pem",)
    assert p12.read_bytes() == made
    assert first.load_signer().signing_cert.dump() == (
        second.load_signer().signing_cert.dump()
    )


def test_ensure_signing_key_from_many_threads_makes_one_key(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    roots: list[bytes] = []

    def make() -> None:
        source = ensure_signing_key(settings)
        roots.append(source.trust_roots[0].read_bytes())

    threads = [threading.Thread(target=make) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(roots) == 4 and len(set(roots)) == 1
    assert [p.name for p in settings.keys.parent.iterdir()] == ["keys"]


def test_incomplete_dev_key_folder_is_reported(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    ensure_signing_key(settings)
    (settings.keys / "root.pem").unlink()
    with pytest.raises(ConfigError) as caught:
        ensure_signing_key(settings)
    assert caught.value.code == "config.sign_key"
    assert "root.pem" in caught.value.message


def test_configured_p12_with_passphrase_file(tmp_path: Path, dev: DevKeys) -> None:
    settings = _settings(
        tmp_path,
        sign_pkcs12=str(dev.signer_p12),
        sign_passphrase_file=str(dev.passphrase_file),
        sign_trust_roots=str(dev.root_pem),
    )
    source = ensure_signing_key(settings)
    assert not source.is_development
    assert source.trust_roots == (dev.root_pem,)
    assert NOTICE_EN in source.load_signer().signing_cert.subject.human_friendly
    assert not settings.keys.exists()


def test_configured_p12_with_passphrase_env(
    tmp_path: Path, dev: DevKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGITIZE_TEST_KEY_PASS", dev.passphrase().decode())
    settings = _settings(
        tmp_path,
        sign_pkcs12=str(dev.signer_p12),
        sign_passphrase_env="DIGITIZE_TEST_KEY_PASS",
        sign_trust_roots=str(dev.root_pem),
    )
    signer = ensure_signing_key(settings).load_signer()
    assert signer.signing_cert is not None


@pytest.mark.parametrize("secret", ["wrong-passphrase-Xy7", None])
def test_wrong_passphrase_is_clear_and_secret_free(
    tmp_path: Path,
    dev: DevKeys,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    secret: str | None,
) -> None:
    monkeypatch.delenv("DIGITIZE_TEST_KEY_PASS", raising=False)
    # The CLI's logging set-up stops propagation; caplog listens at the root.
    monkeypatch.setattr(logging.getLogger("digitize"), "propagate", True)
    if secret:
        monkeypatch.setenv("DIGITIZE_TEST_KEY_PASS", secret)
    settings = _settings(
        tmp_path,
        sign_pkcs12=str(dev.signer_p12),
        sign_passphrase_env="DIGITIZE_TEST_KEY_PASS",
        sign_trust_roots=str(dev.root_pem),
    )
    source = ensure_signing_key(settings)
    with caplog.at_level("DEBUG"), pytest.raises(ConfigError) as caught:
        source.load_signer()
    assert caught.value.code == "config.sign_key"
    assert "wrong passphrase" in caught.value.message
    assert "sign_passphrase_env" in caught.value.message
    shown = [caught.value.message, repr(caught.value), repr(source), caplog.text]
    for secret_text in filter(None, [secret, dev.passphrase().decode()]):
        assert not any(secret_text in text for text in shown)


def test_missing_passphrase_file(tmp_path: Path, dev: DevKeys) -> None:
    settings = _settings(
        tmp_path,
        sign_pkcs12=str(dev.signer_p12),
        sign_passphrase_file=str(tmp_path / "absent"),
        sign_trust_roots=str(dev.root_pem),
    )
    with pytest.raises(ConfigError) as caught:
        ensure_signing_key(settings)
    assert caught.value.code == "config.sign_passphrase"
    assert "sign_passphrase_file" in caught.value.message


def test_missing_p12_file(tmp_path: Path, dev: DevKeys) -> None:
    settings = _settings(
        tmp_path,
        sign_pkcs12=str(tmp_path / "absent.p12"),
        sign_trust_roots=str(dev.root_pem),
    )
    with pytest.raises(ConfigError) as caught:
        ensure_signing_key(settings).load_signer()
    assert caught.value.code == "config.sign_key"
    assert "sign_pkcs12" in caught.value.message


def test_configured_key_needs_trust_roots(tmp_path: Path, dev: DevKeys) -> None:
    settings = _settings(tmp_path, sign_pkcs12=str(dev.signer_p12))
    with pytest.raises(ConfigError) as caught:
        ensure_signing_key(settings)
    assert caught.value.code == "config.trust_roots"


def test_missing_trust_root_file(tmp_path: Path) -> None:
    settings = _settings(tmp_path, sign_trust_roots=f"{tmp_path}/nope.pem")
    for call in (ensure_signing_key, trust_root_paths):
        with pytest.raises(ConfigError) as caught:
            call(settings)
        assert caught.value.code == "config.trust_roots"
        assert "nope.pem" in caught.value.message


def test_trust_root_paths_never_creates_keys(tmp_path: Path, dev: DevKeys) -> None:
    settings = _settings(tmp_path)
    assert trust_root_paths(settings) == ()
    assert not settings.keys.exists()
    configured = _settings(tmp_path, sign_trust_roots=f" {dev.root_pem} ,")
    assert trust_root_paths(configured) == (dev.root_pem,)
    assert read_dev_keys(dev.directory) == dev


def test_expired_certificate_is_refused(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = self_signed(key, "expired test", days=(-30, -1))
    p12 = tmp_path / "expired.p12"
    p12.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"x", key, cert, None, serialization.BestAvailableEncryption(b"pw")
        )
    )
    (tmp_path / "pw").write_text("pw\n")
    (tmp_path / "root.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    settings = _settings(
        tmp_path,
        sign_pkcs12=str(p12),
        sign_passphrase_file=str(tmp_path / "pw"),
        sign_trust_roots=str(tmp_path / "root.pem"),
    )
    with pytest.raises(SigningError) as caught:
        ensure_signing_key(settings).load_signer()
    assert caught.value.code == "sign.cert_expired"
    assert "expired on" in caught.value.message
