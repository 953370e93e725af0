"""Hybrid cross-reference files are rewritten before signing, never when signed."""

from __future__ import annotations

from io import BytesIO

import pikepdf
import pytest
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from digitize.errors import SigningError
from digitize.sign.normalize import has_hybrid_xrefs, normalize_for_signing


def hybrid_pdf() -> bytes:
    """A one-page PDF in MS Word style: xref table plus /XRefStm (hybrid)."""
    content = b"BT /F1 18 Tf 72 720 Td (Hybrid xref) Tj ET"
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources << /Font << /F1 << /Type /Font /Subtype /Type1"
        b" /BaseFont /Helvetica >> >> >> >>",
        4: b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
    }
    packed = b"<< /Producer (hybrid test) >>"
    header = b"6 0 "
    objects[5] = (
        b"<< /Type /ObjStm /N 1 /First %d /Length %d >>\nstream\n"
        % (len(header), len(header + packed))
        + header
        + packed
        + b"\nendstream"
    )
    out = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for number, body in objects.items():
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    # Object 6 lives in object stream 5; only the cross-reference stream says so.
    row = bytes([2]) + (5).to_bytes(4, "big") + (0).to_bytes(2, "big")
    offsets[7] = len(out)
    out += (
        b"7 0 obj\n<< /Type /XRef /Size 8 /W [1 4 2] /Index [6 1] /Length %d >>\n"
        b"stream\n" % len(row) + row + b"\nendstream\nendobj\n"
    )
    xref_at = len(out)
    # The table skips object 6, as Word does for objects in object streams.
    out += b"xref\n0 6\n0000000000 65535 f \n"
    for number in range(1, 6):
        out += b"%010d 00000 n \n" % offsets[number]
    out += b"7 1\n%010d 00000 n \n" % offsets[7]
    out += (
        b"trailer\n<< /Size 8 /Root 1 0 R /Info 6 0 R /XRefStm %d >>\n"
        b"startxref\n%d\n%%%%EOF\n" % (offsets[7], xref_at)
    )
    return bytes(out)


def test_hybrid_file_is_detected_and_rewritten() -> None:
    source = hybrid_pdf()
    assert has_hybrid_xrefs(source)
    rewritten, changed = normalize_for_signing(source)
    assert changed and not has_hybrid_xrefs(rewritten)
    with pikepdf.open(BytesIO(rewritten)) as pdf:
        assert len(pdf.pages) == 1
        assert str(pdf.docinfo["/Producer"]) == "hybrid test"


def test_ordinary_file_is_left_alone() -> None:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    out = BytesIO()
    pdf.save(out)
    data = out.getvalue()
    assert normalize_for_signing(data) == (data, False)


def test_pyhanko_alone_refuses_the_hybrid_file() -> None:
    # Pins why normalisation exists (pyHanko strict mode, issue #71).
    from pyhanko.sign import signers
    from pyhanko.sign.general import SigningError as PyHankoError

    writer = IncrementalPdfFileWriter(BytesIO(hybrid_pdf()))
    assert writer.prev.xrefs.hybrid_xrefs_present
    with pytest.raises(PyHankoError, match="hybrid"):
        signers.sign_pdf(
            writer,
            signers.PdfSignatureMetadata(field_name="X"),
            signer=_throwaway_signer(),
        )


def test_signed_hybrid_file_is_not_rewritten(monkeypatch: pytest.MonkeyPatch) -> None:
    from digitize.sign import normalize

    class FakeReader:
        class xrefs:
            hybrid_xrefs_present = True

        embedded_signatures = ("a signature",)

    monkeypatch.setattr(normalize, "open_pdf", lambda data: FakeReader())
    with pytest.raises(SigningError) as caught:
        normalize_for_signing(b"%PDF-")
    assert caught.value.code == "sign.hybrid_signed"


def _throwaway_signer():
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from pyhanko.sign.signers import SimpleSigner

    from tests.factories import self_signed

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = self_signed(key, "throwaway")
    return SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(
            cert.public_bytes(serialization.Encoding.DER)
        ),
        signing_key=asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        ),
        cert_registry=None,
    )
