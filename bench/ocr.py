"""OCR speed against its anchors: the raw Tesseract floor, OCRmyPDF and digitize.

Generates Vietnamese pages at 300 dpi (upright, skewed, noisy, upside-down, sideways,
Group 4 TIFF, 150 dpi JPEG; documents of one and of several pages) and runs, on the
same files: (a) the floor, each page rasterised and read by `tesseract -l vie` with
one thread, pages in parallel across the cores; (b) OCRmyPDF `--rotate-pages --deskew
--output-type pdfa --jobs <cores>`, installed in its own venv (bench/.venv-ocrmypdf,
made here on first use; not a runtime dependency); (c) digitize's whole ingest through
a warm watcher, signing and indexing included. Prints pages/min, CPU s/page, peak
memory per worker, character error rate and upright pages for each, the ratios
against the targets, and digitize's cost per page for 1, 10 and 100-page documents.

    python bench/ocr.py [--quick] [--long 500] [--keep DIR] [--json FILE]
    python bench/ocr.py --report-only FILE   # the table again from a --json file
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402
from rapidfuzz.distance import Levenshtein  # noqa: E402

from samples.pages import Line, load_corpus, paginate, render_page  # noqa: E402
from samples.scan import LOOKS, Look, degrade, save_scan  # noqa: E402

CORES = os.cpu_count() or 1
NICE = 5  # OCRmyPDF's CLI lowers its priority by 5; the others are run the same way
OCRMYPDF_VENV = ROOT / "bench" / ".venv-ocrmypdf"
KINDS = {
    # kind: (look, rotation clockwise, dpi, format)
    "upright": ("mild", 0, 300, "pdf"),
    "skewed": ("skewed", 0, 300, "pdf"),
    "noisy": ("noisy", 0, 300, "pdf"),
    "upside-down": ("mild", 180, 300, "pdf"),
    "sideways": ("mild", 90, 300, "pdf"),
    "sideways-left": ("mild", 270, 300, "pdf"),
    "group4": ("mild", 0, 300, "tiff"),
    "jpeg150": ("mild", 0, 150, "jpeg"),
}
EXTRA_LOOKS = {
    "skewed": Look(skew_deg=(2.5, 3.5), blur_radius=0.5, noise_sigma=6.0, clean=True),
    "noisy": Look(skew_deg=(0.3, 0.8), blur_radius=1.0, noise_sigma=22.0, clean=False),
}


@dataclass
class Doc:
    """One generated file and the truth of its pages."""

    path: Path
    fmt: str
    dpi: int
    truths: list[str]
    rotations: list[int]
    kinds: list[str]


@dataclass
class Result:
    """What one approach did on one set of documents."""

    name: str
    pages: int
    wall_s: float
    cpu_s: float
    peak_mb: float
    cer: float
    upright: str = "-"
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def pages_per_min(self) -> float:
        return 60 * self.pages / self.wall_s if self.wall_s else 0.0

    @property
    def cpu_per_page(self) -> float:
        return self.cpu_s / self.pages if self.pages else 0.0

    @property
    def cpu_pages_per_min(self) -> float:
        """Pages/min with every core busy, from CPU s/page: fair on a shared machine."""
        return 60 * CORES / self.cpu_per_page if self.cpu_s else 0.0


# --- the pages ---------------------------------------------------------------------


def _page_image(lines: list[Line], kind: str, rng: random.Random) -> Image.Image:
    look_name, rotation, dpi, _ = KINDS[kind]
    look = EXTRA_LOOKS.get(look_name) or LOOKS[look_name]
    return degrade(render_page(lines, dpi), look, rng, rotation=rotation)


def _make_doc(
    out: Path, name: str, kinds: list[str], corpus: list[list[Line]], rng: random.Random
) -> Doc:
    images, truths = [], []
    for index, kind in enumerate(kinds):
        lines = corpus[rng.randrange(len(corpus))]
        if kind == "upside-down" and index == len(kinds) - 1 and len(kinds) > 1:
            lines = lines[:6]  # a short last page: the one OCRmyPDF left unrotated
        images.append(_page_image(lines, kind, rng))
        truths.append(" ".join(line.text for line in lines))
    _, _, dpi, fmt = KINDS[kinds[0]]
    suffix = {"jpeg": "jpg", "tiff": "tif"}.get(fmt, fmt)
    path = out / f"{name}.{suffix}"
    save_scan(path, fmt, images, dpi)
    rotations = [KINDS[k][1] for k in kinds]
    return Doc(path, fmt, dpi, truths, rotations, kinds)


def make_sets(out: Path, seed: int, quick: bool) -> dict[str, list[Doc]]:
    """The mixed set, the upright set and the 1/10/100-page scale set."""
    corpus = paginate(load_corpus())
    rng = random.Random(seed)
    mixed_dir, upright_dir, scale_dir = out / "mixed", out / "upright", out / "scale"
    mixed = [_make_doc(mixed_dir, f"one-{k}", [k], corpus, rng) for k in KINDS]
    mixed.append(
        _make_doc(
            mixed_dir,
            "four-pages",
            ["upright", "skewed", "noisy", "upside-down"],
            corpus,
            rng,
        )
    )
    mixed.append(_make_doc(mixed_dir, "three-g4", ["group4"] * 3, corpus, rng))
    upright = [
        _make_doc(upright_dir, f"upright-{i}", ["upright"], corpus, rng)
        for i in range(6)
    ]
    upright += [
        _make_doc(upright_dir, f"upright-four-{i}", ["upright"] * 4, corpus, rng)
        for i in range(2)
    ]
    sizes = (1, 10) if quick else (1, 10, 100)
    scale = [
        _make_doc(scale_dir / f"n{n}", f"pages-{n}", ["upright"] * n, corpus, rng)
        for n in sizes
    ]
    one = [
        _make_doc(out / "one", f"one-page-{i}", ["upright"], corpus, rng)
        for i in range(3)
    ]
    return {"mixed": mixed, "upright": upright, "scale": scale, "1-page": one}


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def cer(truths: list[str], readings: list[str]) -> float:
    """Character error rate over pages: edit distance / truth characters."""
    errors = sum(
        Levenshtein.distance(_norm(t), _norm(r))
        for t, r in zip(truths, readings, strict=True)
    )
    return errors / max(1, sum(len(_norm(t)) for t in truths))


# --- measuring -----------------------------------------------------------------------


def _peak_own_mb() -> float:
    """This process's peak resident memory since it started (VmHWM).

    Unlike ru_maxrss, which on Linux keeps the peak of the process it was forked from
    across exec, so every tool started from a big parent would seem big.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- (a) the raw floor ---------------------------------------------------------------


