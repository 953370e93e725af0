"""Sign a searchable PDF: PAdES baseline, visible stamp on page 1, validated at once.

Takes the unsigned PDF (bytes with `sign_pdf`, a file with `sign_pdf_file`) and the
settings, gives a `SignedPdf`: the signed copy is an incremental update of the input, so
the unsigned bytes stay provable. The level (B-B to
B-LTA) comes from the signing profile; the new signature must validate at that level
before it is returned.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import threading
import time
import unicodedata
from dataclasses import dataclass, field, replace
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

import aiohttp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.rw_common import find_inherited_value_in_tree
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.sign.fields import SigFieldSpec, SigSeedSubFilter, enumerate_sig_fields
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner, Signer, SimpleSigner
from pyhanko.sign.signers.pdf_signer import PdfSigningSession
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from digitize.config import Settings
from digitize.errors import ConfigError, SigningError
from digitize.keys import KeySource, ensure_signing_key
from digitize.sign.normalize import normalize_file_for_signing, normalize_for_signing
from digitize.sign.profile import SignProfile, resolve_profile, signing_error_from
from digitize.sign.runner import run_coroutine
from digitize.sign.stamp import (
    VIETNAM_TZ,
    StampText,
    format_signing_time,
    load_stamp_font,
    stamp_box,
    stamp_style,
)
from digitize.sign.verify import (
    Roots,
    SignatureReport,
    load_trust_roots,
    open_pdf,
    subject_of,
    verify_reader,
)

__all__ = [
    "PYHANKO_ERRORS",
    "CachedKeySigner",
    "SignedPdf",
    "sign_pdf",
    "sign_pdf_file",
]

log = logging.getLogger(__name__)

_FIELD_NAME = "ChuKySo"
_MD_ALGORITHM = "sha256"

_signers_lock = threading.Lock()
_signers: dict[tuple[object, ...], Signer] = {}


@dataclass(frozen=True)
class SignedPdf:
    """A signed PDF and what identifies its signature."""

    level: str
    """PAdES baseline level reached, e.g. B-B."""

    signer_subject: str
    """Subject of the signing certificate (RFC 4514 form)."""

    signer_cert_sha256: str
    """SHA-256 of the signing certificate (DER), hex."""

    signed_at: dt.datetime
    """Signing time as recorded in the signature and printed on the stamp (+07:00)."""

    field_name: str
    """The visible signature field."""

    unsigned_sha256: str
    """SHA-256 of the bytes that were signed, hex."""

    signed_sha256: str
    """SHA-256 of the signed file, hex."""

    data: bytes = field(default=b"", repr=False)
    """The signed file from `sign_pdf`: the unsigned bytes followed by the
    signature's update (empty from `sign_pdf_file`, which writes `path`)."""

    path: Path | None = None
    """Where `sign_pdf_file` wrote the signed file."""

    unsigned: bytes = field(default=b"", repr=False)
    """From `sign_pdf`: the bytes that were signed, the input or its rewrite when it
    had to be normalised (hybrid cross-reference sections); `data` begins with them."""

    unsigned_path: Path | None = None
    """From `sign_pdf_file`: the file that was signed, the input or its rewrite."""

    normalized: bool = False
    """The input was rewritten before signing."""

    timestamp_at: dt.datetime | None = None
    """Time of the signature timestamp (B-T and up)."""


def sign_pdf(
    pdf: bytes, settings: Settings, *, signed_at: dt.datetime | None = None
) -> SignedPdf:
    """Sign `pdf` as the converting agency, then validate the new signature at once.

    Safe to call from worker threads and from code running an event loop.

    Args:
        pdf: the unsigned searchable PDF (or a signed one, for a further signature).
        settings: key, level, timestamp authority, trust roots and stamp text.
        signed_at: signing time (time-zone aware); now when omitted.

    Raises:
        SigningError: the input is not a signable PDF, pyHanko failed, the signer is
            revoked or untrusted, the output is not an incremental update of the
            input, or the new signature does not validate at the profile's level
            (code sign.invalid).
        SigningUnavailableError: the timestamp authority, a revocation server, the
            token or the remote signer could not be reached; retry later.
        ConfigError: the key, its passphrase, the level or the roots are misconfigured.
    """
    profile = resolve_profile(settings)  # a misconfiguration before any PDF error
    pdf, normalized = normalize_for_signing(pdf)
    output = BytesIO()
    signed = _sign(BytesIO(pdf), output, settings, profile, signed_at)
    return replace(signed, data=output.getvalue(), unsigned=pdf, normalized=normalized)


