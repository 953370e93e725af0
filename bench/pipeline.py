"""Per-stage cost of the pipeline on generated samples, and the end-to-end rate.

Prints, for each stage (raster, OCR, extraction, PDF, signing, storage): wall seconds,
CPU seconds per page (this process plus its Tesseract children) and peak memory (Python
heap peak via tracemalloc; the children's peak RSS for OCR). Then runs the real parallel
pipeline over the same files and prints pages per minute.

    python bench/pipeline.py [--set demo|full] [--seed 7]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from digitize.config import load_settings
from digitize.extract import extract_papers
from digitize.ingest import Watcher
from digitize.keys import ensure_signing_key
from digitize.machine_layers import read_machine_layers
from digitize.ocr import ocr_page
from digitize.pages import iter_pages, sniff_format
from digitize.pdf import build_searchable_pdf, encode_page_image
from digitize.records import PageEvidence
from digitize.sign import sign_pdf
from digitize.store import Catalog, DocumentRecord, sha256_file, write_blob
from samples.generate import generate

STAGES = ("raster", "ocr", "extract", "pdf", "sign", "store")


class Meter:
    """Wall, CPU (self + children) and peak Python heap for one stage, summed."""

    def __init__(self) -> None:
        self.wall = dict.fromkeys(STAGES, 0.0)
        self.cpu = dict.fromkeys(STAGES, 0.0)
        self.peak_mb = dict.fromkeys(STAGES, 0.0)

    def measure(self, stage, fn, *args):
        tracemalloc.reset_peak()
        cpu0 = _cpu()
        wall0 = time.perf_counter()
        result = fn(*args)
        self.wall[stage] += time.perf_counter() - wall0
        self.cpu[stage] += _cpu() - cpu0
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        self.peak_mb[stage] = max(self.peak_mb[stage], peak)
        return result


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _staged(files, settings, catalog) -> tuple[Meter, int]:
    meter, pages_done = Meter(), 0
    for path in files:
        fmt = sniff_format(path.read_bytes()[:2048])
        pages = meter.measure(
            "raster",
            lambda: list(
                iter_pages(
                    path, fmt, dpi=settings.ocr_dpi, max_pixels=settings.max_pixels
                )
            ),
        )
        read, evidence = [], []
        for page in pages:
            ocr, upright = meter.measure(
                "ocr", ocr_page, page.image, page.index, page.dpi, settings
            )
            qr, mrz = meter.measure("extract", read_machine_layers, upright, ocr.words)
            evidence.append(PageEvidence(page.index, ocr.text, ocr.words, qr, mrz))
            read.append((ocr, meter.measure("pdf", encode_page_image, upright)))
        papers = meter.measure("extract", extract_papers, evidence)
        unsigned = meter.measure("pdf", build_searchable_pdf, read)
        signed = meter.measure("sign", sign_pdf, unsigned, settings)

        def store():
            sha = sha256_file(path)
            write_blob(settings.repository, path, "." + fmt)
            write_blob(settings.repository, unsigned, ".unsigned.pdf")
            write_blob(settings.repository, signed.data, ".signed.pdf")
            catalog.add_document(
                DocumentRecord(
                    sha256=sha,
                    original_name=path.name,
                    format=fmt,
                    size_bytes=path.stat().st_size,
                    pages=[o for o, _ in read],
                    papers=papers,
                )
            )

        meter.measure("store", store)
        pages_done += len(pages)
    return meter, pages_done


def _end_to_end(inbox: Path, settings) -> tuple[float, float, int]:
    catalog = Catalog(settings.catalog)
    cpu0, wall0 = _cpu(), time.perf_counter()
    outcomes = Watcher(inbox, settings, catalog).drain()
    wall, cpu = time.perf_counter() - wall0, _cpu() - cpu0
    catalog.close()
    return wall, cpu, sum(o.pages for o in outcomes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="demo", choices=["demo", "full"])
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="digitize-bench-"))
    try:
        generate(root / "samples", seed=args.seed, set_name=args.set)
        files = sorted(
            p for p in (root / "samples" / "inbox").rglob("*") if p.is_file()
        )
        base = replace(load_settings(), watch_settle_s=0.0, watch_poll_s=0.05)
        staged = replace(base, home=root / "staged", ocr_workers=1)
        ensure_signing_key(staged)
        tracemalloc.start()
        meter, pages = _staged(files, staged, Catalog(staged.catalog))
        tracemalloc.stop()
        kids_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

        e2e = replace(base, home=root / "e2e")
        ensure_signing_key(e2e)
        inbox = root / "inbox"
        shutil.copytree(root / "samples" / "inbox", inbox)
        wall, cpu, e2e_pages = _end_to_end(inbox, e2e)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    print(
        f"\n{len(files)} files, {pages} pages, set '{args.set}', {os.cpu_count()} cores\n"
    )
    print(
        f"{'stage':<10}{'wall s':>9}{'CPU s/page':>12}{'pages/min':>11}{'peak MB':>10}"
    )
    for stage in STAGES:
        rate = 60 * pages / meter.wall[stage] if meter.wall[stage] else float("inf")
        peak = f"{meter.peak_mb[stage]:.1f}"
        if stage == "ocr":
            peak += f" (+{kids_rss:.0f} tesseract RSS)"
        print(
            f"{stage:<10}{meter.wall[stage]:>9.2f}{meter.cpu[stage] / pages:>12.3f}"
            f"{rate:>11.1f}  {peak}"
        )
    total = sum(meter.wall.values())
    print(
        f"{'all':<10}{total:>9.2f}{sum(meter.cpu.values()) / pages:>12.3f}"
        f"{60 * pages / total:>11.1f}   (one page at a time)"
    )
    print(
        f"\nend to end, pages in parallel: {e2e_pages} pages in {wall:.1f} s = "
        f"{60 * e2e_pages / wall:.1f} pages/min, {cpu / e2e_pages:.2f} CPU s/page"
    )


if __name__ == "__main__":
    main()
