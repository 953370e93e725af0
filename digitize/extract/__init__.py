"""Extraction stage: identity papers and their fields from page evidence (pure).

Takes what OCR and the machine-layer readers found on each page (text, words, QR
payloads, MRZ lines) and gives one `Paper` per identity paper found: one per card
side when a photocopy holds both sides of a card, one per registration form. Pages
with nothing identity-like give none. No file or Tesseract access here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from digitize.extract.layout import (
    CHIP_FAMILIES,
    DOCUMENT_TYPES,
    Segment,
    lines_of,
    page_lines,
    split_columns,
    split_papers,
)
from digitize.extract.merge import cross_check_sides, merge_fields
from digitize.extract.mrz import MrzData, parse_td1
from digitize.extract.printed import (
    PrintedValue,
    find_dated_line,
    find_loose_name,
    find_words_date,
    read_printed,
)
from digitize.extract.qr import QrData, parse_qr_payload
from digitize.extract.sources import mrz_fields, ocr_fields, qr_fields
from digitize.records import Field, PageEvidence, Paper

__all__ = [
    "classify_page",
    "extract_page",
    "extract_papers",
    "page_segments",
    "value_boxes",
]

log = logging.getLogger(__name__)

_DISAGREED_CONF = 0.6  # as merge.py lowers a field two readings disagree on
# A paper needs at least one of these to count as identity-like.
_IDENTITY_FIELDS = ("id_number", "old_id_number", "full_name", "date_of_birth")
# Fields the crop reader reads again (the rest are read once, from the page).
_REREAD = frozenset(
    {
        "id_number", "old_id_number", "full_name", "date_of_birth", "sex",
        "issue_date", "expiry_date", "place_of_origin", "place_of_birth", "residence",
    }
)  # fmt: skip
_CARD_FAMILIES = ("cccd2021_", "cancuoc2024_", "cccd2016_", "cmnd_")
# Where each card carries its QR code (identity-papers.md section 1).
_QR_SIDES: list[tuple[str | None, ...]] = [
    ("cccd2021", "front"),
    ("cancuoc2024", "back"),
    (None, None),
    (None,),
]


@dataclass
class _Slot:
    """One paper being assembled: its page segment and the evidence found for it."""

    segment: Segment
    ocr: dict[str, Field] = field(default_factory=dict)
    groups: list[dict[str, Field]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def extract_papers(pages: list[PageEvidence]) -> list[Paper]:
    """Identity papers found on `pages`, in page order."""
    papers: list[Paper] = []
    for page in pages:
        papers += extract_page(page)
    return papers


def classify_page(page: PageEvidence) -> list[str]:
    """Paper types on one page, in reading order; `["other"]` for a plain page."""
    types = [paper.paper_type for paper in extract_page(page)]
    return types or ["other"]


def extract_page(page: PageEvidence) -> list[Paper]:
    """Identity papers found on one page."""
    slots = [_Slot(segment) for segment in page_segments(page)]
    for slot in slots:
        printed = read_printed(slot.segment.lines)
        _fill_unlabelled(slot.segment, printed)
        slot.ocr = ocr_fields(printed, slot.segment.paper_type, page.field_reads)
        _check_words_date(slot)
        slot.groups.append(slot.ocr)
    mrz = parse_td1(page.mrz_lines) if page.mrz_lines else None
    if mrz and mrz.any_check_digit_passed:
        _attach_mrz(slots, mrz)
    for payload in page.qr_payloads:
        qr = parse_qr_payload(payload)
        if qr:
            _attach_qr(slots, qr)
    papers = [_make_paper(page.index, slot) for slot in slots]
    papers = [p for p in papers if _is_identity_like(p)]
    _check_sides(papers)
    log.debug("page %d: %d segments, %d papers", page.index, len(slots), len(papers))
    return papers


def value_boxes(page: PageEvidence) -> list[tuple[str, str]]:
    """(field, `box_key`) of the values worth reading again, for the crop reader."""
    boxes: list[tuple[str, str]] = []
    for segment in page_segments(page):
        printed = read_printed(segment.lines)
        _fill_unlabelled(segment, printed)
        for name, found in printed.items():
            if name in _REREAD:
                boxes += [(name, b) for b in found.boxes if (name, b) not in boxes]
    return boxes


def _check_words_date(slot: _Slot) -> None:
    """A birth certificate's date of birth in digits against the same in words."""
    dob = slot.ocr.get("date_of_birth")
    if slot.segment.paper_type != "birth_certificate" or dob is None or not dob.value:
        return
    in_words = find_words_date(slot.segment.lines)
    if in_words is None:
        return
    if in_words == dob.value:
        dob.checks_passed.append("digits.vs.words")
    else:
        dob.checks_failed.append("digits.vs.words")
        dob.confidence = min(dob.confidence, _DISAGREED_CONF)