def sign_pdf_file(
    source: Path,
    target: Path,
    settings: Settings,
    *,
    signed_at: dt.datetime | None = None,
) -> SignedPdf:
    """Sign the PDF file `source` into `target`, as `sign_pdf` does, in bounded memory.

    pyHanko reads the input's objects on demand and digests the byte ranges in
    chunks, so a 500-page document costs about what a 1-page one does. A hybrid
    input is first rewritten to `<source>.normalized.pdf` (`unsigned_path` says
    which file was signed). `target` is removed again when signing fails.

    Raises:
        SigningError, SigningUnavailableError, ConfigError: as `sign_pdf`.
    """
    profile = resolve_profile(settings)
    to_sign = normalize_file_for_signing(source)
    try:
        with to_sign.open("rb") as src, target.open("w+b") as out:
            signed = _sign(src, out, settings, profile, signed_at)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return replace(
        signed, path=target, unsigned_path=to_sign, normalized=to_sign != source
    )


def _sign(
    source: BinaryIO,
    output: BinaryIO,
    settings: Settings,
    profile: SignProfile,
    signed_at: dt.datetime | None,
) -> SignedPdf:
    """Sign `source` into `output` (readable, seekable), validate, describe it."""
    started = time.perf_counter()
    moment = _signing_moment(signed_at)
    text = _stamp_text(settings, moment)
    key_source = ensure_signing_key(settings)
    signer = _load_signer(key_source)
    roots = load_trust_roots(key_source.trust_roots)

    job = _SignJob(settings, signer, text, moment, profile, roots)
    field_name = _sign_incrementally(source, output, job)
    unsigned_sha, prefix_sha, signed_sha, size = _digests(source, output)
    if prefix_sha != unsigned_sha:
        raise SigningError(
            "the signed PDF does not begin with the unsigned bytes; refusing it",
            code="sign.not_incremental",
        )
    report = _check_new_signature(output, field_name, roots, profile)

    cert = signer.signing_cert
    if cert is None:  # load_signer refuses a key without certificate
        raise SigningError("the signing key has no certificate", code="sign.failed")
    log.info(
        "signed %s, %.1f MB, validated in %.2f s",  # not a 9-digit count: masked
        profile.level,
        size / 2**20,
        time.perf_counter() - started,
    )
    return SignedPdf(
        level=report.level,
        signer_subject=subject_of(cert),
        signer_cert_sha256=hashlib.sha256(cert.dump()).hexdigest(),
        signed_at=moment,
        field_name=field_name,
        unsigned_sha256=unsigned_sha,
        signed_sha256=signed_sha,
        timestamp_at=report.timestamp_at,
    )


_CHUNK = 1 << 20


def _digests(source: BinaryIO, output: BinaryIO) -> tuple[str, str, str, int]:
    """SHA-256 of the input, of the output's first len(input) bytes, of the output."""
    unsigned = hashlib.sha256()
    source.seek(0)
    for chunk in iter(lambda: source.read(_CHUNK), b""):
        unsigned.update(chunk)
    length = source.tell()
    signed = hashlib.sha256()
    output.seek(0)
    left = length
    while left > 0 and (chunk := output.read(min(_CHUNK, left))):
        signed.update(chunk)
        left -= len(chunk)
    prefix = signed.copy()
    for chunk in iter(lambda: output.read(_CHUNK), b""):
        signed.update(chunk)
    size = output.tell()
    if left:  # the output is shorter than the input
        return unsigned.hexdigest(), "", signed.hexdigest(), size
    return unsigned.hexdigest(), prefix.hexdigest(), signed.hexdigest(), size


@dataclass(frozen=True)
class _SignJob:
    """Everything one signature needs besides the PDF."""

    settings: Settings
    signer: Signer
    text: StampText
    moment: dt.datetime
    profile: SignProfile
    roots: Roots


