"""Reason files: what went wrong with a quarantined file, where, and what to do next."""

from __future__ import annotations

import json
import os
import tempfile
import traceback
from pathlib import Path
from typing import Any

from digitize.errors import DigitizeError
from digitize.pages.model import short_message
from digitize.store import now_iso

__all__ = ["RELEASE", "reason_for", "write_reason"]

RELEASE = (
    "to try again, move the file (not this .reason.json) back into the inbox folder "
    "it came from; it is taken as a new file"
)

# What the operator can do, per error code; the error's own message says what is wrong.
_WHAT_TO_DO = {
    "input.empty": "scan the paper again; the file arrived without content",
    "input.unsupported_format": "save the scan as PDF, TIFF, JPEG or PNG and drop it "
    "again",
    "input.encrypted": "ask for a copy without an opening password, or print and scan",
    "input.damaged_pdf": "open it in a viewer: if it shows, print to a new PDF; else "
    "ask for a new copy",
    "input.damaged_image": "scan the paper again or re-save the image",
    "input.too_many_pages": "split the document, or raise max.pages in the settings",
    "input.too_many_pixels": "scan at 300 dpi, or raise max.pixels if such pages are "
    "genuine",
    "input.too_large": "split the document, or raise max.file_mb",
    "input.no_pages": "the document has no pages; scan it again",
    "input.symlink": "copy the file itself into the inbox instead of a link",
    "input.hard_link": "copy the file into the inbox instead of hard-linking it",
    "input.not_regular": "remove it; only scan files belong in the inbox",
    "input.outside_inbox": "copy the file itself into the inbox",
    "input.unreadable": "check the share's permissions and locks, then release it",
    "ingest.crashed": "report it with this file: the worker stopped while reading it",
    "tool.timeout": "raise ocr.timeout_s if such pages are expected, then release it",
}
_DEFAULT = "fix the cause named in the message, then release the file"


def reason_for(
    err: BaseException,
    *,
    file: str,
    sha256: str | None,
    stage: str = "",
    attempts: int = 0,
) -> dict[str, Any]:
    """The reason-file content for an error met while ingesting `file` (NFC name).

    `stage` names where it happened when the caller knows better than the error class.
    """
    if isinstance(err, DigitizeError):
        code, message = err.code, err.message
    else:
        code = "internal.error"
        message = f"unexpected {type(err).__name__}; see the log for the traceback"
    cause = err.__cause__ or err.__context__
    return {
        "file": file,
        "sha256": sha256,
        "code": code,
        "class": type(err).__name__,
        "stage": stage or (err.stage if isinstance(err, DigitizeError) else "unknown"),
        "message": message,
        "tool_message": _tool_message(cause) if cause else "",
        "what_to_do": _WHAT_TO_DO.get(code, _DEFAULT),
        "attempts": attempts,
        "time": now_iso(),
        "release": RELEASE,
    }


def _tool_message(cause: BaseException) -> str:
    """The library's or program's own words, cut short."""
    lines = traceback.format_exception_only(type(cause), cause)
    return short_message("".join(lines))  # without the work copy's path


def write_reason(target: Path, reason: dict[str, Any]) -> Path:
    """Write `<target>.reason.json` atomically; return its path."""
    path = target.with_name(target.name + ".reason.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-reason-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(reason, handle, ensure_ascii=False, indent=2)
        handle.write("\n")
    Path(tmp).replace(path)
    return path
