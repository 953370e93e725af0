"""Verify the signatures in a PDF against explicitly configured trust roots.

Takes PDF bytes, gives one `SignatureReport` per approval signature: integrity,
cryptographic validity, trust, what changed after signing, and a plain summary in
Vietnamese and English. The operating system's trust store is never consulted.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import asdict, dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from pyhanko.keys import load_certs_from_pemder
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import PdfSignatureStatus
from pyhanko_certvalidator import ValidationContext

from digitize.config import Settings
from digitize.errors import ConfigError, SigningError
from digitize.keys import trust_root_paths
from digitize.sign.runner import run_coroutine

__all__ = [
    "SignatureReport",
    "load_trust_roots",
    "open_pdf",
    "report_to_dict",
    "subject_of",
    "validate_signatures",
    "verify_pdf",
]

log = logging.getLogger(__name__)

_PDF_MAGIC = b"%PDF-"
# ISO 32000 lets readers accept the header anywhere in the first 1024 bytes.
_HEADER_WINDOW = 1024
_PADES_SUBFILTER = "/ETSI.CAdES.detached"

_roots_lock = threading.Lock()
_roots: dict[tuple[object, ...], tuple[asn1_x509.Certificate, ...]] = {}


@dataclass(frozen=True)
class SignatureReport:
    """What validation found out about one signature."""

    field_name: str
    """The signature form field."""

    signer_subject: str
    """Subject of the signing certificate (RFC 4514 form)."""

    signed_at: dt.datetime | None
    """Signing time: the timestamp's if there is one, else the signer's claim."""

    intact: bool
    """The signed bytes are unchanged."""

    valid: bool
    """The cryptographic signature over them checks out."""

    trusted: bool
    """The certificate chains to one of the configured trust roots."""

    revocation_checked: bool
    """Whether revocation (CRL/OCSP) was checked; always False until B-LT support."""

    coverage: str
    """ENTIRE_FILE, or ENTIRE_REVISION when updates were appended after signing."""

    modification_level: str
    """What the appended updates do: NONE, LTA_UPDATES, FORM_FILLING, OTHER, ..."""

    level: str
    """PAdES baseline level: B-B, or B-T with a signature timestamp; else non-PAdES."""

    ok: bool
    """All checks passed, including the rules on changes after signing."""

    summary_vi: str
    """One-sentence verdict in Vietnamese."""

    summary_en: str
    """One-sentence verdict in English."""


def verify_pdf(data: bytes, settings: Settings) -> list[SignatureReport]:
    """Report on every approval signature in `data`; an unsigned PDF gives [].

    Trust is decided only against `sign_trust_roots`, or the development root when
    that setting is empty and a development key exists.

    Raises:
        SigningError: `data` is not a readable PDF (codes sign.not_pdf,
            sign.damaged_pdf, sign.encrypted).
        ConfigError: a trust root file is missing or unreadable.
    """
    reader = open_pdf(data)
    roots = load_trust_roots(trust_root_paths(settings))
    return [_report(sig, status) for sig, status in validate_signatures(reader, roots)]


def report_to_dict(report: SignatureReport) -> dict[str, Any]:
    """The report as JSON-ready values (times in ISO 8601)."""
    values = asdict(report)
    if report.signed_at is not None:
        values["signed_at"] = report.signed_at.isoformat()
    return values


def open_pdf(data: bytes) -> PdfFileReader:
    """Parse `data` as a PDF.

    Raises:
        SigningError: not a PDF, damaged, or encrypted.
    """
    if _PDF_MAGIC not in data[:_HEADER_WINDOW]:
        raise SigningError(
            f"the input ({len(data)} bytes) is not a PDF: no %PDF- header in its first "
            f"{_HEADER_WINDOW} bytes; only PDF files can be signed or verified",
            code="sign.not_pdf",
        )
    try:
        reader = PdfFileReader(BytesIO(data))
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


def validate_signatures(
    reader: PdfFileReader, roots: tuple[asn1_x509.Certificate, ...]
) -> list[tuple[EmbeddedPdfSignature, PdfSignatureStatus]]:
    """Validate every approval signature of `reader` against `roots`, offline."""
    signatures = reader.embedded_regular_signatures
    if not signatures:
        return []

    async def validate_all() -> list[PdfSignatureStatus]:
        return [await _validate_one(sig, roots) for sig in signatures]

    try:
        statuses = run_coroutine(validate_all)
    except (PdfError, ValueError) as err:
        raise SigningError(
            f"a signature in the PDF could not be evaluated ({type(err).__name__}: "
            f"{err})",
            code="sign.damaged_pdf",
        ) from err
    return list(zip(signatures, statuses, strict=True))


async def _validate_one(
    sig: EmbeddedPdfSignature, roots: tuple[asn1_x509.Certificate, ...]
) -> PdfSignatureStatus:
    # A fresh context per signature: it holds the validation time and path caches.
    # LIMITATION: revocation is not checked (no fetching, soft-fail, no DSS use) ->
    # reports say revocation_checked=False; a revoked certificate still shows trusted.
    context = ValidationContext(trust_roots=list(roots), allow_fetching=False)
    try:
        return await async_validate_pdf_signature(sig, context)
    finally:
        await context.aclose()


def subject_of(cert: asn1_x509.Certificate) -> str:
    """RFC 4514 subject of an asn1crypto certificate."""
    return x509.load_der_x509_certificate(cert.dump()).subject.rfc4514_string()


def _report(sig: EmbeddedPdfSignature, status: PdfSignatureStatus) -> SignatureReport:
    timestamp = status.timestamp_validity
    pades = sig.sig_object.get("/SubFilter") == _PADES_SUBFILTER
    level = "B-T" if timestamp is not None else "B-B"
    if not pades:
        level = "non-PAdES"
    modification = status.modification_level
    coverage = status.coverage
    summary_vi, summary_en = _summaries(status)
    return SignatureReport(
        field_name=str(sig.field_name),
        signer_subject=subject_of(status.signing_cert),
        signed_at=timestamp.timestamp if timestamp else status.signer_reported_dt,
        intact=status.intact,
        valid=status.valid,
        trusted=status.trusted,
        revocation_checked=False,
        coverage=coverage.name if coverage is not None else "UNKNOWN",
        modification_level=modification.name if modification else "UNKNOWN",
        level=level,
        ok=status.bottom_line,
        summary_vi=summary_vi,
        summary_en=summary_en,
    )


def _summaries(status: PdfSignatureStatus) -> tuple[str, str]:
    if not status.intact:
        return (
            "Chữ ký KHÔNG hợp lệ: nội dung đã ký bị sửa đổi.",
            "Signature INVALID: the signed content was altered.",
        )
    if not status.valid:
        return (
            "Chữ ký KHÔNG hợp lệ: kiểm tra mật mã thất bại.",
            "Signature INVALID: the cryptographic check failed.",
        )
    if status.bottom_line:
        verdict = ("Chữ ký hợp lệ", "Signature valid")
    else:
        verdict = ("Chữ ký KHÔNG được chấp nhận", "Signature NOT accepted")
    if status.trusted:
        trust = (
            "chứng thư số thuộc gốc tin cậy đã cấu hình",
            "the certificate chains to a configured trust root",
        )
    else:
        trust = (
            "chứng thư số KHÔNG thuộc gốc tin cậy nào đã cấu hình",
            "the certificate does NOT chain to a configured trust root",
        )
    changes = _changes_phrases(status)
    return (
        f"{verdict[0]}: {trust[0]}; {changes[0]}; "
        "chưa kiểm tra tình trạng thu hồi chứng thư số.",
        f"{verdict[1]}: {trust[1]}; {changes[1]}; revocation not checked.",
    )


def _changes_phrases(status: PdfSignatureStatus) -> tuple[str, str]:
    if status.modification_level == ModificationLevel.NONE:
        return (
            "tài liệu không thay đổi sau khi ký",
            "document unchanged since signing",
        )
    if status.docmdp_ok:
        return (
            "sau khi ký chỉ có bổ sung được phép (như chữ ký khác)",
            "only permitted additions since signing (such as another signature)",
        )
    return (
        "tài liệu đã bị thay đổi sau khi ký",
        "the document was changed after signing",
    )
