"""Signing keys for the sign stage: where the key comes from, and development keys.

Takes the settings, gives a `KeySource` that loads a pyHanko signer and names the trust
roots to validate against. With no key configured, a throwaway development CA and signer
are made under `settings.keys`; they carry no legal value and say so in every name.
"""

from __future__ import annotations

import abc
import datetime as dt
import logging
import os
import secrets
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from pyhanko.sign.signers import Signer, SimpleSigner

from digitize.config import Settings
from digitize.errors import ConfigError, SigningError

__all__ = [
    "DEV_ORGANIZATION",
    "DevKeys",
    "KeySource",
    "Pkcs12KeySource",
    "create_dev_keys",
    "ensure_signing_key",
    "read_dev_keys",
    "trust_root_paths",
]

log = logging.getLogger(__name__)

DEV_ORGANIZATION = "UBND huyện Đức Cơ (thử nghiệm)"
_DEV_NOTICE = "KHÔNG CÓ GIÁ TRỊ PHÁP LÝ / NOT FOR LEGAL USE"
# RFC 5280 caps a common name at 64 characters (cryptography counts UTF-8 bytes).
_DEV_SIGNER_CN = f"DEV signer - {_DEV_NOTICE}"
_DEV_ROOT_CN = f"DEV CA - {_DEV_NOTICE}"
_DEV_UNIT = "digitize development key"
_DEV_ROOT_DAYS = 3650
# Decree 23/2025 limits public signing certificates to 3 years; the dev one mimics that.
_DEV_SIGNER_DAYS = 3 * 365
_RSA_BITS = 3072
_ROOT_FILE = "root.pem"
_P12_FILE = "signer.p12"
_PASSPHRASE_FILE = "passphrase"
_README_FILE = "README.txt"
_README = """\
DEVELOPMENT SIGNING KEY - KHÔNG CÓ GIÁ TRỊ PHÁP LÝ / NOT FOR LEGAL USE

digitize made these files because no signing key was configured (sign_pkcs12 empty).
Signatures made with them prove nothing in law: the root below is self-made and
trusted by no one but this installation.

  root.pem     development root CA certificate (its private key was discarded)
  signer.p12   signer certificate and private key, PKCS#12, passphrase protected
  passphrase   the PKCS#12 passphrase (mode 0600)

For legal use, set sign_pkcs12 to the agency's organisation certificate, the
passphrase through sign_passphrase_env or sign_passphrase_file, and sign_trust_roots
to the issuing CA's root (NEAC or the Government Cipher Committee).
"""

_dev_keys_lock = threading.Lock()


@dataclass(frozen=True)
class DevKeys:
    """Files of a development key pair, all in one folder."""

    directory: Path
    root_pem: Path
    signer_p12: Path
    passphrase_file: Path
    readme: Path

    def passphrase(self) -> bytes:
        """The PKCS#12 passphrase."""
        return self.passphrase_file.read_bytes().strip()


class KeySource(abc.ABC):
    """Where the signing key lives: loads a pyHanko signer and names the trust roots.

    `Pkcs12KeySource` (a file), `digitize.sign.token.Pkcs11KeySource` (a token or
    HSM) and `digitize.sign.remote.RemoteKeySource` (a signing service), chosen by
    the setting `sign_source`.
    """

    trust_roots: tuple[Path, ...]
    """PEM files of the roots the new signature must validate against."""

    is_development: bool
    """True for the throwaway development key."""

    def __str__(self) -> str:
        """Where the key is, for people (never a secret)."""
        note = " (development key: no legal value)" if self.is_development else ""
        return self.where() + note

    def where(self) -> str:
        """The key's place in words."""
        return type(self).__name__

    @property
    @abc.abstractmethod
    def cache_key(self) -> tuple[object, ...]:
        """Changes whenever `load_signer` would give a different signer."""

    @abc.abstractmethod
    def load_signer(self) -> Signer:
        """Load the key and its certificate chain.

        Raises:
            ConfigError: the key cannot be opened (missing, wrong passphrase).
            SigningError: the certificate is expired or not yet valid.
        """


