"""Data generators for tests: synthetic OCR pages with known words."""

from __future__ import annotations

from io import BytesIO

import pikepdf

from digitize.records import OcrPage, Word

A4 = (595.28, 841.89)


def ocr_page_from_lines(
    lines: list[str], *, index: int = 0, dpi: float = 300
) -> OcrPage:
    """An OcrPage whose words sit on a simple grid, one line per text line."""
    words: list[Word] = []
    for line_no, line in enumerate(lines):
        left = 200
        for text in line.split():
            width = 22 * len(text)
            words.append(
                Word(
                    text,
                    left,
                    200 + 70 * line_no,
                    width,
                    40,
                    95.0,
                    block=1,
                    par=1,
                    line=line_no + 1,
                )
            )
            left += width + 20
    return OcrPage(
        index=index,
        width_px=2480,
        height_px=3508,
        dpi=dpi,
        words=words,
        text="\n".join(lines),
        mean_conf=95.0,
    )


def make_pdf(
    size: tuple[float, float] = A4,
    *,
    text: str | None = None,
    mediabox: list[float] | None = None,
    rotate: int = 0,
) -> bytes:
    """A one-page PDF, optionally with a line of Helvetica text."""
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=size)
    if mediabox:
        page.obj.MediaBox = pikepdf.Array(mediabox)
    if rotate:
        page.obj.Rotate = rotate
    if text:
        font = pikepdf.Dictionary(
            Type=pikepdf.Name.Font,
            Subtype=pikepdf.Name.Type1,
            BaseFont=pikepdf.Name.Helvetica,
        )
        page.obj.Resources = pikepdf.Dictionary(
            Font=pikepdf.Dictionary(F1=pdf.make_indirect(font))
        )
        page.obj.Contents = pdf.make_stream(
            f"BT /F1 24 Tf 72 700 Td ({text}) Tj ET".encode("ascii")
        )
    out = BytesIO()
    pdf.save(out, static_id=True)
    return out.getvalue()


def self_signed(key, common_name: str, *, days=(-1, 1), serial: int = 1):
    """A self-signed certificate of `key` valid from days[0] to days[1] around now."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now + dt.timedelta(days=days[0]))
        .not_valid_after(now + dt.timedelta(days=days[1]))
        .sign(key, hashes.SHA256())
    )