def _signing_moment(signed_at: dt.datetime | None) -> dt.datetime:
    moment = signed_at or dt.datetime.now(VIETNAM_TZ)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise SigningError(
            "the signing time has no time zone; pass an aware datetime",
            code="sign.naive_time",
        )
    # /M and the stamp show whole seconds; keep the record equal to what is printed.
    return moment.astimezone(VIETNAM_TZ).replace(microsecond=0)


def _load_signer(source: KeySource) -> Signer:
    """The signer of `source`, loaded once per process until the key file changes."""
    key = source.cache_key
    with _signers_lock:
        if key not in _signers:
            signer = source.load_signer()
            if isinstance(signer, SimpleSigner):
                signer = CachedKeySigner(signer)
            _warm_names(signer)
            _signers[key] = signer
            if source.is_development:
                log.warning("signing with the development key: no legal value")
        return _signers[key]


def _warm_names(signer: Signer) -> None:
    """Build asn1crypto's lazy name caches now, under the lock.

    `Name.native` fills its cache in place on first read; two signing threads reading a
    fresh shared certificate at once saw a half-built dict (KeyError 'common_name').
    """
    certs = [signer.signing_cert] if signer.signing_cert is not None else []
    certs += list(getattr(signer, "cert_registry", None) or [])
    for cert in certs:
        for name in (cert.subject, cert.issuer):
            _ = name.native, name.human_friendly


class CachedKeySigner(SimpleSigner):
    """A SimpleSigner that parses its private key once, not at every signature.

    pyHanko 0.38's `SimpleSigner.sign_raw` reloads the key from DER on each call;
    cryptography's RSA key check makes that about 0.1 s for a 3072-bit key, twice per
    signed PDF (size estimate, then the signature).
    """

    def __init__(self, loaded: SimpleSigner) -> None:
        """Take over the key and certificates of `loaded`; parse the key once."""
        super().__init__(
            signing_cert=loaded.signing_cert,
            signing_key=loaded.signing_key,
            cert_registry=loaded.cert_registry,
        )
        self._private_key = serialization.load_der_private_key(
            self.signing_key.dump(), password=None
        )

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        """Sign with the parsed key for RSA PKCS#1 v1.5; other schemes as pyHanko."""
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
        key = self._private_key
        if mechanism.signature_algo == "rsassa_pkcs1v15" and isinstance(
            key, rsa.RSAPrivateKey
        ):
            digest = get_pyca_cryptography_hash(digest_algorithm)
            return key.sign(data, padding.PKCS1v15(), digest)
        return super().sign_raw(data, digest_algorithm)


def _stamp_text(settings: Settings, moment: dt.datetime) -> StampText:
    copy_type = _one_line(settings.sign_copy_type)
    agency = _one_line(settings.sign_agency)
    if not copy_type or not agency:
        raise ConfigError(
            "sign_copy_type and sign_agency must not be empty: the law requires the "
            "copy type and the converting agency on the stamp",
            code="config.sign_stamp",
        )
    return StampText(copy_type, agency, format_signing_time(moment))


def _one_line(value: str) -> str:
    return " ".join(unicodedata.normalize("NFC", value).split())


def _sign_incrementally(source: BinaryIO, output: BinaryIO, job: _SignJob) -> str:
    """Write `source` and the signature's update to `output`; return the field name."""
    font = load_stamp_font(job.settings)
    try:
        source.seek(0)
        writer = IncrementalPdfFileWriter(source)
        field_name, slot = _free_field_name(writer)
        box = stamp_box(_page_box(writer), job.text, font, slot=slot)
    except (PdfError, ValueError, KeyError) as err:
        raise SigningError(
            f"pyHanko could not open the PDF for signing ({type(err).__name__}: {err})",
            code="sign.failed",
        ) from err

    async def sign() -> None:
        context = job.profile.validation_context(job.roots)
        meta = PdfSignatureMetadata(
            field_name=field_name,
            md_algorithm=_MD_ALGORITHM,
            subfilter=SigSeedSubFilter.PADES,
            reason=job.settings.sign_reason or None,
            location=job.settings.sign_location or None,
            validation_context=context,
            embed_validation_info=job.profile.embeds_revocation,
            use_pades_lta=job.profile.archive_timestamp,
        )
        pdf_signer = _TimedPdfSigner(
            meta,
            signer=job.signer,
            timestamper=job.profile.timestamper(),
            stamp_style=stamp_style(font),
            new_field_spec=SigFieldSpec(field_name, on_page=0, box=box),
            signing_time=job.moment,
        )
        try:
            await pdf_signer.async_sign_pdf(
                writer, appearance_text_params=job.text.params(), output=output
            )
        finally:
            if context is not None:
                await context.aclose()

    try:
        run_coroutine(sign)
        return field_name
    except SigningError:
        raise
    except PYHANKO_ERRORS as err:
        raise signing_error_from(err) from err