def _floor_page(job: tuple[str, str, int, int]) -> tuple[str, float, float]:
    """Worker: rasterise one page, read it with the Tesseract CLI, one thread.

    Returns the text, the worker's peak memory (its own and its largest Tesseract
    run) and the CPU seconds of this page (the worker's and the Tesseract run's).
    """
    cpu0 = _cpu_self() + _cpu_children()
    path, fmt, index, dpi = job
    if fmt == "pdf":
        import pypdfium2 as pdfium

        document = pdfium.PdfDocument(path)
        image = document[index].render(scale=dpi / 72, grayscale=True).to_pil()
        document.close()
    else:
        with Image.open(path) as source:
            source.seek(index)
            image = source.convert("L")
    if image.mode not in ("L", "RGB"):
        image = image.convert("L")
    import io

    buf = io.BytesIO()
    image.save(buf, format="PPM")
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    argv = ["tesseract", "stdin", "stdout", "-l", "vie", "--dpi", str(dpi), "tsv"]
    out = subprocess.run(
        argv, input=buf.getvalue(), capture_output=True, env=env, check=True
    ).stdout
    from digitize.tools.tesseract import parse_tsv

    text = parse_tsv(out.decode("utf-8", "replace")).text
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return text, _peak_own_mb() + kids, _cpu_self() + _cpu_children() - cpu0


def _floor_jobs(docs: list[Doc]) -> list[tuple[str, str, int, int]]:
    return [(str(d.path), d.fmt, i, d.dpi) for d in docs for i in range(len(d.truths))]


def _floor_warm(_: int) -> None:
    """Worker: import what a page needs, so timing starts with warm workers."""
    import pypdfium2  # noqa: F401

    from digitize.tools.tesseract import parse_tsv  # noqa: F401


