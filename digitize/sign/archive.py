"""Long-term care of the signed archive: offline re-validation and timestamp renewal.

`check_archive` re-validates every current signed file offline, from the evidence it
embeds (AdES LTA with LOCAL_ONLY for B-LTA files), and lists those whose timestamp
chain must be extended before its certificates expire. `extend_archive` adds an
archive timestamp (with fresh validation data) to them: a new version blob that
begins with the old one. Both run files in parallel processes.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, replace
from io import BytesIO
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.signers import PdfTimeStamper
from pyhanko.sign.validation.dss import async_add_validation_info

from digitize.config import Settings
from digitize.errors import ConfigError, DigitizeError, SigningError
from digitize.keys import trust_root_paths
from digitize.sign.profile import resolve_profile, signing_error_from
from digitize.sign.runner import run_coroutine
from digitize.sign.signing import PYHANKO_ERRORS
from digitize.sign.verify import load_trust_roots, open_pdf, verify_reader
from digitize.store import Catalog, DocumentRecord, blob_path, write_blob

__all__ = [
    "ArchiveStatus",
    "check_archive",
    "extend_archive",
    "extend_pdf",
    "status_to_dict",
]

log = logging.getLogger(__name__)

_SIGNED = ".signed.pdf"


@dataclass(frozen=True)
class ArchiveStatus:
    """One signed file's long-term state."""

    document_id: str
    level: str
    """Lowest PAdES level among the file's signatures."""
    ok: bool
    """Every signature validates offline from embedded evidence."""
    lta_indication: str
    """AdES LTA result of the first signature ('' when it has no archive stamp)."""
    expires_at: str
    """When the newest timestamp's certificate chain (or the signer's) expires."""
    needs_extension: bool
    reason: str
    """Why it needs extending, or why it is not ok; empty when all is well."""
    error: str = ""


@dataclass(frozen=True)
class _Job:
    document_id: str
    path: str
    settings: Settings


def check_archive(
    settings: Settings,
    catalog: Catalog,
    *,
    processes: int = 1,
    advance: Callable[[int], None] = lambda n=1: None,
) -> list[ArchiveStatus]:
    """Re-validate every current signed file offline; one status per document."""
    jobs = list(_jobs(settings, catalog))
    return sorted(
        _run(_check_job, jobs, processes, advance), key=lambda s: s.document_id
    )


def extend_archive(
    settings: Settings,
    catalog: Catalog,
    *,
    processes: int = 1,
    advance: Callable[[int], None] = lambda n=1: None,
    only: set[str] | None = None,
) -> list[dict[str, Any]]:
    """Add an archive timestamp to each file that needs one; store the new versions.

    Returns one dict per file handled: document_id, ok, version or error.

    Raises:
        ConfigError: no timestamp authority is configured.
    """
    if not settings.sign_tsa_url.strip():
        raise ConfigError(
            "extending needs a timestamp authority; set sign_tsa_url",
            code="config.sign_tsa",
        )
    statuses = check_archive(settings, catalog, processes=processes)
    wanted = {
        s.document_id
        for s in statuses
        if s.needs_extension and (only is None or s.document_id in only)
    }
    jobs = [job for job in _jobs(settings, catalog) if job.document_id in wanted]
    results = []
    for outcome in _run(_extend_job, jobs, processes, advance):
        if outcome["ok"]:
            outcome["version"] = _record_extension(catalog, settings, outcome)
        results.append(outcome)
    return sorted(results, key=lambda r: r["document_id"])


def _jobs(settings: Settings, catalog: Catalog) -> Iterator[_Job]:
    rows = catalog.db.execute(
        "SELECT id, signed_sha256 FROM documents WHERE signed_sha256 IS NOT NULL"
        " ORDER BY id"
    ).fetchall()
    for row in rows:
        path = blob_path(settings.repository, row["signed_sha256"], _SIGNED)
        yield _Job(row["id"], str(path), settings)


def _run(
    work: Callable[[_Job], Any],
    jobs: list[_Job],
    processes: int,
    advance: Callable[[int], None],
) -> list[Any]:
    if processes <= 1 or len(jobs) <= 1:
        results = []
        for job in jobs:
            results.append(work(job))
            advance(1)
        return results
    # spawn: a clean interpreter per worker, whatever threads the parent runs.
    context = get_context("spawn")
    with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
        futures = [pool.submit(work, job) for job in jobs]
        results = []
        for future in as_completed(futures):
            results.append(future.result())
            advance(1)
    return results


def _check_job(job: _Job) -> ArchiveStatus:
    """Worker: the long-term status of one signed file (offline)."""
    try:
        data = Path(job.path).read_bytes()
        roots = load_trust_roots(trust_root_paths(job.settings))
        return _status(job, data, roots)
    except (OSError, DigitizeError) as err:
        code = getattr(err, "code", "store.missing")
        return ArchiveStatus(
            job.document_id, "", False, "", "", True, "cannot be checked", code
        )


def _status(
    job: _Job, data: bytes, roots: tuple[asn1_x509.Certificate, ...]
) -> ArchiveStatus:
    reader = open_pdf(data)
    reports = verify_reader(reader, roots)
    if not reports:
        return ArchiveStatus(job.document_id, "", False, "", "", False, "no signature")
    order = ("non-PAdES", "B-B", "B-T", "B-LT", "B-LTA")
    level = min((r.level for r in reports), key=order.index)
    ok = all(r.ok for r in reports)
    expires = _chain_expiry(reader)
    horizon = dt.datetime.now(dt.UTC) + dt.timedelta(
        days=job.settings.sign_extend_within_days
    )
    reasons = []
    if level in ("B-T", "B-LT") and not reader.embedded_timestamp_signatures:
        reasons.append(f"{level}: no archive timestamp yet")
    if expires is not None and expires <= horizon:
        reasons.append(f"timestamp chain expires {expires:%Y-%m-%d}")
    extendable = level not in ("B-B", "non-PAdES")
    if not extendable:
        # LIMITATION: a signature without a signature timestamp (B-B) is not
        # extended -> it is listed with this reason; reprocess it with a TSA set.
        reasons.append(f"{level}: no signature timestamp, cannot be made long-term")
    if not ok:
        reasons.append("does not validate offline")
    return ArchiveStatus(
        document_id=job.document_id,
        level=level,
        ok=ok,
        lta_indication=reports[0].lta_indication,
        expires_at=expires.isoformat() if expires else "",
        needs_extension=bool(reasons) and ok and extendable,
        reason="; ".join(reasons),
    )