@dataclass(frozen=True)
class Pkcs12KeySource(KeySource):
    """A key and certificate chain in a passphrase-protected PKCS#12 file."""

    path: Path
    """The .p12 / .pfx file."""

    trust_roots: tuple[Path, ...]
    """PEM files of the roots the new signature must validate against."""

    passphrase: bytes | None = field(default=None, repr=False)
    """The PKCS#12 passphrase; never printed."""

    is_development: bool = False
    """True for the throwaway development key."""

    def where(self) -> str:  # noqa: D102 - KeySource
        return f"PKCS#12 file {self.path}"

    @property
    def cache_key(self) -> tuple[object, ...]:
        """File identity and passphrase digest: a changed file or secret reloads."""
        try:
            stat = self.path.stat()
        except OSError:
            return (str(self.path), None)
        secret = hashes.Hash(hashes.SHA256())
        secret.update(self.passphrase or b"")
        return (str(self.path), stat.st_mtime_ns, stat.st_size, secret.finalize())

    def load_signer(self) -> SimpleSigner:
        """Open the PKCS#12 file and check the signer certificate's validity dates."""
        try:
            data = self.path.read_bytes()
        except OSError as err:
            raise ConfigError(
                f"cannot read the signing key {self.path} ({err.strerror}); "
                "check the setting sign_pkcs12",
                code="config.sign_key",
            ) from err
        try:
            loaded: SimpleSigner = SimpleSigner.load_pkcs12_data(
                data, [], self.passphrase
            )
        except ValueError as err:
            raise ConfigError(
                f"cannot open the signing key {self.path}: wrong passphrase or not a "
                "PKCS#12 file; check sign_passphrase_env / sign_passphrase_file",
                code="config.sign_key",
            ) from err
        _check_validity_dates(loaded, self.path)
        return loaded


def _check_validity_dates(signer: SimpleSigner, path: Path) -> None:
    cert = signer.signing_cert
    if cert is None:
        raise ConfigError(
            f"the signing key {path} holds no certificate", code="config.sign_key"
        )
    now = dt.datetime.now(dt.UTC)
    not_before = cert.not_valid_before
    not_after = cert.not_valid_after
    if now > not_after:
        raise SigningError(
            f"the signing certificate in {path} expired on {not_after:%Y-%m-%d}; "
            "renew it, or for the development key delete its folder to make a new one",
            code="sign.cert_expired",
        )
    if now < not_before:
        raise SigningError(
            f"the signing certificate in {path} is valid only from "
            f"{not_before:%Y-%m-%d}; check the system clock",
            code="sign.cert_not_yet_valid",
        )


def ensure_signing_key(settings: Settings) -> KeySource:
    """The configured signing key, or the development key (made on first use).

    Raises:
        ConfigError: an unknown `sign_source`, a configured file is missing or its
            passphrase unreadable, or a token or remote setting is missing.
    """
    source = settings.sign_source.strip().lower()
    if source == "pkcs11":
        return _pkcs11_source(settings)
    if source == "remote":
        return _remote_source(settings)
    if source != "pkcs12":
        raise ConfigError(
            f"setting 'sign_source' is {settings.sign_source!r}; allowed: pkcs12, "
            "pkcs11, remote",
            code="config.sign_source",
        )
    if settings.sign_pkcs12:
        return Pkcs12KeySource(
            path=Path(settings.sign_pkcs12),
            trust_roots=_configured_roots(settings, dev_root=None),
            passphrase=_configured_passphrase(settings),
        )
    roots = _configured_roots(settings, dev_root=read_dev_keys(settings.keys).root_pem)
    dev = _ensure_dev_keys(settings.keys)
    return Pkcs12KeySource(
        path=dev.signer_p12,
        trust_roots=roots,
        passphrase=dev.passphrase(),
        is_development=True,
    )


