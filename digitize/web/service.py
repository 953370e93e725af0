"""What the counter can do, for the API and the page alike.

Each operation checks the user's units, does the work through `query`, `sign` and the
job queue, and appends one audit entry (with masked ID numbers and initials only),
whether it succeeded or not.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

from digitize.errors import (
    DigitizeError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    StorageError,
)
from digitize.logs import mask_id, mask_name
from digitize.pages import sniff_format
from digitize.prefill import best_fields, form_or_error, prefill_form
from digitize.query import (
    SearchFilters,
    dossier_documents,
    find_by_id,
    find_people,
    get_document,
    get_person,
    person_papers,
    search_pages,
)
from digitize.sign import report_to_dict, verify_pdf
from digitize.store import blob_path
from digitize.web.guard import Actor
from digitize.web.images import page_image
from digitize.web.state import WebState

__all__ = [
    "accept_upload",
    "document_file",
    "document_page_image",
    "lookup_id",
    "lookup_name",
    "prefill",
    "search",
    "verify_stored",
    "verify_upload",
    "view_document",
    "view_dossier",
    "view_person",
]

_FOLDER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_BAD_NAME_CHARS = re.compile(r"[/\\\x00-\x1f\x7f:*?\"<>|]")
_MAX_NAME = 200
_CHUNK = 1 << 20


@contextmanager
def _audited(state: WebState, actor: Actor, action: str, target: str) -> Iterator[None]:
    try:
        yield
    except DigitizeError as err:
        actor.record(state, action, target, err.code)
        raise
    actor.record(state, action, target)


def _today() -> str:
    return date.today().isoformat()


def _check_unit(actor: Actor, unit: str) -> None:
    if not actor.user.may_see_unit(unit):
        raise PermissionDeniedError(
            "this paper belongs to a unit your account may not see",
            code="auth.unit_forbidden",
        )


def _person_payload(state: WebState, actor: Actor, person: dict[str, Any]) -> dict:
    papers = person_papers(state.catalog(), person["id"], today=_today())
    visible = [p for p in papers if actor.user.may_see_unit(p["unit"])]
    ids = {p["id"] for p in visible}
    seen = {
        "documents": [d for d in person["documents"] if d["id"] in ids],
        "fields": [f for f in person["fields"] if f["document_id"] in ids],
    }
    best = best_fields(seen)
    dossiers: dict[tuple[str, str], list[str]] = {}
    for paper in visible:
        dossiers.setdefault((paper["unit"], paper["dossier"]), []).append(paper["id"])
    return {
        "id": person["id"],
        "id_number": person["id_number"],
        "full_name": best.get("full_name", {}).get("value") or person["full_name"],
        "date_of_birth": person["date_of_birth"],
        "sex": person["sex"],
        "papers": visible,
        "hidden_papers": len(papers) - len(visible),
        "dossiers": [
            {"unit": u, "dossier": d, "documents": docs}
            for (u, d), docs in dossiers.items()
        ],
        "fields": {
            name: {
                k: item[k]
                for k in ("value", "source", "verified", "document_id", "paper_type")
            }
            for name, item in best.items()
        },
    }


def _visible_person(state: WebState, actor: Actor, person: dict[str, Any]) -> dict:
    payload = _person_payload(state, actor, person)
    if not payload["papers"] and payload["hidden_papers"]:
        raise NotFoundError("no person with that ID number is on file for your units")
    return payload


def lookup_id(state: WebState, actor: Actor, id_number: str) -> dict[str, Any]:
    """The person with this ID number and their papers (bad or unknown: errors)."""
    number = id_number.strip().replace(" ", "")
    with _audited(state, actor, "lookup.id", mask_id(number)):
        return _visible_person(state, actor, find_by_id(state.catalog(), number))


def lookup_name(
    state: WebState, actor: Actor, name: str, dob: str = ""
) -> list[dict[str, Any]]:
    """Short rows of people by name (accent-insensitive, exact first), optional DOB."""
    target = mask_name(name) + (" +dob" if dob else "")
    with _audited(state, actor, "lookup.name", target):
        people = find_people(state.catalog(), name, dob or None)
        if actor.user.units:
            people = [p for p in people if _sees_any(state, actor, p["id"])]
        return people


def _sees_any(state: WebState, actor: Actor, person_id: int) -> bool:
    papers = person_papers(state.catalog(), person_id, today=_today())
    return any(actor.user.may_see_unit(p["unit"]) for p in papers)


def view_person(state: WebState, actor: Actor, person_id: int) -> dict[str, Any]:
    """One person by catalog id, with their papers and dossiers."""
    with _audited(state, actor, "view.person", f"person:{person_id}"):
        return _visible_person(state, actor, get_person(state.catalog(), person_id))


def search(
    state: WebState, actor: Actor, text: str, filters: SearchFilters, limit: int = 20
) -> list[dict[str, Any]]:
    """Full-text hits with highlighted snippets, limited to the user's units."""
    scoped = replace(filters, units=actor.user.units)
    with _audited(state, actor, "search.text", _mask_text(text)):
        return search_pages(state.catalog(), text, scoped, limit)


