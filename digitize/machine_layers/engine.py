"""Tesseract for small crops: one in-process API per thread and language.

Full pages go through the command-line wrapper (`digitize.tools.tesseract`); field
and MRZ crops are many and small, where starting a process and loading the model
costs ten times the recognition. tesserocr keeps one `PyTessBaseAPI` per thread and
language (about 8 ms per field crop instead of about 80 ms); without tesserocr the
command line is used.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import Any

from PIL import Image

from digitize.errors import DigitizeError
from digitize.tools.tesseract import ocr_image, run_tool

__all__ = ["CropText", "read_crop"]

log = logging.getLogger(__name__)

# libtesseract starts OpenMP threads unless told not to; pages already run in
# parallel (tools/tesseract.py sets the same for the command line).
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

try:
    import tesserocr  # type: ignore[import-untyped, import-not-found, unused-ignore]
except ImportError:  # pragma: no cover - the command line is used instead
    tesserocr = None

_local = threading.local()


@dataclass(frozen=True)
class CropText:
    """What Tesseract read in a crop and its mean word confidence (0-100)."""

    text: str
    conf: float


@cache
def _tessdata() -> str | None:
    """The command-line Tesseract's language folder, shared with tesserocr."""
    try:
        out = run_tool(["tesseract", "--list-langs"], timeout_s=30, name="tesseract")
    except DigitizeError:
        return None  # tesserocr's own default folder is tried instead
    found = re.search(r'"([^"]+)"', out.decode("utf-8", "replace"))
    return found.group(1) if found else None


def _api(lang: str) -> Any:  # tesserocr ships no type hints
    apis = getattr(_local, "apis", None)
    if apis is None:
        apis = _local.apis = {}
    if lang not in apis:
        path = _tessdata()
        kwargs = {"path": path} if path else {}
        apis[lang] = tesserocr.PyTessBaseAPI(lang=lang, **kwargs)
    return apis[lang]


def read_crop(
    image: Image.Image,
    *,
    lang: str = "vie",
    psm: int = 7,
    config: dict[str, str] | None = None,
) -> CropText:
    """OCR one small image (a field value, an MRZ band)."""
    if tesserocr is None:
        result = ocr_image(image, lang=lang, psm=psm, dpi=300, config=config)
        return CropText(result.text.strip(), result.mean_conf)
    api = _api(lang)
    api.SetPageSegMode(psm)
    for key, value in (config or {}).items():
        api.SetVariable(key, value)
    api.SetImage(image)
    api.SetSourceResolution(300)
    text = unicodedata.normalize("NFC", api.GetUTF8Text()).strip()
    conf = float(api.MeanTextConf())
    for key in config or {}:
        api.SetVariable(key, "")
    return CropText(text, conf)
