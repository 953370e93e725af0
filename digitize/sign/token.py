"""PKCS#11 key source: the agency's key on a token or HSM, chosen by CKA_ID.

Takes the module path, token label, key and certificate ids and the PIN (from the
environment), gives a pyHanko signer that keeps one session open per process. Keys
are selected by id rather than label: token labels often differ between the key and
its certificate (pyHanko issue #457).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from pkcs11 import exceptions as p11_errors
from pyhanko.config.pkcs11 import TokenCriteria
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.pkcs11 import PKCS11Signer, open_pkcs11_session
from pyhanko.sign.signers import Signer

from digitize.errors import ConfigError, SigningUnavailableError
from digitize.keys import KeySource

__all__ = ["Pkcs11KeySource"]

log = logging.getLogger(__name__)

# One PKCS#11 session per (module, token, PIN) per process; modules allow one login.
_sessions_lock = threading.Lock()
_sessions: dict[tuple[object, ...], object] = {}


@dataclass(frozen=True)
class Pkcs11KeySource(KeySource):
    """A private key and its certificate on a PKCS#11 token or HSM."""

    module: Path
    """The vendor's PKCS#11 module (.so)."""

    token_label: str
    """Label of the token holding the key."""

    key_id: bytes
    """CKA_ID of the private key."""

    cert_id: bytes
    """CKA_ID of the signing certificate (usually the key's id)."""

    trust_roots: tuple[Path, ...]
    """PEM files of the roots the new signature must validate against."""

    pin: str | None = field(default=None, repr=False)
    """User PIN; never printed."""

    is_development: bool = False
    """Tokens are never the development key."""

    def where(self) -> str:  # noqa: D102 - KeySource
        return f"PKCS#11 token {self.token_label!r} ({self.module})"

    @property
    def cache_key(self) -> tuple[object, ...]:
        """Module, token, ids and a PIN digest."""
        secret = hashes.Hash(hashes.SHA256())
        secret.update((self.pin or "").encode())
        return (
            "pkcs11",
            str(self.module),
            self.token_label,
            self.key_id,
            self.cert_id,
            secret.finalize(),
        )

    def load_signer(self) -> Signer:
        """Open (once) a session on the token and select the key and certificate.

        Raises:
            ConfigError: the module, the key or the certificate is missing, or the
                PIN is wrong.
            SigningUnavailableError: the token is not present (unplugged, HSM down).
        """
        if not self.module.is_file():
            raise ConfigError(
                f"PKCS#11 module {self.module} does not exist; check "
                "sign_pkcs11_module",
                code="config.sign_key",
            )
        if self.pin is None:
            raise ConfigError(
                f"no PIN for token {self.token_label!r}: set the environment variable "
                "named by sign_pkcs11_pin_env",
                code="config.sign_pin",
            )
        session = self._session()
        try:
            signer = _LockedPkcs11Signer(
                session,  # type: ignore[arg-type]
                key_id=self.key_id,
                cert_id=self.cert_id,
                other_certs_to_pull=None,
                bulk_fetch=False,
            )
            signer.signing_cert  # noqa: B018 - fetches the certificate now
        except (
            p11_errors.PKCS11Error,
            PyHankoSigningError,
            StopIteration,
            KeyError,
        ) as err:
            raise ConfigError(
                f"no key/certificate with id {self.key_id.hex()}/"
                f"{self.cert_id.hex()} on token {self.token_label!r} "
                f"({type(err).__name__}); check sign_pkcs11_key_id and "
                "sign_pkcs11_cert_id",
                code="config.sign_key",
            ) from err
        return signer

    def _session(self) -> object:
        # LIMITATION: the PIN comes only from the environment (sign_pkcs11_pin_env);
        # tokens that ask for it on their own PIN pad are not supported -> without a
        # PIN the key source refuses to start (config.sign_pin).
        key = self.cache_key[:3] + self.cache_key[5:]
        with _sessions_lock:
            if key in _sessions:
                return _sessions[key]
            try:
                session = open_pkcs11_session(
                    str(self.module),
                    token_criteria=TokenCriteria(label=self.token_label),
                    user_pin=self.pin,
                )
            except p11_errors.PinIncorrect as err:
                raise ConfigError(
                    f"the PIN for token {self.token_label!r} was refused; check the "
                    "variable named by sign_pkcs11_pin_env",
                    code="config.sign_pin",
                ) from err
            except (PyHankoSigningError, p11_errors.PKCS11Error) as err:
                raise SigningUnavailableError(
                    f"PKCS#11 token {self.token_label!r} is not available "
                    f"({type(err).__name__}); plug it in or check the HSM, the file "
                    "is kept for a later retry",
                ) from err
            _sessions[key] = session
            log.info("opened a PKCS#11 session on the signing token")
            return session


class _LockedPkcs11Signer(PKCS11Signer):
    """PKCS11Signer whose signing calls take turns: one session, many threads."""

    _lock = threading.Lock()

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        """Sign on the token, one operation at a time."""
        if dry_run:
            return await super().async_sign_raw(data, digest_algorithm, True)
        with self._lock:
            return await super().async_sign_raw(data, digest_algorithm, False)
