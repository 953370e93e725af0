"""Values printed after their labels: same line after `:`, or on the next line.

Addresses may wrap onto following lines; with Tesseract's word boxes a wrapped line
must sit below the value and not further left than its label (text under the photo
of a card, such as `Có giá trị đến`, is further left).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from rapidfuzz import fuzz

from digitize.extract.dates import parse_date, parse_date_words
from digitize.extract.idnumber import find_number
from digitize.extract.labels import (
    FIELD_LABELS,
    LabelHit,
    Unit,
    find_labels,
    units_of,
)
from digitize.extract.layout import Line, is_mrz_like
from digitize.extract.lexicon import is_known_word
from digitize.extract.names import fold, nfc
from digitize.records import Word

__all__ = [
    "PrintedValue",
    "box_key",
    "find_dated_line",
    "find_loose_name",
    "find_words_date",
    "read_printed",
    "read_sex",
]

_WRAPPING = frozenset(
    {"place_of_origin", "place_of_birth", "residence", "company_name"}
)
_MAX_WRAPPED_LINES = 2
_TEXT_ONLY_CONF = 0.75  # word confidence assumed when only page text is known
_LOOSE_PENALTY = 0.9  # a number or name found without its label
_MAX_NAME_WORDS = 6
_LEAD = re.compile(r"^[\s:;.,/|\-_…=]+")
_TAIL = re.compile(r"[\s:;,/|\-_…=]+$|\s*\.{2,}$")
_LEADERS = re.compile(r"[.…_]{2,}")
_ECHO = re.compile(r"^[/|]?\s*([^:;\d]{2,40})[:;]\s*(.+)$")
_ECHO_SCORE = 60.0
_DATED = re.compile(r"^NGAY \S+ THANG \S+ NAM \S+")


@dataclass(frozen=True)
class PrintedValue:
    """The printed text of one field and Tesseract's confidence in it (0-1)."""

    text: str
    conf: float
    boxes: tuple[str, ...] = ()
    """Where each line of the value is on the page (`box_key`), when known."""


@dataclass
class _Parsed:
    """One line with its folded units and label hits."""

    line: Line
    units: list[Unit]
    hits: list[LabelHit]


def read_printed(lines: list[Line]) -> dict[str, PrintedValue]:
    """The first value found for each labelled field in `lines`."""
    parsed = [_parse(line) for line in lines]
    values: dict[str, PrintedValue] = {}
    used: set[int] = set()
    for index, row in enumerate(parsed):
        if index in used or is_mrz_like(row.line):
            continue
        for number, hit in enumerate(row.hits):
            if not hit.field or hit.field in values or _is_second_half(row, number):
                continue
            found = _read_value(parsed, index, number, used)
            if found is not None:
                values[hit.field] = found
    if "id_number" not in values:
        loose = _find_loose_pin(parsed, used)
        if loose:
            values["id_number"] = loose
    return values


def find_dated_line(lines: list[Line]) -> PrintedValue | None:
    """The first unlabelled line dated `Ngày … tháng … năm …` (a CMND's issue date)."""
    for line in lines:
        if _DATED.search(line.folded) and parse_date(line.text):
            words = _words(line, 0, len(line.tokens))
            return PrintedValue(nfc(line.text), _mean_conf(words))
    return None


def find_words_date(lines: list[Line]) -> str | None:
    """The date a birth certificate writes in words (`Ghi bằng chữ: ngày …`), ISO."""
    for index, line in enumerate(lines):
        if "GHI BANG CHU" not in line.folded:
            continue
        text = line.text.partition(":")[2]
        following = lines[index + 1].text if index + 1 < len(lines) else ""
        if following and ":" not in following:
            text += " " + following  # the words wrap onto a second line
        return parse_date_words(text)
    return None


def find_loose_name(lines: list[Line]) -> PrintedValue | None:
    """A name in capitals opening with a known family name, when its label was lost.

    Tesseract reads the small `Họ tên:` of a CMND as `nọ te:` at times; the name in
    capitals after it still starts with a family name such as NGUYỄN or HỒ.
    """
    for line in lines:
        if is_mrz_like(line):
            continue
        run = _capital_run(line.tokens)
        if len(run) >= 2 and is_known_word(run[0], first=True):
            words = _words(line, len(line.tokens) - len(run), len(line.tokens))
            return PrintedValue(nfc(" ".join(run)), _mean_conf(words) * _LOOSE_PENALTY)
    return None


def _capital_run(tokens: list[str]) -> list[str]:
    """The trailing words of a line written in capital letters only."""
    run: list[str] = []
    for token in reversed(tokens):
        if not (token.isalpha() and token.isupper()):
            break
        run.insert(0, token)
    return run if len(run) <= _MAX_NAME_WORDS else []


