"""Runs the stages for one scan file, in order: the table of contents of digitize.

claim -> private copy -> pages -> OCR (pages in parallel) -> extraction -> searchable PDF
-> signing (validated at once) -> storage in one transaction.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from sqlite3 import Row
from typing import Any, Protocol

from digitize.config import Settings
from digitize.errors import DigitizeError, SigningError
from digitize.extract import extract_papers
from digitize.machine_layers import collect_evidence
from digitize.mark import conversion_mark
from digitize.ocr import ocr_page
from digitize.pages import (
    OpenedDocument,
    PageImage,
    iter_pages,
    open_document,
    page_from_text_layer,
    sniff_format,
)
from digitize.pdf import EncodedImage, encode_page_image, write_searchable_pdf
from digitize.records import OcrPage, PageEvidence, Paper
from digitize.sign import SignedPdf, report_to_dict, sign_pdf_file, verify_pdf
from digitize.sign.chain import record_input_signatures
from digitize.store import Catalog, DocumentRecord, blob_path, write_blob

__all__ = [
    "Claim",
    "FileOutcome",
    "Journal",
    "Reading",
    "discard_work_files",
    "duplicate_outcome",
    "process_claim",
    "process_file",
    "read_document",
]

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
    notes: dict[str, Any] = field(default_factory=dict)


class Journal(Protocol):
    """Hears of each stage boundary a file passes and of blobs about to be written.

    The watcher keeps both in its ledger, to recover after a crash at any point.
    """

    def reached(self, stage: str) -> None:
        """The file has just passed `stage` (opened, ocr, extract, pdf, sign, ...)."""

    def writing(self, paths: list[Path]) -> None:
        """These repository files are about to be written for the file."""


class _Silent:
    def reached(self, stage: str) -> None:
        pass

    def writing(self, paths: list[Path]) -> None:
        pass


_SILENT = _Silent()


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
    if page.words is not None:
        ocr, upright = page_from_text_layer(page), page.image
    else:
        ocr, upright = ocr_page(page.image, page.index, page.dpi, settings)
    timer.add("ocr", started)
    started = time.perf_counter()
    evidence = collect_evidence(ocr, upright)
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
    opened: OpenedDocument, settings: Settings, timer: _Timer
) -> Iterator[_PageResult]:
    """OCR the pages, several at once, and give them back in page order.

    At most 2 pages per worker are rendered or read at a time, so memory does not
    grow with the page count as long as the caller lets each page go in turn.
    """
    workers = _workers(settings)
    pending: deque[Future[_PageResult]] = deque()
    pages = iter_pages(
        opened.path,
        opened.fmt,
        dpi=settings.ocr_dpi,
        max_pixels=settings.max_pixels,
        notes=opened.notes,
        text_pages=opened.text_pages,
    )
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="page") as pool:
        try:
            for page in _timed_pages(pages, timer):
                pending.append(pool.submit(_read_page, page, settings, timer))
                while len(pending) >= 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


@dataclass
class Reading:
    """What one file becomes before signing: OCR'd pages, papers, unsigned PDF."""

    pages: list[OcrPage]
    papers: list[Paper]
    unsigned: Path
    """The searchable PDF, written next to the private copy; the caller removes it."""
    notes: dict[str, Any] = field(default_factory=dict)
    """Facts about the input: repaired, encryption, signatures, estimated DPI, ..."""


