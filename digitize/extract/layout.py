"""Lines of a page, and which identity paper (card side, form) each line belongs to.

Whole-page papers (birth certificate, CT07 residence confirmation, business
registration, registration forms) are told by their title. A photocopy often holds
the front and the back of one card, or two cards, side by side or one above the
other: the page's word boxes are first cut into columns where a wide empty strip runs
from top to bottom, then each column's lines (top to bottom) into segments where the
side changes or a second card title appears; each segment is classified by the
accent-folded markers printed on it.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field, replace

from rapidfuzz import fuzz

from digitize.extract.names import fold
from digitize.records import PageEvidence, Word

__all__ = [
    "CHIP_FAMILIES",
    "DOCUMENT_TYPES",
    "Line",
    "Segment",
    "is_mrz_like",
    "page_lines",
    "split_columns",
    "split_papers",
]

CHIP_FAMILIES = ("cccd2021", "cancuoc2024")  # cards with a QR code and an MRZ
DOCUMENT_TYPES = (
    "birth_certificate",
    "residence_confirmation",
    "business_registration",
    "registration_form",
)


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

    @property
    def middle_y(self) -> float:
        """Mean height of the word centres (0 without boxes)."""
        if not self.words:
            return 0.0
        return statistics.fmean(w.top + w.height / 2 for w in self.words)


@dataclass
class Segment:
    """Consecutive lines of one paper: card family (or document type) and side."""

    family: str | None = None
    side: str | None = None
    lines: list[Line] = field(default_factory=list)
    titled: bool = False
    votes: list[str] = field(default_factory=list)
    marked_lines: int = 0
    english: int = (
        0  # lines with English labels: only the 2021 and 2024 cards have them
    )

    @property
    def paper_type(self) -> str:
        """`cccd2021_front`, `cmnd_back`, `birth_certificate`, `id_card`, ..."""
        if self.family in DOCUMENT_TYPES:
            return self.family
        if self.family and self.side:
            return f"{self.family}_{self.side}"
        return self.family or "id_card"


# Titles of whole-page papers, folded; each must fill its line.
_DOCUMENT_TITLES = (
    ("GIAY KHAI SINH", "birth_certificate"),
    ("BAN SAO GIAY KHAI SINH", "birth_certificate"),
    ("GIAY XAC NHAN THONG TIN VE CU TRU", "residence_confirmation"),
    ("GIAY CHUNG NHAN DANG KY DOANH NGHIEP", "business_registration"),
)
# Titles of forms handed in at the counter (tờ khai, đơn, phiếu, giấy đề nghị).
_FORM_TITLE = re.compile(
    r"^(TO KHAI|DON (DE NGHI|DANG KY|XIN)|PHIEU (DE NGHI|DANG KY|YEU CAU|KHAI)"
    r"|GIAY DE NGHI|BAN KHAI)\b"
)
# Where the holder's own fields end on a whole-page paper: parents on a birth
# certificate, the household head on a CT07.
_SECTION_ENDS = {
    "birth_certificate": re.compile(r"\bNGUOI (ME|CHA)\b|NGUOI DI KHAI SINH"),
    "residence_confirmation": re.compile(r"\bTEN CHU HO\b"),
}
# Folded card titles -> (family, side). `cccd` is the 2016 or the 2021 card: the
# 2021 card is the one with English labels.
_TITLES: dict[str, tuple[str, str]] = {
    "CAN CUOC CONG DAN": ("cccd", "front"),
    "CITIZEN IDENTITY CARD": ("cccd2021", "front"),
    "CHUNG MINH NHAN DAN": ("cmnd", "front"),
}
_MARKERS: dict[str, tuple[str | None, str]] = {
    "QUE QUAN": ("cccd", "front"),
    "PLACE OF ORIGIN": ("cccd2021", "front"),
    "NOI THUONG TRU": ("cccd", "front"),
    "CO GIA TRI DEN": ("cccd", "front"),
    "SO DINH DANH CA NHAN": ("cancuoc2024", "front"),
    "PERSONAL IDENTIFICATION NUMBER": ("cancuoc2024", "front"),
    "CHU DEM VA TEN KHAI SINH": ("cancuoc2024", "front"),
    "HO VA TEN": (None, "front"),
    "FULL NAME": (None, "front"),
    "DATE OF BIRTH": (None, "front"),
    "NGAY THANG NAM SINH": (None, "front"),
    "NGUYEN QUAN": ("cmnd", "front"),
    "DKHK": ("cmnd", "front"),
    "DAC DIEM NHAN DANG": ("cccd", "back"),
    "PERSONAL IDENTIFICATION": ("cccd2021", "back"),
    "NGON TRO": (None, "back"),
    "INDEX FINGER": (None, "back"),
    "CUC TRUONG": ("cccd", "back"),
    # LIMITATION: the 2016 card's barcode is not decoded (its payload is not
    # published) -> both sides are read from print only and stay unverified.
    "DKQL CU TRU": ("cccd2016", "back"),
    "DLQG VE DAN CU": ("cccd2016", "back"),
    "QUAN LY HANH CHINH VE TRAT TU XA HOI": ("cccd2021", "back"),
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
    "GIAM DOC CA": ("cmnd", "back"),
}
# English printed only on the bilingual 2021 and 2024 cards.
_ENGLISH = re.compile(
    r"\b(SOCIALIST REPUBLIC|INDEPENDENCE|FREEDOM|HAPPINESS|IDENTITY CARD|FULL NAME"
    r"|DATE OF (BIRTH|EXPIRY|ISSUE)|PLACE OF (ORIGIN|RESIDENCE|BIRTH)|NATIONALITY"
    r"|PERSONAL IDENTIFICATION|INDEX FINGER|DATE MONTH YEAR|PUBLIC SECURITY)\b"
)
_ALL_MARKERS = [*_TITLES.items(), *_MARKERS.items()]
_FUZZY_MIN_CHARS = 12  # shorter markers must appear exactly
_MRZ_LIKE = re.compile(r"<<|[<«]{2}|^[I1l]D[VW]NM|^IDVN", re.IGNORECASE)
_MIN_COLUMN_WORDS = 5
_GLUED = re.compile(r"^(\S*[^\W\d_]:)(\w.*)$")  # `tính/Sex:NỮ`, not `10:30`
_GAP_HEIGHTS = 3.0  # a column gap is at least this many word heights wide


def page_lines(page: PageEvidence) -> list[Line]:
    """Lines from Tesseract's words (with boxes) or, lacking words, from the text."""
    if not page.words:
        rows = [
            re.sub(r"([^\W\d_]:)(?=\w)", r"\1 ", row) for row in page.text.splitlines()
        ]
        return [Line(row.split()) for row in rows if row.split()]
    return lines_of(page.words)


