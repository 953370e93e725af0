"""Vietnamese personal-name syllables, and repairing OCR slips in names with them.

Family names and the common middle and given-name syllables, most frequent first
(general knowledge of Vietnamese names; not complete: ethnic-minority names such as
the Jrai names of Gia Lai are mostly absent and are left as read). A word read by
OCR that is not a known syllable is replaced only by a known syllable that differs
from it in tone or vowel marks alone, the letters being the same.
"""

from __future__ import annotations

import unicodedata
from functools import cache

from rapidfuzz.distance import Levenshtein

from digitize.extract.names import fold, nfc

__all__ = [
    "FAMILY_NAMES",
    "GIVEN_SYLLABLES",
    "is_known_folded",
    "is_known_word",
    "repair_name",
]

_FAMILY_TEXT = (
    "Nguyễn Trần Lê Phạm Hoàng Huỳnh Phan Vũ Võ Đặng Bùi Đỗ Hồ Ngô Dương Lý Đào "
    "Đoàn Vương Trịnh Trương Lâm Phùng Mai Tô Hà Tạ Lương Lưu Cao Chu Quách Thái "
    "Châu Kiều La Đinh Lại Triệu Tăng Hứa Văn Từ Giang Khổng Mạc Lục Nông Ninh Đàm "
    "Phí Thân Tôn Thạch Quan Khúc Âu Diệp Doãn Kim Lò Lã Hầu Viên Mẫn Nghiêm Khương "
    "Ông Tống Bạch Bế Cù Đồng Giáp Hàn Ứng Vi Sầm Tiêu Trình Lường Ma Dư Trang"
)
_GIVEN_TEXT = (
    "Văn Thị Hữu Đức Minh Quốc Thành Công Xuân Đình Quang Tiến Trọng Ngọc Gia Thu "
    "Thanh Kim Mỹ Thùy Bích Hồng Diệu Khánh Phương Hoài Bảo Anh Tuấn Hùng Dũng Nam "
    "Long Phúc Đạt Hiếu Trung Thắng Sơn Lộc Cường Huy Tùng Vinh Nghĩa Thịnh Hưng Tâm "
    "Tài Việt Kiên Hải Toàn Khải Quý Thuận Lực Mạnh Đông Hằng Lan Hương Mai Thảo "
    "Trang Linh Hạnh Yến Phượng Nhung Ngân Duyên Thủy Hòa Huyền Nguyệt Tuyết Loan "
    "Diễm Hiền Oanh Quỳnh Trinh Nhàn Vân Thoa Giang Liên Thắm Ánh Dung Ly Hà Hoa "
    "Châu Chi Cúc Đào Điệp Hạ Hân Hậu Hoàn Hợp Khanh Khôi Khoa Lam Lâm Liễu Luân "
    "My Nga Ngà Nghi Nhi Như Nhật Ninh Phong Phú Phước Quân Quế Quyên Quyết Sang "
    "Sương Tân Thái Thi Thiện Thông Thơ Thư Thương Tiên Tín Tình Trâm Trân Trí "
    "Triều Trúc Tú Tuệ Tường Uyên Vi Viên Vũ Vy Xuyến Ý Yên An Ân Bắc Bằng Bình "
    "Chiến Chính Cương Danh Di Diệp Du Duy Dương Định Đăng Đoan Hào Hiển Hiệp Hoan "
    "Học Huân Hướng Kha Khang Khiêm Kiệt Lập Lợi Lương Nguyên Nhân Phát Quyền Sáng "
    "Sinh Tấn Thế Thiên Toản Tráng Triết Trường Tuyên Uy Vĩ Vỹ Cầm Hảo Lệ Thơm Trà "
    "Tươi Út Xoan Bảy Ba Tư Năm Sáu Tám Chín Mười Hoàng Huệ Thủy Trà Vĩnh Hiên "
    "Khuê Kiều Lụa Mến Nhạn Nhị Phụng Quyền Thúy Tuyền Vàng Xinh Yên Đan Hạc Hậu "
    "Lành Mừng Nở Sen Thư Tiền Tuân Tứ Vương Dinh Hoài Hiệp Khương Thạch Trúc"
)
FAMILY_NAMES = tuple(_FAMILY_TEXT.split())
GIVEN_SYLLABLES = tuple(_GIVEN_TEXT.split())
_MAX_MARK_EDITS = 3


@cache
def _upper_sets() -> tuple[frozenset[str], frozenset[str]]:
    family = frozenset(nfc(w).upper() for w in FAMILY_NAMES)
    given = frozenset(nfc(w).upper() for w in GIVEN_SYLLABLES)
    return family, given


@cache
def _by_fold(first: bool) -> dict[str, list[str]]:
    """Folded word -> known words with those letters, most frequent first."""
    words = FAMILY_NAMES if first else GIVEN_SYLLABLES
    table: dict[str, list[str]] = {}
    for word in words:
        upper = nfc(word).upper()
        bucket = table.setdefault(fold(upper), [])
        if upper not in bucket:
            bucket.append(upper)
    return table


def is_known_word(word: str, *, first: bool) -> bool:
    """True for a known family name (`first`) or a middle or given syllable."""
    family, given = _upper_sets()
    return nfc(word).upper() in (family if first else given)


def is_known_folded(word: str, *, first: bool) -> bool:
    """True for a name syllable written without marks, as an MRZ holds it."""
    return word in _by_fold(first)


def repair_name(name: str, alternatives: tuple[str, ...] = ()) -> tuple[str, bool]:
    """The name with unknown words mended; True when every word is now known.

    For each word: the first reading (of `name`, then of `alternatives` with as many
    words) that is a known syllable for its place wins; failing that, the known
    syllable with the same letters whose marks are closest to the reading.
    """
    words = name.upper().split()
    others = [a.upper().split() for a in alternatives]
    others = [o for o in others if len(o) == len(words)]
    mended, all_known = [], bool(words)
    for index, word in enumerate(words):
        first = index == 0
        readings = [word, *(o[index] for o in others)]
        known = next((r for r in readings if is_known_word(r, first=first)), None)
        known = known or _closest_by_marks(word, first=first)
        all_known = all_known and known is not None
        mended.append(known or word)
    return " ".join(mended), all_known


def _closest_by_marks(word: str, *, first: bool) -> str | None:
    same_letters = _by_fold(first).get(fold(word), [])
    if not same_letters:
        return None
    marks = _marks(word)
    best = min(same_letters, key=lambda w: Levenshtein.distance(_marks(w), marks))
    if Levenshtein.distance(_marks(best), marks) > _MAX_MARK_EDITS:
        return None
    return best


def _marks(word: str) -> str:
    """The word decomposed (NFD), so that marks count one edit each."""
    return unicodedata.normalize("NFD", nfc(word).upper())