def _pkcs11_source(settings: Settings) -> KeySource:
    from digitize.sign.token import Pkcs11KeySource

    _require(settings, "sign_pkcs11_module", "sign_pkcs11_token", "sign_pkcs11_key_id")
    key_id = _hex_id(settings.sign_pkcs11_key_id, "sign_pkcs11_key_id")
    cert_id = _hex_id(settings.sign_pkcs11_cert_id, "sign_pkcs11_cert_id") or key_id
    return Pkcs11KeySource(
        module=Path(settings.sign_pkcs11_module),
        token_label=settings.sign_pkcs11_token,
        key_id=key_id,
        cert_id=cert_id,
        trust_roots=_configured_roots(settings, dev_root=None),
        pin=os.environ.get(settings.sign_pkcs11_pin_env) or None,
    )


def _remote_source(settings: Settings) -> KeySource:
    from digitize.sign.remote import RemoteKeySource

    _require(settings, "sign_remote_url", "sign_remote_cert")
    return RemoteKeySource(
        url=settings.sign_remote_url.strip(),
        cert_file=Path(settings.sign_remote_cert),
        trust_roots=_configured_roots(settings, dev_root=None),
        timeout_s=settings.sign_network_timeout_s,
        token=os.environ.get(settings.sign_remote_token_env) or None,
    )


def _require(settings: Settings, *names: str) -> None:
    missing = [name for name in names if not str(getattr(settings, name)).strip()]
    if missing:
        raise ConfigError(
            f"sign_source {settings.sign_source} needs the setting(s) "
            f"{', '.join(missing)}",
            code="config.sign_source",
        )


def _hex_id(value: str, name: str) -> bytes:
    try:
        return bytes.fromhex(value.strip().removeprefix("0x"))
    except ValueError as err:
        raise ConfigError(
            f"setting '{name}' must be hexadecimal (a CKA_ID such as 01 or a1b2)",
            code="config.sign_source",
        ) from err


def trust_root_paths(settings: Settings) -> tuple[Path, ...]:
    """Roots to verify against: `sign_trust_roots`, else the dev root if one exists.

    Never creates keys, and never falls back to the operating system's trust store.

    Raises:
        ConfigError: a root file named in `sign_trust_roots` does not exist.
    """
    if settings.sign_trust_roots.strip():
        return _configured_roots(settings, dev_root=None)
    dev_root = read_dev_keys(settings.keys).root_pem
    return (dev_root,) if dev_root.is_file() else ()


def _configured_passphrase(settings: Settings) -> bytes | None:
    try:
        return settings.passphrase()
    except OSError as err:
        raise ConfigError(
            f"cannot read the passphrase file {settings.sign_passphrase_file} "
            f"({err.strerror}); check the setting sign_passphrase_file",
            code="config.sign_passphrase",
        ) from err


def _configured_roots(settings: Settings, dev_root: Path | None) -> tuple[Path, ...]:
    names = [n.strip() for n in settings.sign_trust_roots.split(",") if n.strip()]
    if not names:
        if dev_root is None:
            raise ConfigError(
                "a signing key is configured but sign_trust_roots is empty; set it to "
                "the PEM file of the root CA that issued the signing certificate",
                code="config.trust_roots",
            )
        return (dev_root,)
    roots = tuple(Path(n) for n in names)
    for root in roots:
        if not root.is_file():
            raise ConfigError(
                f"trust root {root} named in sign_trust_roots does not exist",
                code="config.trust_roots",
            )
    return roots


def read_dev_keys(directory: Path) -> DevKeys:
    """The development key files in `directory` (not checked for existence)."""
    return DevKeys(
        directory=directory,
        root_pem=directory / _ROOT_FILE,
        signer_p12=directory / _P12_FILE,
        passphrase_file=directory / _PASSPHRASE_FILE,
        readme=directory / _README_FILE,
    )


