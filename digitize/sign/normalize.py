"""Normalise a PDF before signing: rewrite hybrid cross-reference files.

Hybrid files (a classic xref table plus an /XRefStm, as MS Word writes them) can be
read two ways; pyHanko refuses to sign them in strict mode for that reason. A rewrite
by qpdf (pikepdf) gives one unambiguous cross-reference section; the caller keeps the
original and stores the rewrite as the derivative that is signed.
"""

from __future__ import annotations

import logging
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

import pikepdf
from pyhanko.pdf_utils.reader import PdfFileReader

from digitize.errors import SigningError
from digitize.sign.verify import open_pdf

__all__ = ["has_hybrid_xrefs", "normalize_file_for_signing", "normalize_for_signing"]

log = logging.getLogger(__name__)


def has_hybrid_xrefs(pdf: bytes) -> bool:
    """True when the file has a cross-reference table with a hybrid /XRefStm."""
    return bool(open_pdf(pdf).xrefs.hybrid_xrefs_present)


def normalize_for_signing(pdf: bytes) -> tuple[bytes, bool]:
    """`pdf` itself when pyHanko can sign it as is, else its qpdf rewrite.

    Returns:
        The bytes to sign, and whether they are a rewrite.

    Raises:
        SigningError: not a readable PDF, or a signed hybrid file (a rewrite would
            break its signatures; code sign.hybrid_signed).
    """
    if not _must_rewrite(open_pdf(pdf)):
        return pdf, False
    out = BytesIO()
    _rewrite(BytesIO(pdf), out)
    return out.getvalue(), True


def normalize_file_for_signing(path: Path) -> Path:
    """`path` when pyHanko can sign it as is, else its rewrite `<path>.normalized.pdf`.

    Raises:
        SigningError: as `normalize_for_signing`.
    """
    with path.open("rb") as handle:
        if not _must_rewrite(open_pdf(handle)):
            return path
    target = path.with_name(path.name + ".normalized.pdf")
    _rewrite(path, target)
    return target


def _must_rewrite(reader: PdfFileReader) -> bool:
    if not reader.xrefs.hybrid_xrefs_present:
        return False
    if reader.embedded_signatures:
        raise SigningError(
            "the PDF is already signed and has hybrid cross-reference sections; "
            "it cannot be rewritten without breaking its signatures, so it is not "
            "signed again",
            code="sign.hybrid_signed",
        )
    return True


def _rewrite(source: BinaryIO | Path, target: BinaryIO | Path) -> None:
    try:
        with pikepdf.open(source) as pdf:
            pdf.save(target, object_stream_mode=pikepdf.ObjectStreamMode.preserve)
    except pikepdf.PdfError as err:
        raise SigningError(
            f"the PDF has hybrid cross-reference sections and qpdf could not rewrite "
            f"it ({err}); repair it and try again",
            code="sign.damaged_pdf",
        ) from err
    log.info("normalised a hybrid-xref PDF before signing")
