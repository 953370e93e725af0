"""Sign stage: PAdES signature with a visible stamp, validated at once; verification.

Takes the searchable PDF (bytes, or a file for long documents), gives the signed copy
(an incremental update of the input) with what was signed, by whom and when;
`verify_pdf` reports on any signed PDF.
"""

from __future__ import annotations

from digitize.sign.signing import SignedPdf, sign_pdf, sign_pdf_file
from digitize.sign.verify import SignatureReport, report_to_dict, verify_pdf

__all__ = [
    "SignatureReport",
    "SignedPdf",
    "report_to_dict",
    "sign_pdf",
    "sign_pdf_file",
    "verify_pdf",
]
