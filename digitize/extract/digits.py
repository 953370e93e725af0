"""OCR digit repair, applied only where a field is known to be numeric."""

from __future__ import annotations

__all__ = ["DIGITISH", "count_digits", "repair_digits"]

# Letters Tesseract returns for digits (identity-papers.md section 5).
_TO_DIGIT = str.maketrans(
    {
        **dict.fromkeys("OoDQ", "0"),
        **dict.fromkeys("Iil|!", "1"),
        **dict.fromkeys("Zz", "2"),
        **dict.fromkeys("Ss", "5"),
        **dict.fromkeys("Gb", "6"),
        "B": "8",
        **dict.fromkeys("gq", "9"),
    }
)
# A regex character class of digits and the letters that stand for them.
DIGITISH = r"[0-9OoDQIil|!ZzSsGbBgq]"


def repair_digits(text: str) -> str:
    """Map look-alike letters to digits (`O`->0, `l`->1, `B`->8, ...); keep the rest."""
    return text.translate(_TO_DIGIT)


def count_digits(text: str) -> int:
    """How many real ASCII digits `text` holds."""
    return sum(c in "0123456789" for c in text)
