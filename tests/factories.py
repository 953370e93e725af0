"""Data generators for tests: synthetic OCR pages with known words."""

from __future__ import annotations

from digitize.records import OcrPage, Word


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
