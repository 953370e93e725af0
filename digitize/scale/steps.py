"""The pipeline as idempotent steps keyed by the input's SHA-256, for either mode.

claim (ingest node) -> read (OCR worker: pages, OCR, extraction, unsigned PDF) -> sign
(the node holding the key) -> index (catalog). Each step reads its input from the job
row and the blob store, returns at once when its output already exists, and records
its output with a compare-and-set, so a step delivered twice changes nothing.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from digitize.errors import DigitizeError, NotFoundError
from digitize.pages import count_pages, sniff_format
from digitize.pipeline import FileOutcome, discard_work_files, read_document
from digitize.scale.backends import Backends, worker_name
from digitize.scale.jobs import NEXT_STEP, dump_reading, load_reading
from digitize.sign import sign_pdf_file
from digitize.store import DocumentRecord, sha256_file

__all__ = ["STEPS", "claim_file", "index_step", "read_step", "run_job", "sign_step"]

log = logging.getLogger(__name__)


def claim_file(
    path: Path, b: Backends, *, unit: str = "", dossier: str = ""
) -> tuple[FileOutcome, str]:
    """Take one settled inbox file: check it, keep it in the blob store, queue a job.

    Returns the outcome (status queued or duplicate) and the file's SHA-256.

    Raises:
        InputError: the file is empty, not a scan, damaged or too large; it goes to
            quarantine at the ingest node, before any worker sees it.
    """
    started = time.perf_counter()
    with path.open("rb") as handle:
        fmt = sniff_format(handle.read(2048))
    sha = sha256_file(path)
    outcome = FileOutcome(name=path.name, status="queued", document_id=sha[:16])

    existing = b.catalog.find_document_by_sha(sha)
    if existing is not None or b.jobs.get(sha) is not None:
        b.catalog.log_event("duplicate", sha[:16], {"unit": unit, "dossier": dossier})
        outcome.status = "duplicate"
        return outcome, sha

    settings = b.settings
    outcome.pages = count_pages(
        path, fmt, max_pages=settings.max_pages, max_pixels=settings.max_pixels
    )
    if b.blobs.put(path, "." + fmt) != sha:
        raise DigitizeError(
            "the file changed while it was read; it will be retried",
            code="input.changed",
        )
    if not b.jobs.add(
        sha,
        name=path.name,
        unit=unit,
        dossier=dossier,
        fmt=fmt,
        size_bytes=path.stat().st_size,
    ):
        outcome.status = "duplicate"
    outcome.seconds = time.perf_counter() - started
    log.info("queued %s: %d pages", sha[:16], outcome.pages)
    return outcome, sha


def _job(sha256: str, b: Backends):
    job = b.jobs.get(sha256)
    if job is None:
        raise NotFoundError(f"no job {sha256[:16]}")
    return job


def read_step(sha256: str, b: Backends) -> bool:
    """OCR worker: pages, OCR, extraction, unsigned PDF. True when the job moved on."""
    # LIMITATION: the unit of work is one file (its pages are read by the worker's
    # ocr_workers threads), not one page -> a very long PDF is one task and must fit
    # in scale_task_time_limit_s.
    job = _job(sha256, b)
    if job["state"] != "queued":
        return job["state"] != "failed"
    started = time.perf_counter()
    # Named per process: two workers may hold the same job after a redelivery.
    copy = b.settings.work / f"{sha256}.{os.getpid()}.{job['format']}"
    with b.jobs.running(sha256, "read", worker_name(), b.settings.scale_heartbeat_s):
        copy.parent.mkdir(parents=True, exist_ok=True)
        try:
            b.blobs.fetch(sha256, "." + job["format"], copy)
            reading = read_document(
                copy, job["format"], b.settings, record_id=sha256[:16]
            )
            unsigned_sha = b.blobs.put(reading.unsigned, ".unsigned.pdf")
        finally:
            discard_work_files(copy)
        b.jobs.advance(
            sha256,
            "queued",
            "read",
            reading=dump_reading(reading.pages, reading.papers),
            unsigned_sha256=unsigned_sha,
            ocr_seconds=time.perf_counter() - started,
        )
    log.info("read %s: %d pages", sha256[:16], len(reading.pages))
    return True


def sign_step(sha256: str, b: Backends) -> bool:
    """Signing node: sign the unsigned PDF and validate it at once."""
    job = _job(sha256, b)
    if job["state"] != "read":
        return job["state"] not in ("queued", "failed")
    with b.jobs.running(sha256, "sign", worker_name(), b.settings.scale_heartbeat_s):
        work = b.settings.work / f"sign-{sha256}.{os.getpid()}.pdf"
        work.parent.mkdir(parents=True, exist_ok=True)
        try:
            b.blobs.fetch(job["unsigned_sha256"], ".unsigned.pdf", work)
            signed = sign_pdf_file(
                work, work.with_name(work.name + ".signed.pdf"), b.settings
            )
            assert signed.path is not None
            signed_sha = b.blobs.put(signed.path, ".signed.pdf")
        finally:
            discard_work_files(work)
        # Compare-and-set: when two runs race, the first signature is the one kept.
        # LIMITATION: the losing run's signed PDF stays in the blob store, referenced
        # by nothing -> it costs space only; no sweep deletes it.
        b.jobs.advance(
            sha256,
            "read",
            "signed",
            signed_sha256=signed_sha,
            sign_level=signed.level,
            signer=signed.signer_subject,
            signed_at=signed.signed_at.isoformat(),
        )
    log.info("signed %s", sha256[:16])
    return True


def index_step(sha256: str, b: Backends) -> bool:
    """Catalog: record the document, pages, fields, persons and full text once."""
    job = _job(sha256, b)
    if job["state"] != "signed":
        return False
    if b.catalog.find_document_by_sha(sha256) is None:
        pages, papers = load_reading(job["reading"])
        record = DocumentRecord(
            sha256=sha256,
            original_name=job["original_name"],
            format=job["format"],
            size_bytes=job["size_bytes"],
            pages=pages,
            papers=papers,
            unit=job["unit"],
            dossier=job["dossier"],
            unsigned_sha256=job["unsigned_sha256"],
            signed_sha256=job["signed_sha256"],
            sign_level=job["sign_level"],
            signer=job["signer"],
            signed_at=job["signed_at"],
            validated=True,
            seconds=job["ocr_seconds"] or 0.0,
        )
        try:
            b.catalog.add_document(record)
        except Exception:
            # Another run of this step won the race (unique sha256): fine if stored.
            if b.catalog.find_document_by_sha(sha256) is None:
                raise
    b.jobs.advance(sha256, "signed", "stored")
    log.info("stored %s", sha256[:16])
    return False


STEPS = {"read": read_step, "sign": sign_step, "index": index_step}


def run_job(sha256: str, b: Backends) -> str:
    """Run every step left for one job here, in order; return its final state.

    Raises:
        DigitizeError: a step failed; the job is marked failed with the error's code.
    """
    while True:
        state = _job(sha256, b)["state"]
        step = NEXT_STEP.get(state)
        if step is None:
            return state
        try:
            STEPS[step](sha256, b)
        except DigitizeError as err:
            b.jobs.fail(sha256, err.code, err.message)
            raise