def _find_loose_pin(parsed: list[_Parsed], used: set[int]) -> PrintedValue | None:
    """The first 12-digit number outside the MRZ, when no label led to a PIN.

    Tesseract reads the small `Số / No.:` of a chip card as `ss/xo:` at times; the
    number printed after it is still the PIN.
    """
    for index, row in enumerate(parsed):
        if index in used or is_mrz_like(row.line):
            continue
        number = find_number(row.line.text, 12)
        if number:
            words = _words(row.line, 0, len(row.line.tokens))
            best = max((conf for text, conf in words if number[-4:] in text), default=0)
            holding = [w for w in row.line.words if number[-4:] in w.text]
            boxes = (box_key(holding[-1:]),) if holding else ()
            return PrintedValue(number, best * _LOOSE_PENALTY, boxes)
    return None


def _parse(line: Line) -> _Parsed:
    units = units_of(line.tokens)
    return _Parsed(line, units, find_labels(units))


def _is_second_half(row: _Parsed, number: int) -> bool:
    """An English label right after the Vietnamese one of the same field."""
    if number == 0:
        return False
    before, hit = row.hits[number - 1], row.hits[number]
    return before.field == hit.field and before.end == hit.start


def _value_tokens(row: _Parsed, number: int) -> tuple[int, int]:
    """Token range [first, stop) of the value after label hit `number`."""
    hit = row.hits[number]
    while number + 1 < len(row.hits) and _is_second_half(row, number + 1):
        number += 1
        hit = row.hits[number]
    first = row.units[hit.end - 1].token + 1
    following = row.hits[number + 1] if number + 1 < len(row.hits) else None
    stop = row.units[following.start].token if following else len(row.line.tokens)
    return first, max(first, stop)


def _read_value(
    parsed: list[_Parsed], index: int, number: int, used: set[int]
) -> PrintedValue | None:
    row, hit = parsed[index], parsed[index].hits[number]
    field = hit.field
    label_token = row.units[hit.start].token
    first, stop = _value_tokens(row, number)
    parts = [(row.line, first, stop)]
    is_last = stop == len(row.line.tokens)
    below = index
    if not _clean(" ".join(row.line.tokens[first:stop])) and is_last:
        found = _next_value_line(parsed, index, field, used)
        if found is None:
            return None
        below = found
        parts = [(parsed[below].line, 0, _first_label_token(parsed[below]))]
    if field in _WRAPPING and is_last:
        label_words = row.line.words[label_token : label_token + 1]
        wrapped = _wrapped_lines(parsed, below, label_words, used)
        parts += [(parsed[i].line, 0, len(parsed[i].line.tokens)) for i in wrapped]
    words = [w for line, start, end in parts for w in _words(line, start, end)]
    text = _drop_label_echo(field, _clean(" ".join(w[0] for w in words)))
    if not text or not _is_plausible(field, text):
        return None
    used.add(below)
    boxes = tuple(b for b in (_box(*part) for part in parts) if b)
    return PrintedValue(nfc(text), _mean_conf(words), boxes)


def box_key(words: list[Word]) -> str:
    """`left,top,right,bottom` around some words: the key of a field's re-read."""
    left = min(w.left for w in words)
    top = min(w.top for w in words)
    right = max(w.left + w.width for w in words)
    bottom = max(w.top + w.height for w in words)
    return f"{left},{top},{right},{bottom}"


def _box(line: Line, first: int, stop: int) -> str | None:
    """The box of the value's words on one line, without leading punctuation."""
    words = [w for w in line.words[first:stop] if re.search(r"[^\W_]", w.text)]
    return box_key(words) if words else None


def _drop_label_echo(field: str, text: str) -> str:
    """Drop a misread English label the label search missed (`Place of O©rigin:`)."""
    match = _ECHO.match(text)
    if not match:
        return text
    head = fold(match.group(1))
    if any(fuzz.ratio(head, label) >= _ECHO_SCORE for label in _english_labels(field)):
        return match.group(2)
    return text


@cache
def _english_labels(field: str) -> tuple[str, ...]:
    return tuple(fold(label) for label in FIELD_LABELS.get(field, ((), ()))[1])


def _mean_conf(words: list[tuple[str, float]]) -> float:
    """Mean confidence of the words that hold a letter or digit (not `_` or `:`)."""
    scored = [conf for text, conf in words if re.search(r"[^\W_]", text)]
    return sum(scored) / len(scored) if scored else 0.0


def _words(line: Line, first: int, stop: int) -> list[tuple[str, float]]:
    """(token, confidence 0-1) pairs of a token range."""
    if not line.words:
        return [(t, _TEXT_ONLY_CONF) for t in line.tokens[first:stop]]
    return [(w.text, max(0.0, w.conf) / 100) for w in line.words[first:stop]]