def run_floor(
    docs: list[Doc], label: str = "floor", *, one_by_one: bool = False
) -> Result:
    """Pages in parallel on warm workers; `one_by_one`: each document timed alone."""
    # spawn: workers that do not share (and count) the pages this process generated.
    context = get_context("spawn")
    with ProcessPoolExecutor(
        CORES, mp_context=context, initializer=_same_priority
    ) as pool:
        list(pool.map(_floor_warm, range(CORES)))
        wall0 = time.perf_counter()
        outputs, latencies = [], []
        for batch in [[d] for d in docs] if one_by_one else [docs]:
            started = time.perf_counter()
            outputs += list(pool.map(_floor_page, _floor_jobs(batch)))
            latencies.append(time.perf_counter() - started)
        wall = time.perf_counter() - wall0
    # CPU of the pages themselves: the workers' start-up and warm-up are not counted.
    cpu = sum(seconds for _, _, seconds in outputs)
    truths = [t for d in docs for t in d.truths]
    texts = [text for text, _, _ in outputs]
    peak = max(mb for _, mb, _ in outputs)
    result = Result(label, len(truths), wall, cpu, peak, cer(truths, texts))
    result.notes["latencies"] = latencies
    return result


def _same_priority() -> None:
    """Run at OCRmyPDF's priority: its CLI lowers its own by 5 (os.nice(5))."""
    os.nice(NICE)


def _image_dpi(doc: Doc) -> int:
    return doc.dpi


# --- (b) OCRmyPDF --------------------------------------------------------------------


def ensure_ocrmypdf() -> Path:
    """OCRmyPDF in the benchmark's own venv; created on first use."""
    exe = OCRMYPDF_VENV / "bin" / "ocrmypdf"
    if not exe.exists():
        print("bench: installing OCRmyPDF into bench/.venv-ocrmypdf", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(OCRMYPDF_VENV)], check=True)
        pip = [str(OCRMYPDF_VENV / "bin" / "pip"), "install", "-q", "ocrmypdf"]
        subprocess.run(pip, check=True)
    if shutil.which("gs") is None:
        sys.exit("bench: OCRmyPDF needs Ghostscript: apt-get install ghostscript")
    return exe


def run_ocrmypdf(docs: list[Doc], out: Path, label: str = "OCRmyPDF") -> Result:
    exe = ensure_ocrmypdf()
    out.mkdir(parents=True, exist_ok=True)
    texts, rotations, upright = [], [], 0
    cpu0, kids0, wall0 = _cpu_self(), _cpu_children(), time.perf_counter()
    peak, latencies = 0.0, []
    for doc in docs:
        started = time.perf_counter()
        target = out / (doc.path.stem + ".pdf")
        argv = [str(exe), "--rotate-pages", "--deskew", "--output-type", "pdfa"]
        argv += ["--jobs", str(CORES), "-l", "vie", "-q"]
        # Tesseract's own text, as digitize's CER uses its own (not PDF extraction).
        argv += ["--sidecar", str(target.with_suffix(".txt"))]
        if doc.fmt != "pdf":
            argv += ["--image-dpi", str(doc.dpi)]
        peak = max(peak, _run_measured([*argv, str(doc.path), str(target)]))
        latencies.append(time.perf_counter() - started)
    wall = time.perf_counter() - wall0
    cpu = _cpu_self() - cpu0 + _cpu_children() - kids0
    for doc in docs:
        turns = _page_turns(out / (doc.path.stem + ".pdf"))
        sidecar = (out / (doc.path.stem + ".txt")).read_text(encoding="utf-8")
        texts += sidecar.split("\f")[: len(turns)]
        rotations += turns
    truth_turns = [r for d in docs for r in d.rotations]
    upright = sum(
        (r + t) % 360 == 0 for r, t in zip(truth_turns, rotations, strict=True)
    )
    truths = [t for d in docs for t in d.truths]
    return Result(
        label,
        len(truths),
        wall,
        cpu,
        peak,
        cer(truths, texts),
        f"{upright}/{len(truths)}",
        {"latencies": latencies},
    )


def _run_measured(argv: list[str]) -> float:
    """Run a program; the peak memory (MB) of the largest process of its tree."""
    child = subprocess.Popen(argv)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise subprocess.CalledProcessError(child.returncode, argv)
    return usage.ru_maxrss / 1024


def _page_turns(path: Path) -> list[int]:
    """/Rotate of each page of an output PDF (how OCRmyPDF turns a page upright)."""
    import pikepdf

    with pikepdf.open(path) as pdf:
        return [int(page.obj.get("/Rotate", 0)) % 360 for page in pdf.pages]


# --- (c) digitize --------------------------------------------------------------------


