"""Printed labels of identity fields, and finding them in OCR lines.

`FIELD_LABELS` is the one table mapping each canonical field to the labels printed for
it on CMND, chip CCCD (2021), Căn cước (2024) and registration forms. Labels are
matched on accent-folded words, fuzzily, so OCR slips in marks or letters still match.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, replace

from rapidfuzz import fuzz

from digitize.extract.names import fold

__all__ = ["FIELD_LABELS", "STOP_LABELS", "LabelHit", "Unit", "find_labels", "units_of"]

# canonical field -> (Vietnamese labels, English labels of bilingual cards).
FIELD_LABELS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "id_number": (
        ("Số định danh cá nhân", "Số CCCD", "Số căn cước công dân", "Số căn cước",
         "Số CMND/CCCD", "Số CCCD/CMND", "Số giấy tờ pháp lý của cá nhân", "Số"),
        ("Personal identification number", "No."),
    ),
    "old_id_number": (
        ("Số CMND", "Số chứng minh nhân dân", "Số CMND cũ"),
        ("Old ID number",),
    ),
    "full_name": (
        ("Họ, chữ đệm và tên khai sinh", "Họ, chữ đệm và tên", "Họ, chữ đệm, tên",
         "Họ và tên", "Họ tên"),
        ("Full name",),
    ),
    "date_of_birth": (
        ("Ngày, tháng, năm sinh", "Ngày sinh", "Sinh ngày", "Năm sinh"),
        ("Date of birth",),
    ),
    "sex": (("Giới tính",), ("Sex",)),
    "nationality": (("Quốc tịch",), ("Nationality",)),
    "place_of_origin": (("Quê quán", "Nguyên quán"), ("Place of origin",)),
    "place_of_birth": (("Nơi đăng ký khai sinh", "Nơi sinh"), ("Place of birth",)),
    "residence": (
        ("Nơi thường trú", "Nơi cư trú", "Nơi ĐKHK thường trú", "Địa chỉ thường trú",
         "Nơi ở hiện tại"),
        ("Place of residence",),
    ),
    "issue_date": (
        ("Ngày, tháng, năm cấp", "Ngày cấp", "Ngày, tháng, năm"),
        ("Date of issue", "Date, month, year"),
    ),
    "expiry_date": (
        ("Có giá trị đến", "Ngày, tháng, năm hết hạn"),
        ("Date of expiry",),
    ),
    "enterprise_code": (("Mã số doanh nghiệp", "Mã số thuế"), ()),
    "company_name": (("Tên công ty viết bằng tiếng Việt", "Tên doanh nghiệp"), ()),
}  # fmt: skip
# Labels of fields we do not extract: a value ends where one of them starts.
STOP_LABELS: tuple[str, ...] = (
    "Dân tộc", "Tôn giáo", "Đặc điểm nhân dạng", "Đặc điểm nhận dạng",
    "Personal identification", "Dấu vết riêng và dị hình", "Số điện thoại",
    "Nghề nghiệp", "Ethnicity", "Religion", "Email", "Ghi bằng chữ",
    "Tên công ty viết bằng tiếng nước ngoài", "Tên công ty viết tắt",
    "Loại giấy tờ pháp lý của cá nhân", "Nơi cấp", "Chức danh", "Quan hệ với chủ hộ",
    "Địa chỉ trụ sở chính", "Nơi tạm trú",
)  # fmt: skip
_SHORT = 4  # labels this short (folded, no spaces) must match exactly where allowed
_SEPARATORS = frozenset(":;/|.…_-")
_MIN_SCORE = 86.0  # NGUYEN VAN scores 84 against Nguyên quán
_MIN_SPLIT_SCORE = 92.0  # for a window one word longer or shorter than the label


@dataclass(frozen=True)
class Unit:
    """One folded word of a line, with the index of the OCR token it came from."""

    word: str
    token: int
    after_slash: bool  # first on the line, or after `/` or bare punctuation
    sep_after: bool  # followed by `:`, `/`, dots or similar, as labels are


@dataclass(frozen=True)
class LabelHit:
    """A label found in a line: units [start, end) and the field it names."""

    field: str  # "" for a stop label
    start: int
    end: int
    score: float
    english: bool


@dataclass(frozen=True)
class _Label:
    field: str
    words: tuple[str, ...]
    english: bool

    @property
    def joined(self) -> str:
        return "".join(self.words)


def _build_labels() -> list[_Label]:
    labels = [
        _Label(name, tuple(fold(text).split()), english)
        for name, (vi, en) in FIELD_LABELS.items()
        for english, texts in ((False, vi), (True, en))
        for text in texts
    ]
    labels += [_Label("", tuple(fold(t).split()), False) for t in STOP_LABELS]
    return sorted(labels, key=lambda label: -len(label.joined))


_LABELS = _build_labels()


def units_of(tokens: list[str]) -> list[Unit]:
    """The folded words of a line's tokens (`Họ,chữ` gives two units)."""
    units: list[Unit] = []
    slash = True
    for index, token in enumerate(tokens):
        parts = token.split("/")
        for number, part in enumerate(parts):
            slash = slash or number > 0
            words = fold(part).split()
            for count, word in enumerate(words, 1):
                last = count == len(words)
                sep = last and (number < len(parts) - 1 or _ends_with_separator(part))
                units.append(Unit(word, index, slash, sep))
                slash = False
        if not fold(token):
            slash = True
            if units and units[-1].token == index - 1 and _ends_with_separator(token):
                units[-1] = replace(units[-1], sep_after=True)
    return units


