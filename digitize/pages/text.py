"""Born-digital PDF pages: keep their own text instead of OCR-ing it again.

A page that draws visible text and holds no page-sized image is read with pdfium; its
text runs become the page's words, placed where they are printed. Text from legacy
VNI/TCVN3 fonts extracts as mojibake and is treated as absent: that page is OCR'd.
"""

from __future__ import annotations

import unicodedata

import pypdfium2 as pdfium

from digitize.pages.model import PageImage
from digitize.records import OcrPage, Word

__all__ = ["is_readable_text", "page_from_text_layer", "text_layer_words"]

# Letters and signs that Vietnamese never uses but VNI and TCVN3 text turns into when
# read as Latin-1 or Windows-1252 ("Coäng hoøa", "Céng hoµ x· héi").
_MOJIBAKE = {chr(code) for code in range(0xA1, 0xC0)} | set(  # Latin-1 signs, and:
    "\u00e4\u00eb\u00ef\u00f6\u00fc\u00ff\u00f8\u00e5\u00e6\u00e7\u00f1\u00df"
    "\u00fe\u00f0\u00c4\u00cb\u00cf\u00d6\u00dc\u00d8\u00c5\u00c6\u00c7\u00d1"
    "\u00de\u00d7\u00f7"
)
_MOJIBAKE_SHARE = 0.02
_MIN_LETTERS = 3


def is_readable_text(text: str) -> bool:
    """True when the text is real (NFC) Vietnamese or Latin text, not mojibake."""
    text = unicodedata.normalize("NFC", text)
    letters = sum(ch.isalpha() for ch in text)
    if letters < _MIN_LETTERS:
        return False
    bad = sum(
        ch in _MOJIBAKE
        or ch in "\ufffd\ufffe"
        or (unicodedata.category(ch) in ("Co", "Cc") and ch not in "\r\n\t")
        for ch in text
    )
    return bad <= _MOJIBAKE_SHARE * letters


def text_layer_words(page: pdfium.PdfPage, scale: float) -> list[Word] | None:
    """The page's visible text as positioned runs, or None when it should be OCR'd."""
    # LIMITATION: pages turned by /Rotate or with a shifted crop box are OCR'd even
    # when they hold real text -> same text, from Tesseract instead of the PDF.
    if page.get_rotation() != 0 or tuple(page.get_cropbox()[:2]) != (0, 0):
        return None
    textpage = page.get_textpage()
    try:
        if not is_readable_text(textpage.get_text_range()):
            return None
        height_pt = page.get_height()
        words = []
        for line in range(textpage.count_rects()):
            left, bottom, right, top = textpage.get_rect(line)
            run = textpage.get_text_bounded(left, bottom, right, top).strip()
            if run:
                words.append(
                    Word(
                        text=unicodedata.normalize("NFC", " ".join(run.split())),
                        left=round(left * scale),
                        top=round((height_pt - top) * scale),
                        width=max(1, round((right - left) * scale)),
                        height=max(1, round((top - bottom) * scale)),
                        conf=100.0,
                        block=1,
                        par=1,
                        line=line + 1,
                    )
                )
        return words or None
    finally:
        textpage.close()


def page_from_text_layer(page: PageImage) -> OcrPage:
    """An OCR-like reading built from the page's own text layer."""
    words = page.words or []
    return OcrPage(
        index=page.index,
        width_px=page.image.width,
        height_px=page.image.height,
        dpi=page.dpi,
        words=words,
        text="\n".join(word.text for word in words),
        mean_conf=100.0,
    )