PYHANKO_ERRORS = (
    PdfError,
    ValueError,
    KeyError,
    PyHankoSigningError,
    OSError,
    asyncio.TimeoutError,
    aiohttp.ClientError,
)


class _TimedPdfSigner(PdfSigner):
    """A PdfSigner that signs at a given time instead of the clock.

    pyHanko 0.38 takes the time for /M from the clock inside `init_signing_session`;
    setting the session's `system_time` makes /M equal the time printed on the stamp.
    """

    def __init__(self, *args: object, signing_time: dt.datetime, **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._signing_time = signing_time

    def init_signing_session(
        self, pdf_out: BasePdfFileWriter, existing_fields_only: bool = False
    ) -> PdfSigningSession:
        """Start the session as pyHanko does, then fix its signing time."""
        session = super().init_signing_session(pdf_out, existing_fields_only)
        session.system_time = self._signing_time
        return session


def _free_field_name(writer: IncrementalPdfFileWriter) -> tuple[str, int]:
    """First unused name of ChuKySo, ChuKySo2, ...; and how many came before it."""
    taken = {name for name, _, _ in enumerate_sig_fields(writer.prev)}
    name, number = _FIELD_NAME, 1
    while name in taken:
        number += 1
        name = f"{_FIELD_NAME}{number}"
    return name, number - 1


def _page_box(writer: IncrementalPdfFileWriter) -> tuple[float, float, float, float]:
    """The visible area of page 1: its CropBox, else its MediaBox (may be inherited)."""
    page_ref, _ = writer.find_page_for_modification(0)
    page = page_ref.get_object()
    # LIMITATION: /Rotate on page 1 is ignored -> the stamp sits at the top right of
    # the unrotated page and turns with it; our own derivatives are never rotated.
    box = find_inherited_value_in_tree(page, "/CropBox", "/Parent")
    if box is None:
        box = find_inherited_value_in_tree(page, "/MediaBox", "/Parent")
    if box is None or len(box) != 4:
        raise SigningError(
            "page 1 of the PDF has no valid /MediaBox; regenerate the PDF",
            code="sign.damaged_pdf",
        )
    x1, y1, x2, y2 = (float(v) for v in box)
    return (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))


def _check_new_signature(
    output: BinaryIO, field_name: str, roots: Roots, profile: SignProfile
) -> SignatureReport:
    """Validate the signature just made, offline; anything but a clean bill raises."""
    reports = verify_reader(open_pdf(output), roots, only_field=field_name)
    if not reports:
        raise SigningError(
            f"the signed PDF has no signature in field {field_name}",
            code="sign.invalid",
        )
    report = reports[0]
    expected_change = "LTA_UPDATES" if profile.embeds_revocation else "NONE"
    checks = {
        "intact": report.intact,
        "valid": report.valid,
        "trusted": report.trusted,
        "unchanged": report.modification_level == expected_change,
        f"level {profile.level}": report.level == profile.level,
        "bottom line": report.ok,
    }
    failed = [name for name, passed in checks.items() if not passed]
    if not failed:
        return report
    if failed == ["trusted", "bottom line"] or (
        "trusted" in failed and not (report.revocation_checked)
    ):
        hint = "check that sign_trust_roots holds the root CA of the signing key"
    else:
        hint = "the key, a service or the PDF writer is faulty; keep the input"
    raise SigningError(
        f"the new signature failed validation ({', '.join(failed)}); {hint}",
        code="sign.invalid",
    )