def run_digitize(
    docs: list[Doc], home: Path, label: str = "digitize", *, one_by_one: bool = False
) -> Result:
    """The whole ingest in a child process with a running, warmed-up watcher.

    The files are moved into its inbox all at once, or one by one (`one_by_one`:
    each document timed alone, from its arrival to its outcome).
    """
    staging = home / "staging"
    for doc in docs:
        target = staging / "xa-bench" / "hs-1" / doc.path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(doc.path, target)
    argv = [sys.executable, __file__, "--digitize-child", str(home), str(staging)]
    argv += ["--one-by-one"] if one_by_one else []
    child = subprocess.run(argv, check=False, capture_output=True, text=True)
    if child.returncode != 0:
        sys.exit(f"bench: the digitize run {label!r} failed:\n{child.stderr[-3000:]}")
    stats = json.loads(child.stdout.strip().splitlines()[-1])
    texts, turns = [], []
    for doc in docs:
        pages = stats["pages"][doc.path.name]
        texts += [p["text"] for p in pages]
        turns += [p["rotation"] for p in pages]
    truth_turns = [r for d in docs for r in d.rotations]
    upright = sum((r + t) % 360 == 0 for r, t in zip(truth_turns, turns, strict=True))
    truths = [t for d in docs for t in d.truths]
    return Result(
        label,
        len(truths),
        stats["wall_s"],
        stats["cpu_s"],
        stats["peak_mb"],
        cer(truths, texts),
        f"{upright}/{len(truths)}",
        {"engine": stats["engine"], "stages": stats["stages"],
         "latencies": stats["latencies"]},
    )  # fmt: skip


def _warm_up(settings: Any) -> None:
    """What a running watcher has already done: key loaded, engines and fonts warm."""
    from digitize.keys import ensure_signing_key
    from digitize.ocr import ocr_page
    from digitize.pdf import build_searchable_pdf, encode_page_image
    from digitize.sign import sign_pdf

    ensure_signing_key(settings)
    corpus = paginate(load_corpus())
    image = render_page(corpus[0][:4], 300)
    ocr, upright = ocr_page(image, 0, 300, settings)
    sign_pdf(build_searchable_pdf([(ocr, encode_page_image(upright))]), settings)


def _arrive(watcher: Any, staging: Path, inbox: Path, files: list[Path]) -> float:
    """Move `files` into the inbox (renames: whole at once); wait for their outcomes."""
    expected = len(watcher.outcomes) + len(files)
    started = time.perf_counter()
    for path in files:
        target = inbox / path.relative_to(staging)
        target.parent.mkdir(parents=True, exist_ok=True)
        path.rename(target)
    while len(watcher.outcomes) < expected:
        watcher.step()
        watcher.wake.wait(watcher.settings.watch_poll_s)
        watcher.wake.clear()
    return time.perf_counter() - started


def digitize_child(home: Path, staging: Path, one_by_one: bool) -> None:
    """Child process: a warm, running watcher; files arrive; timed to their outcomes."""
    from digitize.config import load_settings
    from digitize.ingest import Watcher
    from digitize.store import Catalog
    from digitize.tools.tesseract import engine_name

    _same_priority()
    settings = replace(
        load_settings(), home=home, watch_settle_s=0.0, watch_poll_s=0.02
    )
    _warm_up(settings)
    catalog = Catalog(settings.catalog)
    inbox = home / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    watcher = Watcher(inbox, settings, catalog)
    watcher.start()
    files = sorted(p for p in staging.rglob("*") if p.is_file())
    cpu0, kids0, wall0 = _cpu_self(), _cpu_children(), time.perf_counter()
    batches = [[f] for f in files] if one_by_one else [files]
    latencies = [_arrive(watcher, staging, inbox, batch) for batch in batches]
    wall = time.perf_counter() - wall0
    cpu = _cpu_self() - cpu0 + _cpu_children() - kids0
    outcomes = watcher.outcomes
    watcher.close()
    failed = [o for o in outcomes if o.status != "stored"]
    if failed:
        sys.exit(
            f"bench: digitize failed on {[(o.name, o.error_code) for o in failed]}"
        )
    pages: dict[str, list[dict[str, Any]]] = {}
    stages: dict[str, float] = {}
    for outcome in outcomes:
        rows = catalog.db.execute(
            "SELECT text, rotation FROM pages WHERE document_id = ? ORDER BY idx",
            (outcome.document_id,),
        )
        pages[outcome.name] = [dict(r) for r in rows]
        for stage, seconds in outcome.stage_seconds.items():
            stages[stage] = stages.get(stage, 0.0) + seconds
    # Everything runs in this process (tesserocr); its children are short tool runs
    # forked from it, whose RSS counts the parent's pages again: not added.
    stats = {
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_mb": _peak_own_mb(),
        "pages": pages,
        "engine": engine_name(),
        "stages": stages,
        "latencies": latencies,
    }
    print(json.dumps(stats))