def _first_label_token(row: _Parsed) -> int:
    return row.units[row.hits[0].start].token if row.hits else len(row.line.tokens)


def _next_value_line(
    parsed: list[_Parsed], index: int, field: str, used: set[int]
) -> int | None:
    """The next line when it starts with a plausible value rather than a label."""
    below = _line_right_under(parsed, index) if parsed[index].line.words else index + 1
    if below is None or below >= len(parsed) or below in used:
        return None
    if is_mrz_like(parsed[below].line):
        return None
    row = parsed[below]
    text = _clean(" ".join(row.line.tokens[: _first_label_token(row)]))
    return below if text and _is_plausible(field, text) else None


def _line_right_under(parsed: list[_Parsed], index: int) -> int | None:
    """The nearest line starting under line `index`'s label, within two heights."""
    words = parsed[index].line.words
    height = max(w.height for w in words)
    left, right = words[0].left - height, max(w.left + w.width for w in words)
    bottom = max(w.top + w.height for w in words)
    found = [
        (row.line.words[0].top, i)
        for i, row in enumerate(parsed)
        if i != index
        and row.line.words
        and left <= row.line.words[0].left <= right
        and -0.5 * height < row.line.words[0].top - bottom <= 2.5 * height
    ]
    return min(found)[1] if found else None


def _wrapped_lines(
    parsed: list[_Parsed], index: int, label_words: list[Word], used: set[int]
) -> list[int]:
    """The lines an address wraps onto after line `index`."""
    found: list[int] = []
    above = index
    for _ in range(_MAX_WRAPPED_LINES):
        below = _line_under(parsed, above, label_words, used)
        if below is None:
            break
        found.append(below)
        used.add(below)
        above = below
    return found


def _line_under(
    parsed: list[_Parsed], above: int, label_words: list[Word], used: set[int]
) -> int | None:
    """The line a value goes on to after line `above`.

    With boxes, the closest line right below it, wherever Tesseract listed it (a
    wrapped address can come out before its first line); without, the next line.
    """
    if not (parsed[above].line.words and label_words):
        below = above + 1
        return below if _can_continue(parsed, below, used) else None
    candidates = [
        i
        for i in range(len(parsed))
        if i != above
        and parsed[i].line.words
        and _is_below(parsed[above].line, parsed[i].line, label_words)
    ]
    # The nearest line below, labelled or not: a value never skips a line.
    nearest = min(candidates, key=lambda i: parsed[i].line.words[0].top, default=None)
    return (
        nearest
        if nearest is not None and _can_continue(parsed, nearest, used)
        else None
    )


def _can_continue(parsed: list[_Parsed], index: int, used: set[int]) -> bool:
    """A line without labels, not MRZ, with a word of letters, not used yet."""
    if index >= len(parsed) or index in used:
        return False
    row = parsed[index]
    if row.hits or is_mrz_like(row.line):
        return False
    return re.search(r"[^\W\d_]{2,}", row.line.text) is not None


def _is_below(above: Line, line: Line, label_words: list[Word]) -> bool:
    """With boxes: close under the line above and not left of the label."""
    if not above.words or not line.words or not label_words:
        return True
    height = max(w.height for w in above.words)
    gap = min(w.top for w in line.words) - max(w.top + w.height for w in above.words)
    left_ok = line.words[0].left >= label_words[0].left - height
    return -0.5 * height < gap <= 1.5 * height and left_ok


def _clean(text: str) -> str:
    text = _LEADERS.sub(" ", text)
    text = _TAIL.sub("", _LEAD.sub("", text))
    return re.sub(r"\s+", " ", text).strip()


def _is_plausible(field: str, text: str) -> bool:
    """A cheap test that `text` could be a value of `field`."""
    if field in ("id_number", "old_id_number"):
        return bool(find_number(text, 12) or find_number(text, 9))
    if field.endswith("_date") or field == "date_of_birth":
        return parse_date(text) is not None or sum(c.isdigit() for c in text) >= 4
    if field == "sex":
        return bool(read_sex(text))
    if field == "enterprise_code":
        return find_number(text, 10) is not None
    return bool(re.search(r"[^\W\d_]{2,}", text))


_SEXES = {"NAM": "M", "NU": "F", "MALE": "M", "FEMALE": "F", "M": "M", "F": "F"}


def read_sex(text: str) -> str:
    """`M` or `F` from `Nam`/`Nữ` (also `Male`/`Female`), a stray mark before it."""
    for word in fold(text).split()[:2]:
        if word in _SEXES:
            return _SEXES[word]
        for printed in ("NAM", "NU"):
            if word.endswith(printed) and len(word) <= len(printed) + 1:
                return _SEXES[printed]  # `ÑNỮ`: a speck read as a letter
    return ""
