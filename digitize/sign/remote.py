"""Remote signer hook: the private key stays in a signing service; we send a digest.

Protocol (one JSON request per signature): POST `sign_remote_url` with
`{"digest_algorithm": "sha256", "digest": <base64>, "certificate_sha256": <hex>}`
and an optional bearer token; the service answers `{"signature": <base64>}`, an RSA
PKCS#1 v1.5 signature over the digest. The certificate and chain come from a local
PEM file (`sign_remote_cert`), and every returned signature is checked against that
certificate before it goes into a PDF.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from asn1crypto import algos
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from pyhanko.keys import load_certs_from_pemder
from pyhanko.sign.signers import Signer
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from digitize.errors import ConfigError, SigningError, SigningUnavailableError
from digitize.keys import KeySource
from digitize.sign.profile import is_loopback_url

__all__ = ["RemoteKeySource", "RemoteSigner"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RemoteKeySource(KeySource):
    """A key held by a remote signing service."""

    url: str
    """The service endpoint."""

    cert_file: Path
    """PEM: the key's certificate first, then its chain."""

    trust_roots: tuple[Path, ...]
    """PEM files of the roots the new signature must validate against."""

    timeout_s: float = 20.0
    """Per request."""

    token: str | None = field(default=None, repr=False)
    """Bearer token; never printed."""

    is_development: bool = False
    """A remote service is never the development key."""

    def where(self) -> str:  # noqa: D102 - KeySource
        return f"remote signer {self.url}"

    @property
    def cache_key(self) -> tuple[object, ...]:
        """URL, certificate file identity and a token digest."""
        try:
            stat = self.cert_file.stat()
        except OSError:
            return ("remote", self.url, str(self.cert_file), None)
        digest = hashlib.sha256((self.token or "").encode()).digest()
        return ("remote", self.url, stat.st_mtime_ns, stat.st_size, digest)

    def load_signer(self) -> RemoteSigner:
        """Read the certificate chain; the service is first contacted at signing.

        Raises:
            ConfigError: the URL is not https (or http on loopback), or the
                certificate file is missing, empty or not RSA.
        """
        if not self.url.startswith("https://") and not (
            self.url.startswith("http://") and is_loopback_url(self.url)
        ):
            raise ConfigError(
                "sign_remote_url must be https://, or http:// on 127.0.0.1/localhost "
                "(digests and tokens must not cross a network in clear)",
                code="config.sign_remote",
            )
        try:
            certs = list(load_certs_from_pemder([self.cert_file]))
        except (OSError, ValueError) as err:
            raise ConfigError(
                f"cannot read sign_remote_cert {self.cert_file}: {err}",
                code="config.sign_remote",
            ) from err
        if not certs:
            raise ConfigError(
                f"sign_remote_cert {self.cert_file} holds no certificate",
                code="config.sign_remote",
            )
        return RemoteSigner(
            url=self.url,
            signing_cert=certs[0],
            chain=certs[1:],
            timeout_s=self.timeout_s,
            token=self.token,
        )


class RemoteSigner(Signer):
    """A pyHanko signer that asks the remote service for each raw signature."""

    def __init__(
        self,
        *,
        url: str,
        signing_cert: Any,
        chain: list[Any],
        timeout_s: float,
        token: str | None,
    ) -> None:
        """Keep the endpoint and certificates; check the key is RSA."""
        public = x509.load_der_x509_certificate(signing_cert.dump()).public_key()
        # LIMITATION: the remote protocol carries RSA PKCS#1 v1.5 only -> an ECDSA or
        # PSS service is refused with config.sign_remote.
        if not isinstance(public, rsa.RSAPublicKey):
            raise ConfigError(
                "the remote signer's certificate must hold an RSA key (PKCS#1 v1.5)",
                code="config.sign_remote",
            )
        super().__init__(
            signing_cert=signing_cert,
            cert_registry=SimpleCertificateStore.from_certs(chain),
            signature_mechanism=algos.SignedDigestAlgorithm(
                {"algorithm": "sha256_rsa"}
            ),
        )
        self._public = public
        self._url = url
        self._timeout_s = timeout_s
        self._token = token

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        """Hash `data`, have the service sign the digest, check the answer."""
        size = (self._public.key_size + 7) // 8
        if dry_run:
            return bytes(size)
        hash_algo = get_pyca_cryptography_hash(digest_algorithm)
        digest = hashlib.new(digest_algorithm, data).digest()
        signature = await self._request(digest_algorithm, digest)
        try:
            self._public.verify(
                signature, digest, padding.PKCS1v15(), utils.Prehashed(hash_algo)
            )
        except InvalidSignature as err:
            raise SigningError(
                "the remote signer returned a signature that does not match "
                "sign_remote_cert; check that the certificate belongs to its key",
                code="sign.remote_mismatch",
            ) from err
        return signature

    async def _request(self, digest_algorithm: str, digest: bytes) -> bytes:
        cert_sha256 = hashlib.sha256(self.signing_cert.dump()).hexdigest()
        body = {
            "digest_algorithm": digest_algorithm,
            "digest": base64.b64encode(digest).decode(),
            "certificate_sha256": cert_sha256,
        }
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        timeout = aiohttp.ClientTimeout(total=self._timeout_s)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.post(self._url, json=body, headers=headers) as response,
            ):
                if response.status >= 500:
                    raise SigningUnavailableError(
                        f"the remote signer answered HTTP {response.status}; the file "
                        "is kept for a later retry"
                    )
                if response.status != 200:
                    raise SigningError(
                        f"the remote signer refused the request (HTTP "
                        f"{response.status}); check sign_remote_url and its token",
                        code="sign.remote_refused",
                    )
                answer = await response.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError) as err:
            raise SigningUnavailableError(
                f"the remote signer could not be reached ({type(err).__name__}); "
                "the file is kept for a later retry"
            ) from err
        return _decode_signature(answer)


def _decode_signature(answer: object) -> bytes:
    value = answer.get("signature") if isinstance(answer, dict) else None
    try:
        if not isinstance(value, str):
            raise ValueError("no signature")
        return base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error) as err:
        raise SigningError(
            "the remote signer's answer has no base64 'signature' field",
            code="sign.remote_bad_answer",
        ) from err