def read_document(
    copy: Path,
    fmt: str,
    settings: Settings,
    timer: _Timer | None = None,
    *,
    opened: OpenedDocument | None = None,
    journal: Journal = _SILENT,
    record_id: str = "",
) -> Reading:
    """Pages, OCR, extraction and the searchable PDF of one private copy.

    The PDF is written page by page to `<copy>.unsigned.pdf` as the pages are read,
    so neither the page images nor the PDF are held in memory; the words and the
    extraction evidence of every page are. Both modes run this: `process_claim`
    below, and the `read` step of digitize.scale.steps on a worker. `opened` skips
    the structural open when the caller did it already. With `record_id`, page 1
    carries the 'converted from paper' mark and a QR code of the record's address
    (drawn before signing).
    """
    timer = timer or _Timer()
    if opened is None:
        opened = open_document(
            copy, fmt, max_pages=settings.max_pages, max_pixels=settings.max_pixels
        )
    # LIMITATION: the words and extraction evidence of every page stay in memory
    # until the document is stored (about 0.1 MB a page; extraction and the catalog
    # need them all) -> max_pages is what bounds them.
    ocr_pages: list[OcrPage] = []
    evidence: list[PageEvidence] = []
    last_page_out = [0.0]

    def in_order() -> Iterator[tuple[OcrPage, EncodedImage]]:
        for result in _read_pages(opened, settings, timer):
            ocr_pages.append(result.ocr)
            evidence.append(result.evidence)
            started = time.perf_counter()
            yield result.ocr, result.image
            timer.add("pdf", started)  # the time spent writing the page
        last_page_out[0] = time.perf_counter()

    unsigned = copy.with_name(copy.name + ".unsigned.pdf")
    mark = conversion_mark(settings, record_id) if record_id else None
    try:
        write_searchable_pdf(in_order(), unsigned, mark=mark)
    except BaseException:
        unsigned.unlink(missing_ok=True)
        raise
    timer.add("pdf", last_page_out[0])  # the file's end and the mark on page 1
    journal.reached("ocr")

    t0 = time.perf_counter()
    papers = extract_papers(evidence)
    timer.add("extract", t0)
    journal.reached("extract")
    journal.reached("pdf")
    return Reading(ocr_pages, papers, unsigned, opened.notes)


@dataclass
class Claim:
    """A file taken for processing: its private copy and the hash of its raw bytes."""

    copy: Path
    """Private copy in the work area: every stage reads this, never the input."""
    sha256: str
    """SHA-256 of the raw input bytes, taken while copying them."""
    size_bytes: int
    name: str
    """The file's name, NFC, for the catalog (never for logs)."""
    unit: str = ""
    dossier: str = ""
    young: bool = False
    """Seen only recently: a damaged PDF is left to finish, not repaired."""

    def discard(self) -> None:
        """Remove the private copy and every file made from it."""
        discard_work_files(self.copy)


def discard_work_files(copy: Path) -> None:
    """Remove a private copy and its twins (`<copy>.repaired.pdf`, ...)."""
    copy.unlink(missing_ok=True)
    for path in copy.parent.glob(glob.escape(copy.name) + ".*"):
        path.unlink(missing_ok=True)


def duplicate_outcome(name: str, existing: Row) -> FileOutcome:
    """The outcome of bytes already stored: a link to the existing record."""
    return FileOutcome(
        name=name,
        status="duplicate",
        document_id=existing["id"],
        pages=existing["pages"],
        signed=bool(existing["signed_sha256"]),
        validated=bool(existing["validated"]),
    )


def _input_signatures(copy: Path, settings: Settings) -> list[dict[str, Any]]:
    """Report on the signatures an already-signed input carries (kept byte-identical)."""
    try:
        with copy.open("rb") as handle:
            reports = verify_pdf(handle, settings)
    except SigningError as err:
        return [{"checked": False, "code": err.code, "message": err.message}]
    return [report_to_dict(report) for report in reports]


def process_file(
    path: Path, settings: Settings, catalog: Catalog, *, unit: str = "", dossier: str = ""
) -> FileOutcome:
    """Run every stage for one scan where it lies (`digitize ingest`); never modify it.

    Raises:
        DigitizeError: any stage failed; nothing was stored.
    """
    # The ingest package imports this module; its claim step is imported late.
    from digitize.ingest.claim import claim_path

    work = settings.work / f"ingest-{os.getpid()}"
    claim = claim_path(path, work, unit=unit, dossier=dossier)
    try:
        outcome = process_claim(claim, settings, catalog)
    finally:
        claim.discard()
        with contextlib.suppress(OSError):
            work.rmdir()  # unless another file of this run still uses it
    if outcome.status == "duplicate":
        catalog.log_event(
            "duplicate", outcome.document_id, {"unit": unit, "dossier": dossier}
        )
    return outcome


