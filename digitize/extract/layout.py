"""Lines of a page, and which identity paper (card side, form) each line belongs to.

A photocopy often holds the front and the back of one card, or two cards: the page is
cut into segments where the side changes or a second card title appears, and each
segment is classified by the accent-folded markers printed on it.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from digitize.extract.names import fold
from digitize.records import PageEvidence, Word

__all__ = ["Line", "Segment", "is_mrz_like", "page_lines", "split_papers"]


@dataclass
class Line:
    """One OCR line: its tokens and, when Tesseract gave them, their word boxes."""

    tokens: list[str]
    words: list[Word] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The line as text."""
        return " ".join(self.tokens)

    @property
    def folded(self) -> str:
        """The line accent-folded, for marker matching."""
        return fold(self.text)


@dataclass
class Segment:
    """Consecutive lines of one paper: card family (or form) and side."""

    family: str | None = None
    side: str | None = None
    lines: list[Line] = field(default_factory=list)
    titled: bool = False
    votes: list[str] = field(default_factory=list)
    marked_lines: int = 0

    @property
    def paper_type(self) -> str:
        """`cccd2021_front`, `cmnd_back`, `registration_form`, `id_card`, ..."""
        if self.family == "registration_form":
            return self.family
        if self.family and self.side:
            return f"{self.family}_{self.side}"
        return self.family or "id_card"


# Folded markers -> (card family or None, side). Titles also start a new paper.
_TITLES: dict[str, tuple[str, str]] = {
    "CAN CUOC CONG DAN": ("cccd2021", "front"),
    "CITIZEN IDENTITY CARD": ("cccd2021", "front"),
    "CHUNG MINH NHAN DAN": ("cmnd", "front"),
}
_MARKERS: dict[str, tuple[str | None, str]] = {
    "QUE QUAN": ("cccd2021", "front"),
    "PLACE OF ORIGIN": ("cccd2021", "front"),
    "NOI THUONG TRU": ("cccd2021", "front"),
    "CO GIA TRI DEN": ("cccd2021", "front"),
    "SO DINH DANH CA NHAN": ("cancuoc2024", "front"),
    "PERSONAL IDENTIFICATION NUMBER": ("cancuoc2024", "front"),
    "CHU DEM VA TEN KHAI SINH": ("cancuoc2024", "front"),
    "HO VA TEN": (None, "front"),
    "FULL NAME": (None, "front"),
    "DATE OF BIRTH": (None, "front"),
    "NGUYEN QUAN": ("cmnd", "front"),
    "DKHK": ("cmnd", "front"),
    "DAC DIEM NHAN DANG": ("cccd2021", "back"),
    "NGON TRO": ("cccd2021", "back"),
    "INDEX FINGER": ("cccd2021", "back"),
    "CUC TRUONG": ("cccd2021", "back"),
    "DATE MONTH YEAR": ("cccd2021", "back"),
    "NOI CU TRU": ("cancuoc2024", "back"),
    "NOI DANG KY KHAI SINH": ("cancuoc2024", "back"),
    "PLACE OF BIRTH": ("cancuoc2024", "back"),
    "NGAY THANG NAM CAP": ("cancuoc2024", "back"),
    "DATE OF ISSUE": ("cancuoc2024", "back"),
    "NGAY THANG NAM HET HAN": ("cancuoc2024", "back"),
    "BO CONG AN": ("cancuoc2024", "back"),
    "DAU VET RIENG": ("cmnd", "back"),
    "TON GIAO": ("cmnd", "back"),
}
# Titles of forms handed in at the counter (tờ khai, đơn, phiếu, giấy đề nghị).
_FORM_TITLE = re.compile(
    r"^(TO KHAI|DON (DE NGHI|DANG KY|XIN)|PHIEU (DE NGHI|DANG KY|YEU CAU|KHAI)"
    r"|GIAY DE NGHI|BAN KHAI)\b"
)
_ALL_MARKERS = [*_TITLES.items(), *_MARKERS.items()]
_FUZZY_MIN_CHARS = 12  # shorter markers must appear exactly
_MRZ_LIKE = re.compile(r"<<|[<«]{2}|^[I1l]D[VW]NM|^IDVN", re.IGNORECASE)


def page_lines(page: PageEvidence) -> list[Line]:
    """Lines from Tesseract's words (with boxes) or, lacking words, from the text."""
    if not page.words:
        return [Line(row.split()) for row in page.text.splitlines() if row.split()]
    lines: list[Line] = []
    key: tuple[int, int, int] | None = None
    for word in page.words:
        here = (word.block, word.par, word.line)
        if here != key or not lines:
            lines.append(Line([]))
            key = here
        lines[-1].tokens.append(word.text)
        lines[-1].words.append(word)
    return lines


def is_mrz_like(line: Line) -> bool:
    """True for a line that looks like OCR of an MRZ line."""
    return bool(_MRZ_LIKE.search(line.text.replace(" ", "")))


def split_papers(lines: list[Line]) -> list[Segment]:
    """Cut a page's lines into papers; lines before any marker join the first."""
    if any(_FORM_TITLE.search(line.folded) for line in lines):
        return [Segment("registration_form", None, lines, titled=True)]
    segments: list[Segment] = [Segment()]
    for line in lines:
        family, side, title = _classify_line(line)
        current = segments[-1]
        if _starts_new(current, side, title):
            segments.append(Segment())
            current = segments[-1]
        current.lines.append(line)
        current.side = current.side or side
        current.titled = current.titled or title
        current.marked_lines += bool(side) and not title
        current.votes += [family] if family else []
    for segment in segments:
        if segment.votes:
            segment.family = Counter(segment.votes).most_common(1)[0][0]
    return [s for s in segments if s.lines]


def _starts_new(current: Segment, side: str | None, title: bool) -> bool:
    if not current.lines:
        return False
    if title and current.titled:
        # A second title opens a second card once the first showed some fields;
        # `Citizen Identity Card` right under `CĂN CƯỚC CÔNG DÂN` does not.
        return current.marked_lines >= 2
    return side is not None and current.side is not None and side != current.side


def _classify_line(line: Line) -> tuple[str | None, str | None, bool]:
    """(family, side, is a title) of one line, from the best marker it holds."""
    if is_mrz_like(line):
        return None, "back", False
    folded = line.folded
    if _is_new_card_title(folded):
        return "cancuoc2024", "front", True
    best = 0.0
    found: tuple[str | None, str | None, bool] = (None, None, False)
    for marker, (family, side) in _ALL_MARKERS:
        score = _marker_score(folded, marker)
        if score > best:
            best, found = score, (family, side, marker in _TITLES)
    return found


def _is_new_card_title(folded: str) -> bool:
    """`CĂN CƯỚC` / `IDENTITY CARD` standing alone: the 2024 card's title."""
    return folded in ("CAN CUOC", "IDENTITY CARD", "CAN CUOC IDENTITY CARD")


def _marker_score(folded: str, marker: str) -> float:
    """Above 100 for an exact marker (longer is better), 90-100 fuzzy, else 0."""
    if re.search(rf"\b{marker}\b", folded):
        return 100.0 + len(marker)
    if len(marker) < _FUZZY_MIN_CHARS or len(folded) < len(marker) - 2:
        return 0.0
    score = fuzz.partial_ratio(marker, folded)
    return score if score >= 90 else 0.0
