"""Typed records passed between the pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "IDENTITY_FIELDS",
    "Field",
    "FieldSource",
    "OcrPage",
    "PageEvidence",
    "Paper",
    "Word",
]

FieldSource = Literal["qr", "mrz", "ocr"]

# The canonical identity fields, in display order (identity-papers.md section 1.5).
IDENTITY_FIELDS = (
    "id_number",
    "old_id_number",
    "full_name",
    "date_of_birth",
    "sex",
    "nationality",
    "place_of_origin",
    "place_of_birth",
    "residence",
    "issue_date",
    "expiry_date",
)


@dataclass(frozen=True, slots=True)
class Word:
    """One word Tesseract read, with its box in page pixels."""

    text: str
    left: int
    top: int
    width: int
    height: int
    conf: float
    block: int = 0
    par: int = 0
    line: int = 0


@dataclass
class OcrPage:
    """The OCR result of one upright page."""

    index: int
    width_px: int
    height_px: int
    dpi: float
    words: list[Word]
    text: str
    mean_conf: float
    rotation_deg: int = 0
    seconds: float = 0.0


@dataclass
class PageEvidence:
    """Everything the extraction stage may read about one page: pure data, no files."""

    index: int
    text: str
    words: list[Word] = field(default_factory=list)
    qr_payloads: list[str] = field(default_factory=list)
    mrz_lines: list[str] = field(default_factory=list)
    field_reads: dict[str, tuple[str, float]] = field(default_factory=dict)
    """Field values read again from their crop: box `l,t,r,b` -> (text, conf 0-100)."""


@dataclass
class Field:
    """One extracted identity field, with where it came from and how sure we are."""

    name: str
    value: str
    raw: str
    source: FieldSource
    confidence: float
    checks_passed: list[str] = field(default_factory=list)
    checks_failed: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        """True when the value passed its checks and nothing contradicts it."""
        return not self.checks_failed and self.confidence >= 0.9


@dataclass
class Paper:
    """One identity paper (a card side, a form) found on a page, with its fields."""

    page_index: int
    paper_type: str
    fields: dict[str, Field] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def value(self, name: str) -> str | None:
        """The value of field `name`, or None when it was not found."""
        found = self.fields.get(name)
        return found.value if found else None