def _chain_expiry(reader: PdfFileReader) -> dt.datetime | None:
    """Earliest expiry in the newest timestamp's chain (else the signer's chain)."""
    stamps = reader.embedded_timestamp_signatures
    if stamps:
        return _earliest_expiry(stamps[-1].signed_data)
    sigs = reader.embedded_regular_signatures
    if not sigs:
        return None
    timestamp = _signature_timestamp(sigs[-1].signer_info)
    return _earliest_expiry(
        timestamp if timestamp is not None else sigs[-1].signed_data
    )


def _signature_timestamp(signer_info: Any) -> Any:
    for attr in signer_info["unsigned_attrs"] or []:
        if attr["type"].native == "signature_time_stamp_token":
            return attr["values"][0]["content"]
    return None


def _earliest_expiry(signed_data: Any) -> dt.datetime | None:
    certs = [
        c.chosen
        for c in signed_data["certificates"] or []
        if isinstance(c.chosen, asn1_x509.Certificate)
    ]
    ends = [c["tbs_certificate"]["validity"]["not_after"].native for c in certs]
    return min(ends) if ends else None


def _extend_job(job: _Job) -> dict[str, Any]:
    """Worker: extend one file; returns the new bytes' blob hash or an error."""
    try:
        data = Path(job.path).read_bytes()
        extended = extend_pdf(data, job.settings)
        sha = write_blob(job.settings.repository, extended, _SIGNED)
        return {"document_id": job.document_id, "ok": True, "signed_sha256": sha}
    except (OSError, DigitizeError) as err:
        return {
            "document_id": job.document_id,
            "ok": False,
            "error": getattr(err, "code", "store.failed"),
            "message": str(err),
        }


def extend_pdf(data: bytes, settings: Settings) -> bytes:
    """`data` plus fresh validation data and an archive (document) timestamp.

    Raises:
        SigningError: the result does not validate at B-LTA offline, or pyHanko failed.
        SigningUnavailableError: the TSA or a revocation server is unreachable.
    """
    profile = resolve_profile(replace(settings, sign_level="B-LTA"))
    roots = load_trust_roots(trust_root_paths(settings))
    reader = open_pdf(data)

    async def extend() -> bytes:
        context = profile.validation_context(roots)
        timestamper = profile.timestamper()
        if context is None or timestamper is None:  # B-LTA has both
            raise SigningError("no B-LTA profile", code="sign.failed")
        stamper = PdfTimeStamper(timestamper)
        try:
            if reader.embedded_timestamp_signatures:
                out = await stamper.async_update_archival_timestamp_chain(
                    reader, context, in_place=False, output=BytesIO()
                )
                return bytes(out.getbuffer())
            current = data
            for index in range(len(reader.embedded_regular_signatures)):
                sig = open_pdf(current).embedded_regular_signatures[index]
                out = await async_add_validation_info(
                    sig, context, in_place=False, output=BytesIO()
                )
                current = bytes(out.getbuffer())
            writer = IncrementalPdfFileWriter(BytesIO(current))
            out = await stamper.async_timestamp_pdf(
                writer, "sha256", validation_context=context, output=BytesIO()
            )
            return bytes(out.getbuffer())
        finally:
            await context.aclose()

    try:
        extended = run_coroutine(extend)
    except DigitizeError:
        raise
    except PYHANKO_ERRORS as err:
        raise signing_error_from(err) from err
    _check_extension(data, extended, roots)
    return extended


def _check_extension(
    data: bytes, extended: bytes, roots: tuple[asn1_x509.Certificate, ...]
) -> None:
    if not extended.startswith(data):
        raise SigningError(
            "the extended file does not begin with the signed one; refusing it",
            code="sign.not_incremental",
        )
    reports = verify_reader(open_pdf(extended), roots)
    if not reports or not all(
        r.ok and r.lta_indication == "PASSED/OK" for r in reports
    ):
        raise SigningError(
            "after adding the archive timestamp the file does not validate at "
            "B-LTA offline; the previous version stays current",
            code="sign.invalid",
        )


def _record_extension(
    catalog: Catalog, settings: Settings, outcome: dict[str, Any]
) -> int:
    doc = catalog.db.execute(
        "SELECT * FROM documents WHERE id = ?", (outcome["document_id"],)
    ).fetchone()
    record = DocumentRecord(
        sha256=doc["sha256"],
        original_name=doc["original_name"],
        format=doc["format"],
        size_bytes=doc["size_bytes"],
        pages=[],
        unsigned_sha256=doc["unsigned_sha256"],
        signed_sha256=outcome["signed_sha256"],
        sign_level="B-LTA",
        signer=doc["signer"],
        signed_at=doc["signed_at"],
        validated=True,
    )
    version = catalog.add_signed_version(record, kind="extended")
    log.info("extended %s to version %d", record.id, version)
    return version


def status_to_dict(status: ArchiveStatus) -> dict[str, Any]:
    """JSON-ready values."""
    return asdict(status)
