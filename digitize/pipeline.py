"""Runs the stages for one scan file, in order: the table of contents of digitize.

claim -> private copy -> pages -> OCR (pages in parallel) -> extraction -> searchable PDF
-> signing (validated at once) -> storage in one transaction.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from digitize.config import Settings
from digitize.errors import DigitizeError
from digitize.extract import extract_papers
from digitize.machine_layers import read_machine_layers
from digitize.ocr import ocr_page
from digitize.pages import PageImage, count_pages, iter_pages, sniff_format
from digitize.mark import conversion_mark
from digitize.pdf import EncodedImage, build_searchable_pdf, encode_page_image
from digitize.records import OcrPage, PageEvidence, Paper
from digitize.sign import sign_pdf
from digitize.store import Catalog, DocumentRecord, sha256_file, write_blob

__all__ = ["FileOutcome", "Reading", "process_file", "read_document"]

log = logging.getLogger(__name__)


@dataclass
class FileOutcome:
    """What happened to one input file."""

    name: str
    status: str  # stored | duplicate | failed
    document_id: str = ""
    pages: int = 0
    seconds: float = 0.0
    persons: int = 0
    fields: int = 0
    signed: bool = False
    validated: bool = False
    sign_level: str = ""
    error_code: str = ""
    error_stage: str = ""
    message: str = ""
    stage_seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class _PageResult:
    ocr: OcrPage
    image: EncodedImage
    evidence: PageEvidence


class _Timer:
    """Adds wall-clock seconds per stage name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def add(self, stage: str, started: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - started


def _workers(settings: Settings) -> int:
    return settings.ocr_workers or os.cpu_count() or 1


def _read_page(page: PageImage, settings: Settings, timer: _Timer) -> _PageResult:
    started = time.perf_counter()
    ocr, upright = ocr_page(page.image, page.index, page.dpi, settings)
    timer.add("ocr", started)
    started = time.perf_counter()
    qr, mrz = read_machine_layers(upright, ocr.words)
    evidence = PageEvidence(page.index, ocr.text, ocr.words, qr, mrz)
    timer.add("extract", started)
    started = time.perf_counter()
    image = encode_page_image(upright)
    timer.add("pdf", started)
    return _PageResult(ocr, image, evidence)


def _timed_pages(pages: Iterator[PageImage], timer: _Timer) -> Iterator[PageImage]:
    while True:
        started = time.perf_counter()
        page = next(pages, None)
        timer.add("raster", started)
        if page is None:
            return
        yield page


def _read_pages(
    copy: Path, fmt: str, settings: Settings, timer: _Timer
) -> list[_PageResult]:
    """OCR all pages, several at once, holding at most 2 pages per worker in memory."""
    workers = _workers(settings)
    pending: list[Future[_PageResult]] = []
    results: list[_PageResult] = []
    pages = iter_pages(copy, fmt, dpi=settings.ocr_dpi, max_pixels=settings.max_pixels)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="page") as pool:
        for page in _timed_pages(pages, timer):
            pending.append(pool.submit(_read_page, page, settings, timer))
            while len(pending) >= 2 * workers:
                results.append(pending.pop(0).result())
        results.extend(f.result() for f in pending)
    return results


@dataclass
class Reading:
    """What one file becomes before signing: OCR'd pages, papers, unsigned PDF."""

    pages: list[OcrPage]
    papers: list[Paper]
    unsigned: bytes


def read_document(
    copy: Path,
    fmt: str,
    settings: Settings,
    timer: _Timer | None = None,
    *,
    record_id: str = "",
) -> Reading:
    """Pages, OCR, extraction and the searchable PDF of one private copy.

    Both modes run this: `process_file` below, and the `read` step of
    digitize.scale.steps on a worker. With `record_id`, page 1 carries the
    'converted from paper' mark and a QR code of the record's address.
    """
    timer = timer or _Timer()
    count_pages(copy, fmt, max_pages=settings.max_pages, max_pixels=settings.max_pixels)
    results = _read_pages(copy, fmt, settings, timer)

    t0 = time.perf_counter()
    papers = extract_papers([r.evidence for r in results])
    timer.add("extract", t0)

    t0 = time.perf_counter()
    mark = conversion_mark(settings, record_id) if record_id else None
    unsigned = build_searchable_pdf([(r.ocr, r.image) for r in results], mark=mark)
    timer.add("pdf", t0)
    return Reading([r.ocr for r in results], papers, unsigned)


