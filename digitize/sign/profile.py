"""Signing profiles: which PAdES baseline level to make and with which services.

Takes the settings, gives a `SignProfile`: B-B without a timestamp authority, B-T with
one, B-LT / B-LTA when revocation data is fetched and embedded as well (B-LTA is the
default once a TSA is configured). A configured service that cannot be reached fails
the job (`SigningUnavailableError`); the level is never lowered silently.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from asn1crypto import x509 as asn1_x509
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import (
    InsufficientRevinfoError,
    PathValidationError,
    RevokedError,
)
from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend
from pyhanko_certvalidator.fetchers.api import OwnedFetcherBackend

from digitize.config import Settings
from digitize.errors import ConfigError, SigningError, SigningUnavailableError

__all__ = [
    "LEVELS",
    "SignProfile",
    "is_loopback_url",
    "resolve_profile",
    "signing_error_from",
]

log = logging.getLogger(__name__)

LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")
_AUTO = "auto"
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class SignProfile:
    """The PAdES level to reach and the services it needs."""

    level: str
    """B-B, B-T, B-LT or B-LTA."""

    tsa_url: str
    """Timestamp authority; empty for B-B."""

    timeout_s: float
    """Per request to the TSA and to revocation services."""

    @property
    def has_timestamp(self) -> bool:
        """B-T and above carry a signature timestamp."""
        return self.level != "B-B"

    @property
    def embeds_revocation(self) -> bool:
        """B-LT and B-LTA embed OCSP/CRL data in the document security store."""
        return self.level in ("B-LT", "B-LTA")

    @property
    def archive_timestamp(self) -> bool:
        """B-LTA adds a document timestamp over the validation data."""
        return self.level == "B-LTA"

    def timestamper(self) -> TimeStamper | None:
        """The RFC 3161 client, or None for B-B."""
        if not self.has_timestamp:
            return None
        return HTTPTimeStamper(self.tsa_url, timeout=round(self.timeout_s))

    def validation_context(
        self, roots: tuple[asn1_x509.Certificate, ...]
    ) -> ValidationContext | None:
        """Context that fetches and requires revocation data (B-LT and up), else None.

        pyHanko then validates the signer's chain before signing: a revoked signer is
        refused instead of signed.
        """
        if not self.embeds_revocation:
            return None
        return ValidationContext(
            trust_roots=list(roots),
            allow_fetching=True,
            revocation_mode="require",
            fetcher_backend=_fetcher_backend(self.timeout_s),
        )


def _fetcher_backend(timeout_s: float) -> OwnedFetcherBackend:
    # Owned: the context's aclose() then closes the backend's aiohttp session.
    return OwnedFetcherBackend(
        AIOHttpFetcherBackend(per_request_timeout=round(timeout_s))
    )


def resolve_profile(settings: Settings) -> SignProfile:
    """The profile `settings` ask for.

    Raises:
        ConfigError: unknown level, a level that needs a TSA without `sign_tsa_url`,
            or a TSA URL that is not http(s).
    """
    level = settings.sign_level.strip().upper() if settings.sign_level else _AUTO
    tsa_url = settings.sign_tsa_url.strip()
    if level == _AUTO.upper():
        level = "B-LTA" if tsa_url else "B-B"
    if level not in LEVELS:
        raise ConfigError(
            f"setting 'sign_level' is {settings.sign_level!r}; allowed: auto, "
            + ", ".join(LEVELS),
            code="config.sign_level",
        )
    if level != "B-B" and not tsa_url:
        raise ConfigError(
            f"sign_level {level} needs a timestamp authority; set sign_tsa_url "
            "or choose B-B",
            code="config.sign_level",
        )
    if tsa_url and urlsplit(tsa_url).scheme not in ("http", "https"):
        raise ConfigError(
            "setting 'sign_tsa_url' must be an http:// or https:// URL",
            code="config.sign_tsa",
        )
    return SignProfile(
        level=level,
        tsa_url=tsa_url if level != "B-B" else "",
        timeout_s=settings.sign_network_timeout_s,
    )


def is_loopback_url(url: str) -> bool:
    """True for http(s) URLs whose host is 127.0.0.1, ::1 or localhost."""
    return (urlsplit(url).hostname or "") in _LOOPBACK_HOSTS


_NETWORK_ERRORS = (
    TimestampRequestError,
    aiohttp.ClientError,
    asyncio.TimeoutError,
    ConnectionError,
)


def signing_error_from(err: BaseException) -> SigningError:
    """Our error for a failure inside pyHanko's signing, by what caused it.

    A service that could not be reached gives `SigningUnavailableError` (transient);
    a revoked or untrusted signer gives `SigningError` with its own code.
    """
    chain = list(_causes(err))
    if any(isinstance(e, RevokedError) for e in chain):
        return SigningError(
            "the signing certificate is revoked according to its CA; "
            "replace the key before signing again",
            code="sign.cert_revoked",
        )
    if any(isinstance(e, _NETWORK_ERRORS) for e in chain):
        return SigningUnavailableError(
            "the timestamp authority could not be reached or refused the request "
            f"({_short(chain)}); the file is kept for a later retry",
        )
    if any(isinstance(e, InsufficientRevinfoError) for e in chain):
        # With fetching on, missing revocation data means the OCSP responder or CRL
        # server did not answer (or the certificate names none: see the message).
        return SigningUnavailableError(
            "no revocation information could be obtained for the signing "
            "certificate's chain: its OCSP responder or CRL server did not answer "
            "(or the certificate names none); the file is kept for a later retry",
        )
    if any(isinstance(e, PathValidationError) for e in chain):
        return SigningError(
            "the signing certificate could not be validated against "
            f"sign_trust_roots ({_short(chain)}); check the roots and the chain",
            code="sign.cert_untrusted",
        )
    return SigningError(
        f"pyHanko could not sign the PDF ({_short(chain)})", code="sign.failed"
    )


def _causes(err: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = err
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return seen


def _short(chain: list[BaseException]) -> str:
    # The innermost cause names the real problem (refused connection, HTTP status).
    last = chain[-1]
    return f"{type(last).__name__}: {str(last)[:160]}"