def lines_of(words: list[Word]) -> list[Line]:
    """Words grouped into Tesseract's lines, top to bottom."""
    lines: list[Line] = []
    key: tuple[int, int, int] | None = None
    for word in words:
        here = (word.block, word.par, word.line)
        if here != key or not lines:
            lines.append(Line([]))
            key = here
        for part in _split_glued(word):
            lines[-1].tokens.append(part.text)
            lines[-1].words.append(part)
    return sorted(lines, key=lambda line: line.middle_y)


def _split_glued(word: Word) -> list[Word]:
    """`tính:Nam` as `tính:` and `Nam`, each with its share of the box."""
    match = _GLUED.match(word.text)
    if not match:
        return [word]
    head, tail = match.group(1), match.group(2)
    cut = round(word.width * len(head) / len(word.text))
    return [
        replace(word, text=head, width=cut),
        replace(word, text=tail, left=word.left + cut, width=word.width - cut),
    ]


def is_mrz_like(line: Line) -> bool:
    """True for a line that looks like OCR of an MRZ line."""
    return bool(_MRZ_LIKE.search(line.text.replace(" ", "")))


def split_columns(words: list[Word]) -> list[list[Word]]:
    """Words left and right of the widest empty vertical strip, if one is wide enough.

    Only words of two or more letters or digits read with some confidence count,
    so that specks on a photo or a fingerprint do not bridge the gap.
    """
    solid = [w for w in words if w.conf >= 40 and len(re.findall(r"\w", w.text)) >= 2]
    if len(solid) < 2 * _MIN_COLUMN_WORDS:
        return [words]
    height = statistics.median(w.height for w in solid)
    spans = sorted((w.left, w.left + w.width) for w in solid)
    best_gap, cut = 0.0, None
    reach = spans[0][1]
    for left, right in spans[1:]:
        if left - reach > best_gap:
            best_gap, cut = left - reach, (left + reach) / 2
        reach = max(reach, right)
    if cut is None or best_gap < _GAP_HEIGHTS * height:
        return [words]
    columns = [
        [w for w in words if w.left + w.width / 2 < cut],
        [w for w in words if w.left + w.width / 2 >= cut],
    ]
    if min(sum(w in solid for w in column) for column in columns) < _MIN_COLUMN_WORDS:
        return [words]
    return columns


def document_type(lines: list[Line]) -> str | None:
    """The type of a whole-page paper from its title, or None for cards and others."""
    for line in lines:
        folded = line.folded
        if _FORM_TITLE.search(folded):
            return "registration_form"
        for title, kind in _DOCUMENT_TITLES:
            if abs(len(folded) - len(title)) <= 4 and fuzz.ratio(folded, title) >= 88:
                return kind
    return None


def holder_lines(kind: str, lines: list[Line]) -> list[Line]:
    """The lines of a whole-page paper up to where other people's fields begin."""
    end = _SECTION_ENDS.get(kind)
    if end is None:
        return lines
    for index, line in enumerate(lines):
        if end.search(line.folded):
            return lines[:index]
    return lines


def split_papers(lines: list[Line]) -> list[Segment]:
    """Cut a column's lines into papers; lines before any marker join the first."""
    kind = document_type(lines)
    if kind is not None:
        return [Segment(kind, None, holder_lines(kind, lines), titled=True)]
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
        current.english += bool(_ENGLISH.search(line.folded))
    for segment in segments:
        segment.family = _family_of(segment)
    return [s for s in segments if s.lines]


def _family_of(segment: Segment) -> str | None:
    """The most voted family; `cccd` is the 2021 card when English is printed."""
    if not segment.votes:
        return "cccd2021" if segment.english and segment.side == "back" else None
    generic = "cccd2021" if segment.english else "cccd2016"
    if "cccd2021" in segment.votes:
        generic = "cccd2021"
    votes = [generic if v == "cccd" else v for v in segment.votes]
    return Counter(votes).most_common(1)[0][0]


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