def _ensure_dev_keys(directory: Path) -> DevKeys:
    with _dev_keys_lock:
        dev = read_dev_keys(directory)
        if dev.signer_p12.exists():
            _check_dev_keys_complete(dev)
            return dev
        # Build in a sibling folder, then rename: another process starting at the
        # same moment either wins the rename or finds a complete folder.
        directory.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".keys-", dir=directory.parent))
        create_dev_keys(staging)
        try:
            staging.rename(directory)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            _check_dev_keys_complete(dev)
            return dev
        log.warning("created a development signing key; it has no legal value")
        return dev


def _check_dev_keys_complete(dev: DevKeys) -> None:
    for path in (dev.root_pem, dev.signer_p12, dev.passphrase_file):
        if not path.is_file():
            raise ConfigError(
                f"the development key folder {dev.directory} lacks {path.name}; "
                "delete the folder to have a new development key made",
                code="config.sign_key",
            )


def create_dev_keys(
    directory: Path, *, organization: str = DEV_ORGANIZATION
) -> DevKeys:
    """Make a development root CA and signer, and write them into `directory`.

    The root's private key is not kept. Existing files are never overwritten.

    Raises:
        ConfigError: a key file already exists in `directory`.
    """
    dev = read_dev_keys(directory)
    for path in (dev.passphrase_file, dev.signer_p12, dev.root_pem, dev.readme):
        if path.exists():
            raise ConfigError(
                f"{path} already exists; not overwriting key material",
                code="config.sign_key",
            )
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    root_key = _new_rsa_key()
    root_cert = _build_root(root_key, organization, now)
    signer_key = _new_rsa_key()
    signer_cert = _build_signer(signer_key, root_key, root_cert, now)

    passphrase = secrets.token_urlsafe(24).encode()
    p12 = pkcs12.serialize_key_and_certificates(
        name=b"digitize-dev-signer",
        key=signer_key,
        cert=signer_cert,
        cas=[root_cert],
        encryption_algorithm=serialization.BestAvailableEncryption(passphrase),
    )
    _write_new(dev.passphrase_file, passphrase + b"\n", mode=0o600)
    _write_new(dev.signer_p12, p12, mode=0o600)
    _write_new(dev.root_pem, root_cert.public_bytes(serialization.Encoding.PEM))
    _write_new(dev.readme, _README.encode("utf-8"))
    return dev


def _write_new(path: Path, data: bytes, mode: int = 0o644) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError as err:
        raise ConfigError(
            f"{path} already exists; not overwriting key material",
            code="config.sign_key",
        ) from err
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=_RSA_BITS)


def _dev_name(common_name: str, organization: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, _DEV_UNIT),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _build_root(
    key: rsa.RSAPrivateKey, organization: str, now: dt.datetime
) -> x509.Certificate:
    name = _dev_name(_DEV_ROOT_CN, organization)
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=_DEV_ROOT_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), False)
        .sign(key, hashes.SHA256())
    )


def _build_signer(
    key: rsa.RSAPrivateKey,
    issuer_key: rsa.RSAPrivateKey,
    issuer: x509.Certificate,
    now: dt.datetime,
) -> x509.Certificate:
    organization = issuer.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(_dev_name(_DEV_SIGNER_CN, str(organization[0].value)))
        .issuer_name(issuer.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=_DEV_SIGNER_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
        .add_extension(
            _key_usage(digital_signature=True, content_commitment=True), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            False,
        )
        .sign(issuer_key, hashes.SHA256())
    )


def _key_usage(**flags: bool) -> x509.KeyUsage:
    """KeyUsage with only `flags` set (content_commitment is nonRepudiation)."""
    names = (
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    )
    return x509.KeyUsage(**{n: flags.get(n, False) for n in names})
