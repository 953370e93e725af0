"""Verify the signatures in a PDF against explicitly configured trust roots.

Takes PDF bytes, gives one `SignatureReport` per approval signature: integrity,
cryptographic validity, trust, what changed after signing, and a plain summary in
Vietnamese and English. The operating system's trust store is never consulted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
from dataclasses import asdict, dataclass
from io import BytesIO
from pathlib import Path
from typing import Any, BinaryIO

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from pyhanko.keys import load_certs_from_pemder
from pyhanko.pdf_utils.misc import PdfError, PdfStrictReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

from digitize.config import Settings
from digitize.errors import ConfigError, SigningError
from digitize.keys import trust_root_paths
from digitize.sign.evidence import Evidence, archive_timestamps_after, gather_evidence
from digitize.sign.runner import run_coroutine
from digitize.sign.wording import LTA_OK, VerdictFacts, describe_changes, summarize

__all__ = [
    "SignatureReport",
    "detect_level",
    "load_trust_roots",
    "open_pdf",
    "report_to_dict",
    "subject_of",
    "verify_pdf",
    "verify_reader",
]

log = logging.getLogger(__name__)

_PDF_MAGIC = b"%PDF-"
# ISO 32000 lets readers accept the header anywhere in the first 1024 bytes.
_HEADER_WINDOW = 1024
_PADES_SUBFILTER = "/ETSI.CAdES.detached"

Roots = tuple[asn1_x509.Certificate, ...]

_roots_lock = threading.Lock()
_roots: dict[tuple[object, ...], tuple[asn1_x509.Certificate, ...]] = {}


@dataclass(frozen=True)
class SignatureReport:
    """What validation found out about one signature."""

    field_name: str
    """The signature form field."""

    signer_subject: str
    """Subject of the signing certificate (RFC 4514 form)."""

    signer_cert_sha256: str
    """SHA-256 of the signing certificate (DER), hex."""

    signed_at: dt.datetime | None
    """Signing time: the timestamp's if there is one, else the signer's claim."""

    claimed_at: dt.datetime | None
    """The signing time the signer wrote into the signature (not proven)."""

    timestamp_at: dt.datetime | None
    """Time of the signature timestamp (RFC 3161), when there is one."""

    timestamp_trusted: bool | None
    """The signature timestamp's TSA chains to a configured root; None if absent."""

    intact: bool
    """The signed bytes are unchanged."""

    valid: bool
    """The cryptographic signature over them checks out."""

    trusted: bool
    """The certificate chains to one of the configured trust roots (and, when
    revocation was checked, none of the chain is revoked)."""

    revocation_checked: bool
    """Revocation (CRL/OCSP) was checked, from embedded data or, when asked, online."""

    revoked: bool
    """A certificate of the chain is revoked."""

    coverage: str
    """ENTIRE_FILE, or ENTIRE_REVISION when updates were appended after signing."""

    modification_level: str
    """What the appended updates do: NONE, LTA_UPDATES, FORM_FILLING, OTHER, ..."""

    changes: str
    """What changed after signing, in words (English)."""

    level: str
    """PAdES baseline level: B-B, B-T, B-LT, B-LTA; non-PAdES for other formats."""

    lta_indication: str
    """AdES long-term validation result (e.g. PASSED/OK) when archive timestamps
    exist; empty otherwise."""

    ok: bool
    """All checks passed, including the rules on changes after signing."""

    summary_vi: str
    """The verdict in Vietnamese."""

    summary_en: str
    """The verdict in English."""


def verify_pdf(
    data: bytes | BinaryIO, settings: Settings, *, online: bool = False
) -> list[SignatureReport]:
    """Report on every approval signature in `data`; an unsigned PDF gives [].

    `data` is the PDF's bytes or a seekable binary file open on it.

    Trust is decided only against `sign_trust_roots`, or the development root when
    that setting is empty and a development key exists. Revocation is checked from
    the file's own validation data; `online` also fetches OCSP/CRL from the URLs in
    the certificates.

    Raises:
        SigningError: `data` is not a readable PDF (codes sign.not_pdf,
            sign.damaged_pdf, sign.encrypted).
        ConfigError: a trust root file is missing or unreadable.
    """
    reader = open_pdf(data)
    roots = load_trust_roots(trust_root_paths(settings))
    return verify_reader(reader, roots, online=online)


