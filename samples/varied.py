"""A varied set of card and form pages with per-field truth, for the extraction bench.

Each page holds one paper or one card photocopy (one side, both sides stacked on A4,
or side by side on landscape A4), drawn for a new fake person in one of the installed
font families, then skewed up to 3 degrees, blurred, noised and saved as JPEG at
quality 50-90, at 200 or 300 dpi. `python -m samples.varied --out DIR --pages N`
writes `DIR/pages/*.jpg` and `DIR/truth.json`.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from PIL import Image, ImageFilter

from samples.cards import CARD_SIZE, Side, draw_card
from samples.forms import form_lines
from samples.oldcards import draw_old_card
from samples.pages import load_corpus, paginate, render_page
from samples.papers import (
    birth_certificate,
    business_registration,
    make_child,
    residence_confirmation,
)
from samples.people import Person, make_person
from samples.plans import UNITS
from samples.scan import _add_noise
from samples.styles import available_families

__all__ = ["CARD_FIELDS", "generate_varied", "main"]

_DRAWN_SCALE = 1.8  # cards.py draws 1.8 times life size at 300 dpi
# Names beyond those of the demo set, and some Jrai names of Gia Lai.
_FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ",
           "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Đoàn", "Trịnh", "Lương",
           "Mai", "Tạ", "Quách", "Thái", "Châu", "Kiều"]  # fmt: skip
_MIDDLE = {
    "M": ["Văn", "Hữu", "Đức", "Minh", "Quốc", "Thành", "Công", "Xuân", "Đình",
          "Quang", "Tiến", "Trọng", "Ngọc", "Gia"],
    "F": ["Thị", "Ngọc", "Thu", "Thanh", "Kim", "Mỹ", "Thị Thu", "Thùy", "Bích",
          "Hồng", "Diệu", "Khánh", "Phương", "Thị Ngọc"],
}  # fmt: skip
_GIVEN = {
    "M": ["Hùng", "Dũng", "Tuấn", "Nam", "Long", "Quang", "Phúc", "Đạt", "Hiếu",
          "Trung", "Thắng", "Khánh", "Sơn", "Lộc", "Cường", "Huy", "Tùng", "Vinh",
          "Nghĩa", "Thịnh", "Hưng", "Tâm", "Tài", "Việt", "Dương", "Kiên", "Hải",
          "Toàn", "Bảo", "Khải", "Quý", "Thuận", "Lực", "Mạnh", "Đông"],
    "F": ["Hằng", "Lan", "Hương", "Mai", "Thảo", "Trang", "Linh", "Hạnh", "Yến",
          "Phượng", "Nhung", "Ngân", "Duyên", "Thủy", "Hòa", "Huyền", "Nguyệt",
          "Tuyết", "Loan", "Diễm", "Hiền", "Oanh", "Quỳnh", "Trinh", "Nhàn", "Vân",
          "Thoa", "Xuân", "Giang", "Hồng", "Liên", "Thắm", "Ánh", "Dung", "Ly"]
}  # fmt: skip
_JRAI = {
    "M": ["Ksor Phin", "Rơ Mah Hlim", "Siu Blơng", "Rahlan Hyưn", "Nay Krin"],
    "F": ["Ksor H Bia", "Rơ Châm Nhơn", "Siu Thị Hlim", "Kpă Thị Nga", "Nay Hnú"],
}
# What a reader can find on each card side: printed fields, then those of the
# QR code (chip CCCD front, Căn cước back) and of the MRZ (name without marks).
CARD_FIELDS: dict[str, tuple[str, ...]] = {
    "cccd2021_front": ("id_number", "full_name", "date_of_birth", "sex",
                       "nationality", "place_of_origin", "residence", "expiry_date",
                       "old_id_number", "issue_date"),
    "cccd2021_back": ("issue_date", "id_number", "date_of_birth", "sex",
                      "expiry_date", "full_name"),
    "cancuoc2024_front": ("id_number", "full_name", "date_of_birth", "sex",
                          "nationality"),
    "cancuoc2024_back": ("residence", "place_of_birth", "issue_date", "expiry_date",
                         "id_number", "full_name", "date_of_birth", "sex",
                         "old_id_number"),
    "cccd2016_front": ("id_number", "full_name", "date_of_birth", "sex",
                       "nationality", "place_of_origin", "residence", "expiry_date"),
    "cccd2016_back": ("issue_date",),
    "cmnd_front": ("old_id_number", "full_name", "date_of_birth", "place_of_origin",
                   "residence"),
    "cmnd_back": ("issue_date",),
}  # fmt: skip
_CARDS = ("cccd2021", "cancuoc2024", "cccd2016", "cmnd")
# One cycle of page recipes: (layout, card or paper kind, side).
_CYCLE = [
    *[("side", card, side) for card in _CARDS for side in ("front", "back")],
    *[("stacked", card, "") for card in _CARDS],
    ("side_by_side", "cccd2021", ""),
    ("side_by_side", "", ""),
    ("paper", "birth_certificate", ""),
    ("paper", "residence_confirmation", ""),
    ("paper", "business_registration", ""),
    ("paper", "registration_form", ""),
    ("paper", "birth_certificate", ""),
    ("paper", "registration_form", ""),
]
_OTHER_EVERY = 20  # one plain document page per this many card and form pages


@dataclass(frozen=True)
class _Damage:
    """How one page is scanned: resolution, skew, blur, noise, JPEG quality."""

    dpi: int
    skew_deg: float
    blur_px: float
    noise_sigma: float
    jpeg_quality: int

    def to_truth(self) -> dict[str, Any]:
        return {
            "dpi": self.dpi,
            "skew_deg": round(self.skew_deg, 2),
            "blur_px": round(self.blur_px, 2),
            "noise_sigma": round(self.noise_sigma, 1),
            "jpeg_quality": self.jpeg_quality,
        }


def _name(rng: random.Random, sex: str) -> str:
    if rng.random() < 0.06:
        return rng.choice(_JRAI[sex]).upper()
    parts = [rng.choice(_FAMILY), rng.choice(_MIDDLE[sex]), rng.choice(_GIVEN[sex])]
    if rng.random() < 0.15:
        parts.insert(2, rng.choice(_MIDDLE[sex]).split()[-1])
    return " ".join(dict.fromkeys(parts)).upper()


def _person(rng: random.Random, card: str) -> tuple[Person, str]:
    unit = UNITS[rng.choice(sorted(UNITS))]
    sex = rng.choice("MF")
    residence = unit.residence.format(n=rng.randint(1, 12))
    person = make_person(
        rng, card=card, sex=sex, residence=residence, name=_name(rng, sex)
    )
    return person, unit.place


def _card_truth(person: Person, paper_type: str) -> dict[str, Any]:
    fields = {}
    for name in CARD_FIELDS[paper_type]:
        value = person.place_of_origin if name == "place_of_birth" else None
        value = value or getattr(person, name)
        if value:
            fields[name] = value
    return {
        "type": paper_type,
        "fields": fields,
        "name_printed": paper_type != "cccd2021_back",
    }


def _side(person: Person, side: str, family: str) -> Side:
    if person.card in ("cccd2021", "cancuoc2024"):
        return draw_card(person, side, family)
    return draw_old_card(person, side, family)


def _scaled(side: Side, factor: float) -> Image.Image:
    size = (round(CARD_SIZE[0] * factor), round(CARD_SIZE[1] * factor))
    return side.image.resize(size, Image.Resampling.LANCZOS)


def _sheet(dpi: int, *, landscape: bool, rng: random.Random) -> Image.Image:
    width, height = round(210 / 25.4 * dpi), round(297 / 25.4 * dpi)
    size = (height, width) if landscape else (width, height)
    return Image.new("L", size, rng.randint(238, 250))


def _place_cards(
    cards: list[Image.Image], sheet: Image.Image, *, across: bool, rng: random.Random
) -> None:
    """Paste cards one under the other (or side by side) at a random offset."""
    gap = rng.randint(40, 160)
    widths = [c.width for c in cards]
    heights = [c.height for c in cards]
    need_w = sum(widths) + gap * (len(cards) - 1) if across else max(widths)
    need_h = max(heights) if across else sum(heights) + gap * (len(cards) - 1)
    margin = sheet.width // 25
    left = rng.randint(margin, max(margin, sheet.width - need_w - margin))
    top = rng.randint(margin, max(margin, sheet.height - need_h - margin))
    for card in cards:
        sheet.paste(card, (left, top))
        if across:
            left += card.width + gap
        else:
            top += card.height + gap


def _card_page(
    layout: str, card: str, side: str, ctx: tuple[random.Random, int, str]
) -> tuple[Image.Image, list[dict[str, Any]], Person]:
    rng, dpi, family = ctx
    card = card or rng.choice(_CARDS)
    person, _ = _person(rng, card)
    sides = ["front", "back"] if layout != "side" else [side]
    drawn = [_side(person, name, family) for name in sides]
    if layout == "side_by_side":
        enlarge = rng.uniform(1.35, 1.55)
    else:
        enlarge = rng.uniform(1.45, 2.0) if dpi == 300 else rng.uniform(1.75, 2.1)
    factor = dpi / 300 * enlarge / _DRAWN_SCALE
    images = [_scaled(s, factor) for s in drawn]
    if layout == "side" and rng.random() < 0.4:
        pad = rng.randint(30, 120)
        sheet = Image.new(
            "L", (images[0].width + 2 * pad, images[0].height + 2 * pad), 242
        )
        sheet.paste(images[0], (pad, pad))
    else:
        sheet = _sheet(dpi, landscape=layout == "side_by_side", rng=rng)
        _place_cards(images, sheet, across=layout == "side_by_side", rng=rng)
    papers = [_card_truth(person, f"{card}_{name}") for name in sides]
    return sheet, papers, person


def _paper_page(
    kind: str, ctx: tuple[random.Random, int, str]
) -> tuple[Image.Image, list[dict[str, Any]], Person]:
    rng, dpi, family = ctx
    person, place = _person(rng, rng.choice(("cccd2021", "cancuoc2024")))
    fields = {
        name: getattr(person, name)
        for name in ("full_name", "date_of_birth", "sex", "id_number", "residence")
    }
    signed = date(2025, 1, 6) + timedelta(days=rng.randrange(300))
    if kind == "birth_certificate":
        child = make_child(rng, person, place)
        lines, fields = birth_certificate(child, place=place, rng=rng), child.truth()
    elif kind == "residence_confirmation":
        lines = residence_confirmation(person, place=place, signed=signed, rng=rng)
        fields |= {"nationality": "Việt Nam", "place_of_origin": person.place_of_origin}
    elif kind == "business_registration":
        lines, fields = business_registration(person, rng=rng)
    else:
        authority = f"Công an xã {place}"
        lines = form_lines(
            person, place=place, authority=authority, signed=signed, rng=rng
        )
    image = render_page(lines, dpi, family=family)
    return image, [{"type": kind, "fields": fields, "name_printed": True}], person


def _damage(image: Image.Image, damage: _Damage, rng: random.Random) -> Image.Image:
    paper = image.getpixel((2, 2))
    out = image.rotate(
        damage.skew_deg, resample=Image.Resampling.BICUBIC, fillcolor=paper
    )
    if damage.blur_px:
        out = out.filter(ImageFilter.GaussianBlur(damage.blur_px))
    return _add_noise(out, damage.noise_sigma, rng)


def _draw_damage(rng: random.Random, layout: str) -> _Damage:
    dpi = 300 if layout == "side_by_side" else rng.choice((200, 300))
    return _Damage(
        dpi=dpi,
        skew_deg=rng.uniform(-3.0, 3.0),
        blur_px=rng.uniform(0.0, 1.1) * dpi / 300,
        noise_sigma=rng.uniform(2.0, 14.0),
        jpeg_quality=rng.randint(50, 90),
    )


def _recipe(index: int) -> tuple[str, str, str]:
    """Page `index` of the set: every 21st is a plain document, the rest cycle."""
    if index % (_OTHER_EVERY + 1) == _OTHER_EVERY:
        return ("other", "", "")
    cards_and_forms = index - index // (_OTHER_EVERY + 1)
    return _CYCLE[cards_and_forms % len(_CYCLE)]


def make_page(seed: int, index: int) -> tuple[Image.Image, dict[str, Any]]:
    """Draw and damage page `index` of the varied set; return it and its truth."""
    rng = random.Random(f"{seed}:varied:{index}")
    layout, kind, side = _recipe(index)
    damage = _draw_damage(rng, layout)
    families = available_families()
    family = families[index % len(families)]
    ctx = (rng, damage.dpi, family)
    persons: list[Person] = []
    if layout == "other":
        pages = paginate(load_corpus())
        image = render_page(pages[index % len(pages)], damage.dpi, family=family)
        papers: list[dict[str, Any]] = []
    elif layout == "paper":
        image, papers, person = _paper_page(kind, ctx)
        persons.append(person)
    else:
        image, papers, person = _card_page(layout, kind, side, ctx)
        persons.append(person)
    truth = {
        "layout": layout,
        "family": family,
        **damage.to_truth(),
        "papers": papers,
    }
    return _damage(image, damage, rng), truth


def page_count(cards_and_forms: int) -> int:
    """Pages to draw so that `cards_and_forms` of them are cards or forms."""
    return cards_and_forms + cards_and_forms // _OTHER_EVERY


def generate_varied(out: Path, *, seed: int = 7, pages: int = 200) -> dict[str, Any]:
    """Write `pages` card and form pages (plus a few plain ones) and their truth."""
    folder = Path(out) / "pages"
    folder.mkdir(parents=True, exist_ok=True)
    entries = {}
    for index in range(page_count(pages)):
        image, truth = make_page(seed, index)
        name = f"pages/p{index:04d}.jpg"
        image.save(
            Path(out) / name,
            "JPEG",
            quality=truth["jpeg_quality"],
            dpi=(truth["dpi"], truth["dpi"]),
        )
        entries[name] = truth
    result = {"seed": seed, "families": list(available_families()), "pages": entries}
    text = json.dumps(result, ensure_ascii=False, indent=1) + "\n"
    (Path(out) / "truth.json").write_text(text, encoding="utf-8")
    return result


def main(argv: list[str] | None = None) -> int:
    """Command line: write the varied set and print one summary line."""
    parser = argparse.ArgumentParser(prog="python -m samples.varied")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=7, help="RNG seed (default 7)")
    parser.add_argument("--pages", type=int, default=200, help="card and form pages")
    args = parser.parse_args(argv)
    started = time.monotonic()
    truth = generate_varied(args.out, seed=args.seed, pages=args.pages)
    sys.stdout.write(
        f"wrote {len(truth['pages'])} pages to {args.out} "
        f"in {time.monotonic() - started:.1f} s\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