def _private_copy(path: Path, sha256: str, fmt: str, settings: Settings) -> Path:
    settings.work.mkdir(parents=True, exist_ok=True)
    copy = settings.work / f"{sha256}.{fmt}"
    shutil.copyfile(path, copy)
    if sha256_file(copy) != sha256:
        copy.unlink(missing_ok=True)
        raise DigitizeError("the file changed while it was copied; it will be retried",
                            code="input.changed")
    return copy


def process_file(
    path: Path, settings: Settings, catalog: Catalog, *, unit: str = "", dossier: str = ""
) -> FileOutcome:
    """Run every stage for one scan; the input file itself is never modified.

    Raises:
        DigitizeError: any stage failed; nothing was stored.
    """
    started = time.perf_counter()
    timer = _Timer()
    outcome = FileOutcome(name=path.name, status="stored")

    # Claim: hash the raw input; the same bytes twice link to the first record.
    with path.open("rb") as handle:
        fmt = sniff_format(handle.read(2048))
    sha256 = sha256_file(path)
    existing = catalog.find_document_by_sha(sha256)
    if existing is not None:
        catalog.log_event("duplicate", existing["id"], {"unit": unit, "dossier": dossier})
        outcome.status, outcome.document_id = "duplicate", existing["id"]
        outcome.pages, outcome.signed = existing["pages"], bool(existing["signed_sha256"])
        outcome.validated = bool(existing["validated"])
        return outcome

    copy = _private_copy(path, sha256, fmt, settings)
    try:
        reading = read_document(copy, fmt, settings, timer, record_id=sha256[:16])

        t0 = time.perf_counter()
        signed = sign_pdf(reading.unsigned, settings)
        timer.add("sign", t0)

        t0 = time.perf_counter()
        record = DocumentRecord(
            sha256=sha256, original_name=path.name, format=fmt,
            size_bytes=copy.stat().st_size, pages=reading.pages,
            papers=reading.papers, unit=unit, dossier=dossier,
        )
        _store(record, copy, signed.unsigned or reading.unsigned, signed, settings)
        record.seconds = time.perf_counter() - started
        persons = catalog.add_document(record)
        timer.add("store", t0)
    finally:
        copy.unlink(missing_ok=True)

    outcome.document_id, outcome.pages = record.id, len(reading.pages)
    outcome.persons = len(persons)
    outcome.fields = sum(len(p.fields) for p in reading.papers)
    outcome.signed, outcome.validated = True, record.validated
    outcome.sign_level = signed.level
    outcome.seconds = time.perf_counter() - started
    outcome.stage_seconds = timer.seconds
    log.info(
        "stored %s: %d pages in %.1f s", record.id, len(reading.pages), outcome.seconds
    )
    return outcome


def _store(record: DocumentRecord, copy: Path, unsigned: bytes, signed, settings) -> None:
    """Write the three blobs of the legal chain; fill the record's hashes."""
    suffix = "." + record.format
    if write_blob(settings.repository, copy, suffix) != record.sha256:
        raise DigitizeError("the private copy changed during processing",
                            code="store.changed")
    record.unsigned_sha256 = write_blob(settings.repository, unsigned, ".unsigned.pdf")
    record.signed_sha256 = write_blob(settings.repository, signed.data, ".signed.pdf")
    record.sign_level = signed.level
    record.signer = signed.signer_subject
    record.signed_at = signed.signed_at.isoformat()
    record.validated = True