def report_to_dict(report: SignatureReport) -> dict[str, Any]:
    """The report as JSON-ready values (times in ISO 8601)."""
    values = asdict(report)
    for name in ("signed_at", "claimed_at", "timestamp_at"):
        moment = getattr(report, name)
        values[name] = moment.isoformat() if moment is not None else None
    return values


def open_pdf(data: bytes | BinaryIO) -> PdfFileReader:
    """Parse `data`, bytes or a seekable binary file, as a PDF.

    A file is read as pyHanko needs it (objects on demand, digests in chunks), never
    whole, so a long document costs no more memory than a short one.

    Raises:
        SigningError: not a PDF, damaged, or encrypted.
    """
    stream = BytesIO(data) if isinstance(data, bytes | bytearray) else data
    stream.seek(0)
    head = stream.read(_HEADER_WINDOW)
    if _PDF_MAGIC not in head:
        size = stream.seek(0, 2)
        raise SigningError(
            f"the input ({size} bytes) is not a PDF: no %PDF- header in its first "
            f"{_HEADER_WINDOW} bytes; only PDF files can be signed or verified",
            code="sign.not_pdf",
        )
    stream.seek(0)
    try:
        reader = _reader(stream)
        if reader.encrypted:
            raise SigningError(
                "the PDF is encrypted; digitize signs and verifies unencrypted PDFs",
                code="sign.encrypted",
            )
        reader.embedded_signatures  # noqa: B018 - parses the form tree now
    except (PdfError, ValueError, KeyError, TypeError) as err:
        raise SigningError(
            f"the PDF is damaged and cannot be read ({type(err).__name__}: {err}); "
            "repair or regenerate it (e.g. qpdf) and try again",
            code="sign.damaged_pdf",
        ) from err
    return reader


def _reader(stream: BinaryIO) -> PdfFileReader:
    """PyHanko's strict reader; its lenient one for a file with a harmless slip.

    Pillow, for one, writes the free head of the cross-reference table with generation
    65536 instead of 65535, which strict mode refuses. A signature's digest covers the
    bytes, not the parse, so a lenient read cannot make a forged signature pass.
    """
    try:
        return PdfFileReader(stream)
    except PdfStrictReadError as err:
        log.debug("lenient PDF read after a strict-mode refusal: %s", err)
        stream.seek(0)
        return PdfFileReader(stream, strict=False)


def load_trust_roots(paths: tuple[Path, ...]) -> tuple[asn1_x509.Certificate, ...]:
    """Certificates in the PEM/DER files `paths`, cached until a file changes.

    Raises:
        ConfigError: a file is missing or holds no certificate.
    """
    key = tuple(_file_identity(path) for path in paths)
    with _roots_lock:
        if key not in _roots:
            _roots[key] = tuple(cert for path in paths for cert in _read_roots(path))
        return _roots[key]


def _file_identity(path: Path) -> tuple[object, ...]:
    try:
        stat = path.stat()
    except OSError as err:
        raise ConfigError(
            f"cannot read trust root {path} ({err.strerror}); check sign_trust_roots",
            code="config.trust_roots",
        ) from err
    return (str(path), stat.st_mtime_ns, stat.st_size)


def _read_roots(path: Path) -> list[asn1_x509.Certificate]:
    try:
        certs = list(load_certs_from_pemder([path]))
    except (OSError, ValueError) as err:
        raise ConfigError(
            f"trust root {path} is not a PEM or DER certificate file; "
            "check sign_trust_roots",
            code="config.trust_roots",
        ) from err
    if not certs:
        raise ConfigError(
            f"trust root file {path} holds no certificate; check sign_trust_roots",
            code="config.trust_roots",
        )
    return certs


