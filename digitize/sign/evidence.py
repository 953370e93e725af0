"""Validation runs over one embedded signature, with the trust roots we were given.

Three pyHanko runs, each with an explicit trust list (never the system store):
revocation required from the document's own validation data (and, when asked, fetched
online); the same without revocation (soft-fail) when no data exists; and the AdES
long-term algorithm (ETSI EN 319 102-1) for files carrying archive timestamps.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.ades import ades_lta_validation
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.errors import NoDSSFoundError
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.policy_decl import (
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko.sign.validation.status import PdfSignatureStatus
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager

__all__ = [
    "Evidence",
    "archive_timestamps_after",
    "gather_evidence",
    "lta_indication",
]

log = logging.getLogger(__name__)

Roots = tuple[asn1_x509.Certificate, ...]


@dataclass(frozen=True)
class Evidence:
    """What the validation runs found for one signature."""

    status: PdfSignatureStatus
    """The classic status to report (the revocation-checked one when it passed)."""

    revocation_checked: bool
    """Revocation data for the chain was found and evaluated."""

    revocation_embedded: bool
    """The document's own validation data sufficed (no online fetch needed)."""

    revoked: bool
    """A certificate in the chain was revoked."""

    lta_indication: str
    """AdES LTA result (PASSED/OK, INDETERMINATE/NO_POE, ...); empty if not run."""


async def gather_evidence(
    sig: EmbeddedPdfSignature, reader: PdfFileReader, roots: Roots, *, online: bool
) -> Evidence:
    """Run the validations `sig` needs; network only when `online`."""
    status: PdfSignatureStatus | None = None
    embedded = False
    if _has_revinfo(reader):
        status = await _classic(sig, reader, roots, require=True, fetch=False)
        embedded = status.trusted
    if not embedded and online:
        status = await _classic(sig, reader, roots, require=True, fetch=True)
    revoked = status is not None and status.revocation_details is not None
    checked = status is not None and (status.trusted or revoked)
    if status is None or not checked:
        status = await _classic(sig, reader, roots, require=False, fetch=False)
    indication = ""
    if archive_timestamps_after(sig, reader):
        indication = await lta_indication(sig, roots, online=online)
    return Evidence(
        status=status,
        revocation_checked=checked,
        revocation_embedded=embedded,
        revoked=revoked,
        lta_indication=indication,
    )


async def _classic(
    sig: EmbeddedPdfSignature,
    reader: PdfFileReader,
    roots: Roots,
    *,
    require: bool,
    fetch: bool,
) -> PdfSignatureStatus:
    # A fresh context per run: it holds the validation time and path caches.
    context = _context(reader, roots, require=require, fetch=fetch)
    try:
        return await async_validate_pdf_signature(sig, context)
    finally:
        await context.aclose()


def _has_revinfo(reader: PdfFileReader) -> bool:
    # Without OCSP responses or CRLs in the file, an offline "require" run can only
    # fail (and pyHanko logs that failure with the certificate subject): skip it.
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except NoDSSFoundError:
        return False
    return bool(dss.ocsps or dss.crls)


def _context(
    reader: PdfFileReader, roots: Roots, *, require: bool, fetch: bool
) -> ValidationContext:
    kwargs: dict[str, object] = {
        "trust_roots": list(roots),
        "allow_fetching": fetch,
        "revocation_mode": "require" if require else "soft-fail",
    }
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except NoDSSFoundError:
        # certvalidator refuses "require" offline with no data at all; give it
        # empty lists so it reports the chain as lacking revocation data.
        return ValidationContext(crls=[], ocsps=[], **kwargs)  # type: ignore[arg-type]
    return dss.as_validation_context(kwargs)


async def lta_indication(
    sig: EmbeddedPdfSignature, roots: Roots, *, online: bool = False
) -> str:
    """The AdES long-term validation verdict, e.g. PASSED/OK.

    Offline (LOCAL_ONLY) it uses only what the file embeds: that is what an archive
    can rely on ten years from now.
    """
    rule = (
        RevinfoOnlineFetchingRule.ALWAYS_FETCH
        if online
        else RevinfoOnlineFetchingRule.LOCAL_ONLY
    )
    spec = PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=CertValidationPolicySpec(
                trust_manager=SimpleTrustManager.build(trust_roots=list(roots)),
                revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO),
            ),
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=rule
            ),
        )
    )
    result = await ades_lta_validation(sig, spec)
    indication = result.ades_subindic
    return f"{type(indication).__name__.removeprefix('AdES').upper()}/{indication.name}"


def archive_timestamps_after(
    sig: EmbeddedPdfSignature, reader: PdfFileReader
) -> list[EmbeddedPdfSignature]:
    """Document timestamps added in revisions after `sig`, oldest first."""
    return [
        ts
        for ts in reader.embedded_timestamp_signatures
        if ts.signed_revision > sig.signed_revision
    ]


def utc(moment: dt.datetime | None) -> dt.datetime | None:
    """`moment` in UTC (None stays None)."""
    return moment.astimezone(dt.UTC) if moment is not None else None