def _ends_with_separator(text: str) -> bool:
    return bool(text) and text.rstrip()[-1:] in _SEPARATORS


def find_labels(units: list[Unit]) -> list[LabelHit]:
    """Non-overlapping label hits of one line, left to right.

    Among overlapping hits the one spanning more words wins (`Ngày, tháng, năm hết
    hạn` over `Ngày, tháng, năm`), then the better score.
    """
    hits = [hit for label in _LABELS for hit in _match_label(label, units)]
    hits.sort(key=lambda h: (h.start - h.end, -h.score, h.start))
    taken: list[LabelHit] = []
    for hit in hits:
        if all(hit.end <= t.start or hit.start >= t.end for t in taken):
            taken.append(hit)
    return sorted(taken, key=lambda h: h.start)


def _match_label(label: _Label, units: list[Unit]) -> list[LabelHit]:
    size = len(label.words)
    short = len(label.joined) <= _SHORT
    hits = []
    target = len(label.joined)
    ends = list(itertools.accumulate((len(u.word) for u in units), initial=0))
    # A window one word shorter catches two words OCR glued together (`thườngtrú`).
    for width in {max(1, size - 1), size}:
        floor = _MIN_SCORE if width == size else _MIN_SPLIT_SCORE
        for start in range(len(units) - width + 1):
            if short and (width != size or not units[start].after_slash):
                continue
            # A length this far off cannot reach the score (fuzz.ratio is at most
            # 100 * (1 - |a - b| / (a + b))): skip it before joining the words.
            length = ends[start + width] - ends[start]
            if 100 * (length + target - abs(length - target)) < floor * (
                length + target
            ) or (short and length != target):
                continue
            window = "".join(u.word for u in units[start : start + width])
            score = 100.0 if window == label.joined else 0.0
            if not short and not score:
                score = fuzz.ratio(window, label.joined)
            if score < (_MIN_SCORE if width == size else _MIN_SPLIT_SCORE):
                continue
            if _is_label_end(units, start + width, exact=score == 100.0, size=size):
                hits.append(
                    LabelHit(label.field, start, start + width, score, label.english)
                )
    return hits


def _is_label_end(units: list[Unit], end: int, *, exact: bool, size: int) -> bool:
    """Labels end in a separator; names like NGUYỄN QUÂN in a value do not.

    Also accepted: an exact label of three or more words ending the line, and a label
    followed by a long number (`SỐ 012345678` on a CMND).
    """
    if units[end - 1].sep_after:
        return True
    if end == len(units):
        return exact and size >= 3
    # Digits after the label, OCR may split them (`SỐ 91 5044777`).
    following = "".join(u.word for u in units[end : end + 3] if u.word.isalnum())
    head = re.match(r"[0-9OIZSB]*", following)
    return head is not None and sum(c.isdigit() for c in head.group(0)) >= 7