def verify_reader(
    reader: PdfFileReader,
    roots: Roots,
    *,
    online: bool = False,
    only_field: str | None = None,
) -> list[SignatureReport]:
    """Validate the approval signatures of `reader` (or the one in `only_field`)."""
    signatures = [
        sig
        for sig in reader.embedded_regular_signatures
        if only_field is None or sig.field_name == only_field
    ]
    if not signatures:
        return []

    async def validate_all() -> list[Evidence]:
        return [
            await gather_evidence(sig, reader, roots, online=online)
            for sig in signatures
        ]

    try:
        found = run_coroutine(validate_all)
    except (PdfError, ValueError) as err:
        raise SigningError(
            f"a signature in the PDF could not be evaluated ({type(err).__name__}: "
            f"{err})",
            code="sign.damaged_pdf",
        ) from err
    return [
        _report(sig, evidence, reader)
        for sig, evidence in zip(signatures, found, strict=True)
    ]


def subject_of(cert: asn1_x509.Certificate) -> str:
    """RFC 4514 subject of an asn1crypto certificate."""
    return x509.load_der_x509_certificate(cert.dump()).subject.rfc4514_string()


def detect_level(
    sig: EmbeddedPdfSignature, evidence: Evidence, reader: PdfFileReader
) -> str:
    """PAdES baseline level from what the file holds (ETSI EN 319 142-1, 6.3).

    B-T: a signature timestamp; B-LT: plus validation data in the file sufficient to
    check revocation offline; B-LTA: plus a document timestamp over it.
    """
    if sig.sig_object.get("/SubFilter") != _PADES_SUBFILTER:
        return "non-PAdES"
    if evidence.status.timestamp_validity is None:
        return "B-B"
    if not evidence.revocation_embedded:
        return "B-T"
    if archive_timestamps_after(sig, reader):
        return "B-LTA"
    return "B-LT"


def _report(
    sig: EmbeddedPdfSignature, evidence: Evidence, reader: PdfFileReader
) -> SignatureReport:
    status = evidence.status
    timestamp = status.timestamp_validity
    level = detect_level(sig, evidence, reader)
    lta_ok = evidence.lta_indication in ("", LTA_OK)
    ok = status.bottom_line and not evidence.revoked and lta_ok
    modification = status.modification_level
    coverage = status.coverage
    # Once the digest of the signed bytes differs, pyHanko's validity and change
    # findings describe nothing: report them as not assessed rather than passed.
    assessed = bool(status.intact)
    facts = VerdictFacts(
        intact=status.intact,
        valid=status.valid and assessed,
        trusted=status.trusted,
        ok=ok,
        revocation_checked=evidence.revocation_checked,
        revoked=evidence.revoked,
        modification=(modification.name if modification else "UNKNOWN")
        if assessed
        else "NOT_ASSESSED",
        docmdp_ok=bool(status.docmdp_ok),
        level=level,
        lta_indication=evidence.lta_indication,
        timestamp_at=timestamp.timestamp if timestamp else None,
    )
    summary_vi, summary_en = summarize(facts)
    return SignatureReport(
        field_name=str(sig.field_name),
        signer_subject=subject_of(status.signing_cert),
        signer_cert_sha256=hashlib.sha256(status.signing_cert.dump()).hexdigest(),
        signed_at=timestamp.timestamp if timestamp else status.signer_reported_dt,
        claimed_at=status.signer_reported_dt,
        timestamp_at=timestamp.timestamp if timestamp else None,
        timestamp_trusted=timestamp.trusted if timestamp else None,
        intact=status.intact,
        valid=facts.valid,
        trusted=status.trusted and not evidence.revoked and assessed,
        revocation_checked=evidence.revocation_checked,
        revoked=evidence.revoked,
        coverage=coverage.name if coverage is not None else "UNKNOWN",
        modification_level=facts.modification,
        changes=describe_changes(facts.modification, facts.docmdp_ok)[1]
        if assessed
        else "not assessed: the signed bytes themselves were changed",
        level=level,
        lta_indication=evidence.lta_indication,
        ok=ok,
        summary_vi=summary_vi,
        summary_en=summary_en,
    )
