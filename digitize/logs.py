"""Logging set-up, masking helpers and a redaction filter that keeps personal data out.

Handlers and levels are installed only by `configure_logging`, called from entry points.
"""

from __future__ import annotations

import logging
import re
import sys
import unicodedata

__all__ = ["RedactFilter", "configure_logging", "mask_id", "mask_name"]

_DIGIT_RUN = re.compile(r"(?<![0-9A-Za-z])\d{9,12}(?![0-9A-Za-z])")


def mask_id(number: str) -> str:
    """Keep the last 3 digits of an ID number: `*********789`."""
    number = number.strip()
    if len(number) <= 3:
        return "*" * len(number)
    return "*" * (len(number) - 3) + number[-3:]


def mask_name(name: str) -> str:
    """Initials only: `Nguyễn Văn An` -> `N. V. A.`."""
    parts = unicodedata.normalize("NFC", name).split()
    return " ".join(p[0].upper() + "." for p in parts if p)


def _redact(text: str) -> str:
    return _DIGIT_RUN.sub(lambda m: mask_id(m.group(0)), text)


class RedactFilter(logging.Filter):
    """Safety net: masks any run of 9-12 digits (ID and phone numbers) in a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message with digit runs masked; never drop it."""
        message = record.getMessage()
        redacted = _redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def configure_logging(
    level: str = "INFO", *, verbose: int = 0, quiet: bool = False
) -> None:
    """Install one stderr handler with the redaction filter on the `digitize` logger."""
    if verbose:
        level = "DEBUG"
    elif quiet:
        level = "WARNING"
    logger = logging.getLogger("digitize")
    logger.setLevel(level)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler.addFilter(RedactFilter())
    logger.addHandler(handler)
    logger.propagate = False
    # pyHanko logs expected validation failures as warnings with tracebacks and
    # certificate subjects; our reports carry the verdicts instead.
    for name in ("pyhanko", "pyhanko_certvalidator"):
        logging.getLogger(name).setLevel("DEBUG" if verbose else "ERROR")