def _mask_text(text: str) -> str:
    from digitize.audit import mask_query

    return mask_query(text)


def view_document(state: WebState, actor: Actor, document_id: str) -> dict[str, Any]:
    """A document's catalog row, paper types and the people it names."""
    with _audited(state, actor, "view.document", document_id[:16]):
        catalog = state.catalog()
        doc = get_document(catalog, document_id)
        _check_unit(actor, doc["unit"])
        doc["persons"] = [
            dict(row)
            for row in catalog.db.execute(
                "SELECT DISTINCT p.id, p.id_number, p.full_name FROM links l"
                " JOIN persons p ON p.id = l.person_id WHERE l.document_id = ?",
                (doc["id"],),
            )
        ]
        doc["signed"] = doc["signed_sha256"] is not None
        return doc


def _document(state: WebState, actor: Actor, document_id: str) -> dict[str, Any]:
    doc = get_document(state.catalog(), document_id)
    _check_unit(actor, doc["unit"])
    return doc


def _blob(state: WebState, sha: str | None, suffix: str) -> Path:
    if not sha:
        raise NotFoundError("this document has no signed copy yet")
    path = blob_path(state.settings.repository, sha, suffix)
    if not path.is_file():
        raise StorageError(
            f"the stored file {sha[:12]} is missing from the repository; "
            "restore it from backup",
            code="store.missing_blob",
        )
    return path


def document_file(
    state: WebState, actor: Actor, document_id: str, kind: str
) -> tuple[Path, str, str]:
    """The original scan or the signed PDF: its path, a download name, a media type."""
    with _audited(state, actor, f"download.{kind}", document_id[:16]):
        doc = _document(state, actor, document_id)
        stem = Path(doc["original_name"]).stem or doc["id"]
        if kind == "signed":
            path = _blob(state, doc["signed_sha256"], ".signed.pdf")
            return path, f"{stem}.signed.pdf", "application/pdf"
        path = _blob(state, doc["sha256"], "." + doc["format"])
        media = {"pdf": "application/pdf", "tiff": "image/tiff", "png": "image/png"}
        return path, doc["original_name"], media.get(doc["format"], "image/jpeg")


def document_page_image(
    state: WebState, actor: Actor, document_id: str, page: int, width: int
) -> Path:
    """A JPEG of one page `width` pixels wide (cached under home/thumbs)."""
    with _audited(state, actor, "view.page", f"{document_id[:16]} p{page}"):
        doc = _document(state, actor, document_id)
        if not 1 <= page <= doc["pages"]:
            raise NotFoundError(f"the document has {doc['pages']} pages, not {page}")
        sha = doc["signed_sha256"] or doc["unsigned_sha256"]
        suffix = ".signed.pdf" if doc["signed_sha256"] else ".unsigned.pdf"
        pdf = _blob(state, sha, suffix)
        return page_image(pdf, state.settings.home / "thumbs", page, width)


def verify_stored(
    state: WebState, actor: Actor, document_id: str
) -> list[dict[str, Any]]:
    """Validate the stored signed PDF of a document now."""
    with _audited(state, actor, "verify.stored", document_id[:16]):
        doc = _document(state, actor, document_id)
        data = _blob(state, doc["signed_sha256"], ".signed.pdf").read_bytes()
        return [report_to_dict(r) for r in verify_pdf(data, state.settings)]


