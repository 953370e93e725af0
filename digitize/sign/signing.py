"""Sign a searchable PDF: PAdES B-B, visible stamp on page 1, validated before return.

Takes the unsigned PDF's bytes and the settings, gives a `SignedPdf` whose data is an
incremental update of the input, so the unsigned bytes stay provable.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
import time
import unicodedata
from dataclasses import dataclass
from io import BytesIO

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.rw_common import find_inherited_value_in_tree
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import SigFieldSpec, SigSeedSubFilter, enumerate_sig_fields
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner, Signer, SimpleSigner
from pyhanko.sign.signers.pdf_signer import PdfSigningSession
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from digitize.config import Settings
from digitize.errors import ConfigError, SigningError
from digitize.keys import KeySource, ensure_signing_key
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
    load_trust_roots,
    open_pdf,
    subject_of,
    validate_signatures,
)

__all__ = ["PADES_LEVEL", "CachedKeySigner", "SignedPdf", "sign_pdf"]

log = logging.getLogger(__name__)

PADES_LEVEL = "B-B"
_FIELD_NAME = "ChuKySo"
_MD_ALGORITHM = "sha256"

_signers_lock = threading.Lock()
_signers: dict[tuple[object, ...], Signer] = {}


@dataclass(frozen=True)
class SignedPdf:
    """A signed PDF and what identifies its signature."""

    data: bytes
    """The signed file: the unsigned bytes followed by the signature's update."""

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
    """SHA-256 of the input, hex."""

    signed_sha256: str
    """SHA-256 of `data`, hex."""


def sign_pdf(
    pdf: bytes, settings: Settings, *, signed_at: dt.datetime | None = None
) -> SignedPdf:
    """Sign `pdf` as the converting agency, then validate the new signature at once.

    Safe to call from worker threads and from code running an event loop.

    Args:
        pdf: the unsigned searchable PDF.
        settings: key, trust roots and stamp text (sign_* settings).
        signed_at: signing time (time-zone aware); now when omitted.

    Raises:
        SigningError: the input is not a signable PDF, pyHanko failed, the output is
            not an incremental update of the input, or the new signature does not
            validate as intact, valid and trusted (code sign.invalid).
        ConfigError: the key, its passphrase or the trust roots are misconfigured.
    """
    started = time.perf_counter()
    open_pdf(pdf)
    moment = _signing_moment(signed_at)
    text = _stamp_text(settings, moment)
    source = ensure_signing_key(settings)
    signer = _load_signer(source)

    data, field_name = _sign_incrementally(pdf, settings, signer, text, moment)
    if data[: len(pdf)] != pdf:
        raise SigningError(
            "the signed PDF does not begin with the unsigned bytes; refusing it",
            code="sign.not_incremental",
        )
    _check_new_signature(data, field_name, source)

    cert = signer.signing_cert
    if cert is None:  # load_signer refuses a key without certificate
        raise SigningError("the signing key has no certificate", code="sign.failed")
    log.info(
        "signed %s, %d -> %d bytes, validated in %.2f s",
        PADES_LEVEL,
        len(pdf),
        len(data),
        time.perf_counter() - started,
    )
    return SignedPdf(
        data=data,
        level=PADES_LEVEL,
        signer_subject=subject_of(cert),
        signer_cert_sha256=hashlib.sha256(cert.dump()).hexdigest(),
        signed_at=moment,
        field_name=field_name,
        unsigned_sha256=hashlib.sha256(pdf).hexdigest(),
        signed_sha256=hashlib.sha256(data).hexdigest(),
    )


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
            _signers[key] = signer
            if source.is_development:
                log.warning("signing with the development key: no legal value")
        return _signers[key]


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


def _sign_incrementally(
    pdf: bytes,
    settings: Settings,
    signer: Signer,
    text: StampText,
    moment: dt.datetime,
) -> tuple[bytes, str]:
    """Append the signature; returns the signed bytes and the field name used."""
    font = load_stamp_font(settings)
    try:
        writer = IncrementalPdfFileWriter(BytesIO(pdf))
        field_name, slot = _free_field_name(writer)
        meta = PdfSignatureMetadata(
            field_name=field_name,
            md_algorithm=_MD_ALGORITHM,
            subfilter=SigSeedSubFilter.PADES,
            reason=settings.sign_reason or None,
            location=settings.sign_location or None,
        )
        field = SigFieldSpec(
            field_name,
            on_page=0,
            box=stamp_box(_page_box(writer), text, font, slot=slot),
        )
        pdf_signer = _TimedPdfSigner(
            meta,
            signer=signer,
            stamp_style=stamp_style(font),
            new_field_spec=field,
            signing_time=moment,
        )

        async def sign() -> bytes:
            output = await pdf_signer.async_sign_pdf(
                writer, appearance_text_params=text.params(), output=BytesIO()
            )
            return bytes(output.getbuffer())

        return run_coroutine(sign), field_name
    except (PdfError, ValueError, KeyError) as err:
        raise SigningError(
            f"pyHanko could not sign the PDF ({type(err).__name__}: {err})",
            code="sign.failed",
        ) from err


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


def _check_new_signature(data: bytes, field_name: str, source: KeySource) -> None:
    """Validate the signature just made; anything but a clean bill raises."""
    roots = load_trust_roots(source.trust_roots)
    results = validate_signatures(open_pdf(data), roots)
    status = next(
        (status for sig, status in results if sig.field_name == field_name), None
    )
    if status is None:
        raise SigningError(
            f"the signed PDF has no signature in field {field_name}",
            code="sign.invalid",
        )
    checks = {
        "intact": status.intact,
        "valid": status.valid,
        "trusted": status.trusted,
        "unchanged": status.modification_level == ModificationLevel.NONE,
        "bottom line": status.bottom_line,
    }
    failed = [name for name, passed in checks.items() if not passed]
    if failed == ["trusted", "bottom line"]:
        hint = "check that sign_trust_roots holds the root CA of the signing key"
    else:
        hint = "the key or the PDF writer is faulty; keep the input and report it"
    if failed:
        raise SigningError(
            f"the new signature failed validation ({', '.join(failed)}); {hint}",
            code="sign.invalid",
        )