def _fill_unlabelled(segment: Segment, printed: dict[str, PrintedValue]) -> None:
    """Fields found without their label: a CMND's issue date, a lost name label."""
    if segment.paper_type == "cmnd_back" and "issue_date" not in printed:
        found = find_dated_line(segment.lines)  # `Ngày … tháng … năm …`
        printed |= {"issue_date": found} if found else {}
    is_front = segment.side == "front" or segment.paper_type in DOCUMENT_TYPES
    if is_front and "full_name" not in printed:
        found = find_loose_name(segment.lines)
        printed |= {"full_name": found} if found else {}


def page_segments(page: PageEvidence) -> list[Segment]:
    """The papers of a page: per column when two cards lie side by side."""
    whole = split_papers(page_lines(page))
    columns = split_columns(page.words) if page.words else []
    if len(columns) < 2:
        return whole
    parts = [split_papers(lines_of(column)) for column in columns]
    if _is_side_by_side(parts):
        return [segment for part in parts for segment in part]
    return whole


def _is_side_by_side(parts: list[list[Segment]]) -> bool:
    """Each column holds a paper of its own: other sides, or a title each."""
    firsts = [next((s for s in part if s.side or s.titled), None) for part in parts]
    if any(first is None for first in firsts):
        return False
    left, right = firsts
    assert left is not None and right is not None  # for the type checker
    return left.side != right.side or (left.titled and right.titled)


def _attach_mrz(slots: list[_Slot], mrz: MrzData) -> None:
    """The MRZ belongs to a chip card's back; add one when the text showed none."""
    slot = _find_slot(slots, [("back",), (None,)])
    if slot is None:
        slot = _new_slot(slots, _page_family(slots) or "cccd2021", "back")
    slot.groups.append(mrz_fields(mrz))
    if mrz.checks_failed:
        slot.notes.append("mrz: " + ", ".join(mrz.checks_failed) + " failed")


def _attach_qr(slots: list[_Slot], qr: QrData) -> None:
    """The QR goes to the side that carries it, else to the paper showing its number."""
    slot = _find_slot(slots, _QR_SIDES[:2])
    slot = slot or next((s for s in slots if _ocr_number(s) == qr.id_number), None)
    slot = slot or _find_slot(slots, _QR_SIDES[2:])
    if slot is None:
        family = _page_family(slots) or qr.card
        slot = _new_slot(slots, family, "back" if family == "cancuoc2024" else "front")
    slot.groups.insert(0, qr_fields(qr))


def _find_slot(
    slots: list[_Slot], wanted: list[tuple[str | None, ...]]
) -> _Slot | None:
    """The first chip-card slot whose side (or family and side) is wanted, in order."""
    for pattern in wanted:
        for slot in slots:
            seg = slot.segment
            if seg.family not in (*CHIP_FAMILIES, None):
                continue
            if (seg.side,) == pattern or (seg.family, seg.side) == pattern:
                return slot
    return None


def _page_family(slots: list[_Slot]) -> str | None:
    families = {s.segment.family for s in slots} & set(CHIP_FAMILIES)
    return families.pop() if len(families) == 1 else None


def _new_slot(slots: list[_Slot], family: str, side: str) -> _Slot:
    slot = _Slot(Segment(family=family, side=side))
    slots.append(slot)
    return slot


def _ocr_number(slot: _Slot) -> str | None:
    found = slot.ocr.get("id_number")
    return found.value if found else None


def _is_identity_like(paper: Paper) -> bool:
    """A paper with a personal field, or a recognised card side with any field."""
    if any(name in paper.fields for name in _IDENTITY_FIELDS):
        return True
    return bool(paper.fields) and paper.paper_type.startswith(_CARD_FAMILIES)


def _make_paper(page_index: int, slot: _Slot) -> Paper:
    fields, warnings = merge_fields(slot.groups)
    paper = Paper(page_index=page_index, paper_type=slot.segment.paper_type)
    paper.fields = dict(sorted(fields.items()))
    paper.warnings = slot.notes + warnings
    if not {"id_number", "old_id_number"} & paper.fields.keys():
        paper.warnings.append("id_number: not found")
    return paper


def _check_sides(papers: list[Paper]) -> None:
    """Cross-check the two sides when a page holds one card's front and back."""
    if len(papers) != 2:
        return
    sides = {p.paper_type.rpartition("_")[2]: p for p in papers}
    families = {p.paper_type.rpartition("_")[0] for p in papers}
    if sides.keys() == {"front", "back"} and len(families) == 1:
        cross_check_sides(sides["front"], sides["back"])