# --- report --------------------------------------------------------------------------


def _row(result: Result) -> str:
    return (
        f"{result.name:<20}{result.pages:>6}{result.pages_per_min:>10.1f}"
        f"{result.cpu_pages_per_min:>10.1f}{result.cpu_per_page:>8.2f}"
        f"{result.peak_mb:>8.0f}{100 * result.cer:>8.2f}%{result.upright:>8}"
        f"{result.notes.get('load', 0):>6.1f}"
    )


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _ratio_text(name: str, wall: float, cpu: float, ok: Any) -> str:
    return (
        f"{name}: {wall:.2f} by wall clock ({_verdict(ok(wall))}), {cpu:.2f} by CPU "
        f"time ({_verdict(ok(cpu))})"
    )


def _latency(result: Result) -> float:
    """Median time of one document, arrival to outcome (wall clock)."""
    return statistics.median(result.notes.get("latencies") or [result.wall_s])


def _targets(res: dict[str, Result]) -> list[str]:
    mix_d, mix_o = res["mixed digitize"], res["mixed OCRmyPDF"]
    up_d, up_f = res["upright digitize"], res["upright floor"]
    one_d, one_f = res["1-page digitize"], res["1-page floor"]
    up, done = mix_d.upright.split("/")
    return [
        _ratio_text(
            "mixed, digitize/OCRmyPDF pages/min (target >= 1.5)",
            mix_d.pages_per_min / mix_o.pages_per_min,
            mix_d.cpu_pages_per_min / mix_o.cpu_pages_per_min,
            lambda r: r >= 1.5,
        ),
        f"mixed, CER digitize {100 * mix_d.cer:.2f}% vs OCRmyPDF "
        f"{100 * mix_o.cer:.2f}% (target: equal or better): "
        f"{_verdict(mix_d.cer <= mix_o.cer)}; pages upright {mix_d.upright} "
        f"(OCRmyPDF {mix_o.upright}): {_verdict(up == done)}",
        _ratio_text(
            "upright, digitize/floor pages/min (target >= 0.85)",
            up_d.pages_per_min / up_f.pages_per_min,
            up_d.cpu_pages_per_min / up_f.cpu_pages_per_min,
            lambda r: r >= 0.85,
        ),
        _ratio_text(
            f"1-page document, digitize/floor time, median of {one_d.pages} "
            f"({_latency(one_d):.2f} s vs {_latency(one_f):.2f} s, OCRmyPDF "
            f"{_latency(res['1-page OCRmyPDF']):.2f} s; target <= 1.15)",
            _latency(one_d) / _latency(one_f),
            one_d.cpu_s / one_f.cpu_s,
            lambda r: r <= 1.15,
        ),
        f"peak memory: digitize {mix_d.peak_mb:.0f} MB for the whole process "
        f"({CORES} page workers, 2 files at once), floor {up_f.peak_mb:.0f} MB per "
        f"worker (Python worker + tesseract), target < 600 MB per worker: "
        f"{_verdict(mix_d.peak_mb / CORES < 600)}",
    ]


def report(res: dict[str, Result], scale: list[Result]) -> str:
    head = (
        f"{'approach':<20}{'pages':>6}{'pg/min':>10}{'CPU pg/m':>10}{'CPU s/p':>8}"
        f"{'peak MB':>8}{'CER':>9}{'upright':>8}{'load':>6}"
    )
    engine = res["mixed digitize"].notes.get("engine", "?")
    lines = [f"{CORES} cores; digitize engine: {engine}", head]
    lines += ["-" * len(head)] + [_row(r) for r in res.values()]
    lines += [
        "pg/min: measured wall clock; CPU pg/m: 60 x cores / CPU s per page (what the "
        "machine gives when nothing else runs); load: 1-min load average after the run",
        "",
        "targets:",
    ]
    try:
        lines += [f"  {t}" for t in _targets(res)]
    except KeyError as missing:
        lines.append(f"  (partial results: no {missing} yet)")
    lines += ["", "digitize cost per page by document length (warm watcher):"]
    for r in scale:
        busy = r.notes.get("stages", {}).get("ocr", 0.0) / r.wall_s
        lines.append(
            f"  {r.pages:>4} pages: {r.wall_s / r.pages:.2f} s wall/page, "
            f"{r.cpu_per_page:.2f} CPU s/page, {r.pages_per_min:.1f} pages/min "
            f"({r.cpu_pages_per_min:.1f} by CPU), peak {r.peak_mb:.0f} MB, "
            f"{busy:.1f} pages in OCR at once"
        )
    stages = res["mixed digitize"].notes.get("stages", {})
    total = sum(stages.values()) or 1.0
    lines.append(
        "digitize stage shares (mixed, summed thread time): "
        + ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in stages.items())
    )
    return "\n".join(lines)