def verify_upload(state: WebState, actor: Actor, data: bytes) -> list[dict[str, Any]]:
    """Validate a PDF handed in (not stored)."""
    target = "upload:" + hashlib.sha256(data).hexdigest()[:12]
    with _audited(state, actor, "verify.upload", target):
        return [report_to_dict(r) for r in verify_pdf(data, state.settings)]


def prefill(
    state: WebState, actor: Actor, person_id: int, form_id: str, unit: str = ""
) -> dict[str, Any]:
    """A form's fields filled from the person's papers, each with its source."""
    with _audited(state, actor, "prefill", f"person:{person_id} form:{form_id[:32]}"):
        form = form_or_error(state.forms, form_id)
        person = get_person(state.catalog(), person_id)
        payload = _visible_person(state, actor, person)
        ids = {p["id"] for p in payload["papers"]}
        person["documents"] = [d for d in person["documents"] if d["id"] in ids]
        person["fields"] = [f for f in person["fields"] if f["document_id"] in ids]
        if unit:
            _check_folder(unit, "unit")
        office_unit = unit or next((p["unit"] for p in payload["papers"]), "")
        result = prefill_form(
            form, person, offices=state.offices, unit=office_unit, today=date.today()
        )
        result["person_id"] = person_id
        return result


def _check_folder(value: str, what: str) -> str:
    if not _FOLDER_RE.match(value):
        raise InputError(
            f"the {what} must be a folder name of letters, digits, '.', '_' or '-' "
            "(at most 64, not starting with '.')",
            code="input.bad_name",
        )
    return value


def view_dossier(
    state: WebState, actor: Actor, unit: str, dossier: str
) -> list[dict[str, Any]]:
    """The documents of one dossier of one unit."""
    with _audited(state, actor, "view.dossier", f"{unit[:64]}/{dossier[:64]}"):
        _check_folder(unit, "unit")
        _check_folder(dossier, "dossier code")
        _check_unit(actor, unit)
        docs = dossier_documents(state.catalog(), unit, dossier)
        if not docs:
            raise NotFoundError(f"no documents in dossier {dossier} of {unit}")
        return docs


def safe_upload_name(name: str) -> str:
    """The file name as given, if it is a plain name (no folders, no tricks).

    Raises:
        InputError: empty, too long, hidden, or holding a path or control characters.
    """
    if (
        not name
        or len(name) > _MAX_NAME
        or name.startswith(".")
        or _BAD_NAME_CHARS.search(name)
    ):
        raise InputError(
            "the file name must be a plain name: no folders ('/', '\\', '..'), no "
            "control characters, not starting with '.', at most 200 characters",
            code="input.bad_name",
        )
    return name


def _save_upload(stream: BinaryIO, folder: Path, limit_bytes: int) -> tuple[Path, str]:
    """Copy the upload to a private file; check its size and its format."""
    folder.mkdir(parents=True, exist_ok=True)
    head = stream.read(2048)
    fmt = sniff_format(head)
    path = folder / f".incoming-{hashlib.sha256(head).hexdigest()[:8]}-{id(stream)}"
    size = len(head)
    with path.open("wb") as out:
        out.write(head)
        while chunk := stream.read(_CHUNK):
            size += len(chunk)
            if size > limit_bytes:
                out.close()
                path.unlink(missing_ok=True)
                raise InputError(
                    f"the file is larger than {limit_bytes >> 20} MB",
                    code="input.too_large",
                )
            out.write(chunk)
    return path, fmt


def accept_upload(
    state: WebState,
    actor: Actor,
    stream: BinaryIO,
    *,
    name: str,
    unit: str,
    dossier: str,
) -> dict[str, Any]:
    """Save an uploaded scan and queue it for the pipeline; return the job."""
    with _audited(state, actor, "upload", f"{unit[:64]}/{dossier[:64]}"):
        safe = safe_upload_name(name)
        _check_folder(unit, "unit")
        _check_folder(dossier, "dossier code")
        _check_unit(actor, unit)
        limit = state.settings.web_max_upload_mb << 20
        path, _ = _save_upload(stream, state.jobs.folder, limit)
        return state.jobs.submit(
            path, name=safe, username=actor.user.username, unit=unit, dossier=dossier
        )