def process_claim(
    claim: Claim, settings: Settings, catalog: Catalog, *, journal: Journal = _SILENT
) -> FileOutcome:
    """Run every stage on a claimed private copy: open, read, sign, store.

    Bytes stored before give a `duplicate` outcome at once, without OCR.

    Raises:
        DigitizeError: any stage failed; nothing was committed (blobs announced to
            the journal may remain until the caller removes them).
    """
    started = time.perf_counter()
    timer = _Timer()
    existing = catalog.find_document_by_sha(claim.sha256)
    if existing is not None:
        return duplicate_outcome(claim.name, existing)
    with claim.copy.open("rb") as handle:
        fmt = sniff_format(handle.read(2048))
    opened = open_document(
        claim.copy,
        fmt,
        max_pages=settings.max_pages,
        max_pixels=settings.max_pixels,
        allow_repair=not claim.young,
    )
    if opened.notes.get("signature_fields"):
        opened.notes["input_signatures"] = _input_signatures(claim.copy, settings)
    journal.reached("opened")

    reading = read_document(
        opened.path, fmt, settings, timer, opened=opened, journal=journal,
        record_id=claim.sha256[:16],
    )

    t0 = time.perf_counter()
    signed = sign_pdf_file(
        reading.unsigned, reading.unsigned.with_name(claim.copy.name + ".signed.pdf"),
        settings,
    )  # fmt: skip
    timer.add("sign", t0)
    journal.reached("sign")

    t0 = time.perf_counter()
    record = DocumentRecord(
        sha256=claim.sha256, original_name=claim.name, format=fmt,
        size_bytes=claim.size_bytes, pages=reading.pages, papers=reading.papers,
        unit=claim.unit, dossier=claim.dossier, notes=reading.notes,
    )  # fmt: skip
    _store(record, claim.copy, signed, settings, journal)
    journal.reached("blobs")
    record.seconds = time.perf_counter() - started
    persons = catalog.add_document(record)
    record_input_signatures(
        catalog, claim.sha256, record.id, reading.notes.get("input_signatures", [])
    )
    timer.add("store", t0)
    journal.reached("committed")

    outcome = FileOutcome(name=claim.name, status="stored", notes=reading.notes)
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


def _store(
    record: DocumentRecord,
    copy: Path,
    signed: SignedPdf,
    settings: Settings,
    journal: Journal = _SILENT,
) -> None:
    """Write the three blobs of the legal chain from their files; fill the record."""
    assert signed.path is not None and signed.unsigned_path is not None
    suffix = "." + record.format
    # Announce the names first: a crash before the catalog commit leaves files that
    # the watcher's recovery removes again.
    journal.writing(
        [
            blob_path(settings.repository, record.sha256, suffix),
            blob_path(settings.repository, signed.unsigned_sha256, ".unsigned.pdf"),
            blob_path(settings.repository, signed.signed_sha256, ".signed.pdf"),
        ]
    )
    if write_blob(settings.repository, copy, suffix) != record.sha256:
        raise DigitizeError("the private copy changed during processing",
                            code="store.changed")
    record.unsigned_sha256 = write_blob(
        settings.repository, signed.unsigned_path, ".unsigned.pdf"
    )
    record.signed_sha256 = write_blob(settings.repository, signed.path, ".signed.pdf")
    record.sign_level = signed.level
    record.signer = signed.signer_subject
    record.signed_at = signed.signed_at.isoformat()
    record.validated = True