def _save(path: Path | None, res: dict[str, Result], scale: list[Result]) -> None:
    if path is not None:
        data: dict[str, Any] = {k: asdict(v) for k, v in res.items()}
        data["scale"] = [asdict(r) for r in scale]
        path.write_text(json.dumps(data, indent=2, default=str))


def _load(path: Path) -> tuple[dict[str, Result], list[Result]]:
    data = json.loads(path.read_text())
    scale = [Result(**r) for r in data.pop("scale", [])]
    return {k: Result(**v) for k, v in data.items()}, scale


def _timed(result: Result) -> Result:
    result.notes["load"] = os.getloadavg()[0]
    return result


_APPROACHES = {"floor": run_floor, "OCRmyPDF": run_ocrmypdf, "digitize": run_digitize}


def _run_one(key: str, docs: list[Doc], root: Path) -> Result:
    """Run approach `key` ("<set> <approach>") on `docs` in its own folder."""
    approach = key.split()[-1]
    folder = root / key.replace(" ", "-")
    alone = key.startswith("1-page")  # each document timed alone: its latency
    if approach == "floor":
        return _timed(run_floor(docs, key, one_by_one=alone))
    if approach == "digitize":
        return _timed(run_digitize(docs, folder, key, one_by_one=alone))
    return _timed(run_ocrmypdf(docs, folder, key))


def _run_all(args: argparse.Namespace, root: Path) -> None:
    # Pages are drawn in another process: this one stays small, and the tools it
    # starts (whose peak memory counts the parent's on Linux) are measured truly.
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        sets = pool.submit(make_sets, root / "files", args.seed, args.quick).result()
    res: dict[str, Result] = {}
    scale: list[Result] = []
    if args.only and args.json and args.json.exists():
        res, scale = _load(args.json)  # re-run some, keep the others
    for name in ("mixed", "upright", "1-page"):
        for approach in _APPROACHES:
            key = f"{name} {approach}"
            if not args.only or key in args.only:
                res[key] = _run_one(key, sets[name], root)
                _save(args.json, res, scale)
    if not args.only or "scale" in args.only:
        scale = [
            _timed(run_digitize([doc], root / f"scale-{i}", f"{len(doc.truths)}"))
            for i, doc in enumerate(sets["scale"])
        ]
        _save(args.json, res, scale)
    if args.long:
        long_doc = _make_doc(
            root / "files" / "long",
            f"pages-{args.long}",
            ["upright"] * args.long,
            paginate(load_corpus()),
            random.Random(args.seed),
        )
        scale.append(_timed(run_digitize([long_doc], root / "long", "long")))
    _save(args.json, res, scale)
    print(report(res, scale))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="no 100-page document")
    parser.add_argument("--long", type=int, default=0, help="also an N-page PDF")
    parser.add_argument("--keep", type=Path, help="keep the generated files here")
    parser.add_argument("--json", type=Path, help="write the results here as they come")
    parser.add_argument("--report-only", type=Path, help="print the table of a --json")
    parser.add_argument(
        "--only", action="append", default=[],
        help="run only this ('mixed digitize', 'scale', ...); others kept from --json",
    )  # fmt: skip
    parser.add_argument("--digitize-child", nargs=2, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--one-by-one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.digitize_child:
        digitize_child(*args.digitize_child, args.one_by_one)
        return
    if args.report_only:
        print(report(*_load(args.report_only)))
        return
    ensure_ocrmypdf()
    root = args.keep or Path(tempfile.mkdtemp(prefix="digitize-bench-ocr-"))
    try:
        _run_all(args, root)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
