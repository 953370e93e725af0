"""Synthetic scanned dossiers for demos, tests and benchmarks, with their ground truth.

Writes `DIR/inbox/<unit>/<dossier code>/<files>` and `DIR/truth.json`; run
`python -m samples.generate --out DIR [--seed N] [--set demo|full]`. People are fake.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from PIL import Image

from samples.cards import compose_copy, draw_card
from samples.forms import form_lines
from samples.pages import Line, load_corpus, paginate, render_page
from samples.people import Person, fold_name, make_person
from samples.plans import PLANS, UNITS, FileSpec, PageSpec, SetPlan
from samples.scan import LOOKS, degrade, save_scan

__all__ = ["generate", "main"]

_PLANTED = "Mã hồ sơ thử nghiệm Đồi Thông Xanh {n}"
_KINDS = {"doc": "document", "card": "card", "form": "form"}


@dataclass(frozen=True)
class _Context:
    """Everything drawn once per set and shared by its pages."""

    seed: int
    persons: list[Person]
    corpus_pages: list[list[Line]]
    planted: str
    dossier_dates: dict[tuple[str, int], date]


def _make_persons(plan: SetPlan, seed: int) -> list[Person]:
    persons = []
    for index, spec in enumerate(plan.persons):
        rng = random.Random(f"{seed}:person:{index}")
        residence = UNITS[spec.unit].residence.format(n=rng.randint(1, 9))
        persons.append(
            make_person(rng, card=spec.card, sex=spec.sex, residence=residence)
        )
    return persons


def _make_planted(seed: int, corpus: list[str]) -> str:
    phrase = _PLANTED.format(n=random.Random(f"{seed}:planted").randrange(1000, 10000))
    if phrase in " ".join(corpus):
        raise ValueError(f"planted phrase {phrase!r} already occurs in the corpus")
    return phrase


def _make_context(plan: SetPlan, seed: int) -> _Context:
    corpus = load_corpus()
    rng = random.Random(f"{seed}:dates")
    first = date(2025, 3, 3) + timedelta(days=rng.randrange(270))
    dates = {
        (spec.unit, spec.dossier): first + timedelta(days=3 * (spec.dossier - 1))
        for spec in plan.files
    }
    return _Context(
        seed=seed,
        persons=_make_persons(plan, seed),
        corpus_pages=paginate(corpus),
        planted=_make_planted(seed, corpus),
        dossier_dates=dates,
    )


def _dossier_code(ctx: _Context, unit: str, dossier: int) -> str:
    day = ctx.dossier_dates[(unit, dossier)]
    return f"{UNITS[unit].code}-{day:%y%m%d}-{dossier:04d}"


def _document_lines(ctx: _Context, ref: str) -> list[Line]:
    number, _, extra = ref.partition("+")
    lines = list(ctx.corpus_pages[int(number) % len(ctx.corpus_pages)])
    if extra == "planted":
        lines.append(Line(ctx.planted, space_before=1.0))
    return lines


def _draw_content(
    ctx: _Context, spec: PageSpec, file: FileSpec
) -> tuple[Image.Image, list[str]]:
    """The upright, undamaged page image and the lines of text drawn on it."""
    kind, _, ref = spec.content.partition(":")
    if kind == "doc":
        lines = _document_lines(ctx, ref)
        return render_page(lines, spec.dpi), [line.text for line in lines]
    if kind == "form":
        person = ctx.persons[int(ref)]
        unit = UNITS[file.unit]
        rng = random.Random(f"{ctx.seed}:form:{ref}")
        signed = ctx.dossier_dates[(file.unit, file.dossier)]
        lines = form_lines(
            person, place=unit.place, authority=unit.authority, signed=signed, rng=rng
        )
        return render_page(lines, spec.dpi), [line.text for line in lines]
    if kind == "card":
        index, _, which = ref.partition(":")
        person = ctx.persons[int(index)]
        names = ["front", "back"] if which == "both" else [which]
        sides = [draw_card(person, name) for name in names]
        return compose_copy(sides, on_a4=which == "both")
    raise ValueError(f"unknown page content {spec.content!r}")


def _page_persons(ctx: _Context, content: str) -> list[str]:
    kind, _, ref = content.partition(":")
    if kind in ("card", "form"):
        return [ctx.persons[int(ref.split(":")[0])].id_number]
    return []


def _file_name(ctx: _Context, file: FileSpec) -> str:
    ids = [i for page in file.pages for i in _page_persons(ctx, page.content)]
    if "{name}" not in file.name:
        return file.name
    person = next(p for p in ctx.persons if p.id_number == ids[0])
    return file.name.format(name=fold_name(person.full_name).lower().replace(" ", "-"))


def _write_file(
    ctx: _Context, file: FileSpec, inbox: Path
) -> tuple[str, dict[str, Any]]:
    """Draw, damage and save one file; its path under the inbox and its truth entry."""
    dossier = _dossier_code(ctx, file.unit, file.dossier)
    relpath = f"{file.unit}/{dossier}/{_file_name(ctx, file)}"
    if len({page.dpi for page in file.pages}) != 1:
        raise ValueError(f"{relpath}: all pages of one file share one dpi")

    images, pages, persons = [], [], []
    for index, spec in enumerate(file.pages):
        rng = random.Random(f"{ctx.seed}:{relpath}:{index}")
        image, lines = _draw_content(ctx, spec, file)
        images.append(degrade(image, LOOKS[spec.look], rng, rotation=spec.rotation))
        pages.append(
            {
                "text": "\n".join(lines),
                "rotation": spec.rotation,
                "dpi": spec.dpi,
                "clean": LOOKS[spec.look].clean,
            }
        )
        persons += [i for i in _page_persons(ctx, spec.content) if i not in persons]

    save_scan(inbox / relpath, file.fmt, images, file.pages[0].dpi)
    kind = _KINDS[file.pages[0].content.split(":")[0]]
    entry = {"kind": kind, "format": file.fmt, "pages": pages, "persons": persons}
    return relpath, entry


def _prepare_inbox(out: Path) -> Path:
    """Empty `out/inbox` if an earlier run wrote it; refuse to touch anything else."""
    inbox = out / "inbox"
    if inbox.exists() and any(inbox.iterdir()):
        if not (out / "truth.json").is_file():
            raise FileExistsError(
                f"{inbox} holds files this generator did not write; "
                "choose an empty --out directory"
            )
        shutil.rmtree(inbox)
    inbox.mkdir(parents=True, exist_ok=True)
    return inbox


def generate(out: Path, seed: int = 7, set_name: str = "demo") -> dict[str, Any]:
    """Write the sample set `set_name` under `out` and return its truth dict.

    Raises:
        ValueError: `set_name` is not a known set.
        FileExistsError: `out/inbox` holds files from something else.
    """
    if set_name not in PLANS:
        raise ValueError(f"unknown sample set {set_name!r}; use one of {sorted(PLANS)}")
    plan = PLANS[set_name]
    inbox = _prepare_inbox(Path(out))
    ctx = _make_context(plan, seed)

    files = dict(_write_file(ctx, file, inbox) for file in plan.files)
    planted = next(
        path
        for path, entry in files.items()
        if any(ctx.planted in page["text"] for page in entry["pages"])
    )
    truth = {
        "seed": seed,
        "files": files,
        "persons": [person.to_truth() for person in ctx.persons],
        "planted": {
            "phrase": unicodedata.normalize("NFC", ctx.planted),
            "file": planted,
        },
    }
    text = json.dumps(truth, ensure_ascii=False, indent=2) + "\n"
    (Path(out) / "truth.json").write_text(text, encoding="utf-8")
    return truth


def main(argv: list[str] | None = None) -> int:
    """Command line: parse arguments, generate, print one summary line."""
    parser = argparse.ArgumentParser(
        prog="python -m samples.generate", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=7, help="RNG seed (default 7)")
    parser.add_argument("--set", dest="set_name", choices=sorted(PLANS), default="demo")
    args = parser.parse_args(argv)

    started = time.monotonic()
    try:
        truth = generate(args.out, seed=args.seed, set_name=args.set_name)
    except (ValueError, FileExistsError) as err:
        sys.stderr.write(f"error: {err}\n")
        return 2
    pages = sum(len(entry["pages"]) for entry in truth["files"].values())
    sys.stdout.write(
        f"wrote {len(truth['files'])} files, {pages} pages, "
        f"{len(truth['persons'])} fake persons to {args.out} "
        f"in {time.monotonic() - started:.1f} s\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
