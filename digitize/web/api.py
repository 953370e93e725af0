"""The JSON API under /api: login, lookups, papers, search, files, verify, upload.

Every success is `{"ok": true, ...}`; every failure `{"ok": false, "error": {...}}`.
Clients send `Authorization: Bearer <token>` from POST /api/login.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel

from digitize.errors import DigitizeError, PermissionDeniedError, QueryError
from digitize.query import SearchFilters
from digitize.web import service
from digitize.web.guard import Actor, client_ip, require, web_state

__all__ = ["router"]

router = APIRouter(prefix="/api")

Lookup = Annotated[Actor, Depends(require("lookup"))]
Viewer = Annotated[Actor, Depends(require("view"))]
Downloader = Annotated[Actor, Depends(require("download"))]
Verifier = Annotated[Actor, Depends(require("verify"))]
Prefiller = Annotated[Actor, Depends(require("prefill"))]
Uploader = Annotated[Actor, Depends(require("upload"))]
Self = Annotated[Actor, Depends(require("self"))]
Auditor = Annotated[Actor, Depends(require("audit"))]
Admin = Annotated[Actor, Depends(require("users"))]
DocId = Annotated[str, "16 hexadecimal digits"]


class LoginRequest(BaseModel):
    """Credentials for a bearer token."""

    username: str
    password: str


class NewUser(BaseModel):
    """An account to create."""

    username: str
    password: str
    role: str
    units: list[str] = []


def _ok(**data: Any) -> dict[str, Any]:
    return {"ok": True, **data}


@router.post("/login")
def login(body: LoginRequest, request: Request) -> dict[str, Any]:
    """Trade a user name and password for a bearer token."""
    state, now = web_state(request), time.time()
    try:
        user = state.access.authenticate(body.username, body.password, now=now)
    except DigitizeError as err:
        state.audit.record(
            username=body.username[:32],
            role="",
            action="login.api",
            ip=client_ip(request),
            outcome=err.code,
        )
        raise
    lifetime = state.settings.web_token_days * 86400.0
    token, session = state.access.open_session(
        user, "token", now=now, lifetime_s=lifetime, idle_s=lifetime
    )
    state.audit.record(
        username=user.username,
        role=user.role,
        action="login.api",
        ip=client_ip(request),
    )
    return _ok(token=token, role=user.role, expires_s=session.expires_s)


@router.post("/logout")
def logout(actor: Self, request: Request) -> dict[str, Any]:
    """Revoke the token (or end the session) used for this request."""
    state = web_state(request)
    state.access.end_session(actor.session.token_sha)
    actor.record(state, "logout")
    return _ok()


@router.get("/me")
def me(actor: Self) -> dict[str, Any]:
    """The current account."""
    user = actor.user
    return _ok(username=user.username, role=user.role, units=list(user.units))


@router.get("/persons")
def find_persons(
    actor: Lookup,
    request: Request,
    id_number: str = "",
    name: str = "",
    dob: str = "",
) -> dict[str, Any]:
    """Look a person up by ID number, or by name with an optional date of birth."""
    state = web_state(request)
    if id_number:
        return _ok(person=service.lookup_id(state, actor, id_number))
    if name:
        return _ok(people=service.lookup_name(state, actor, name, dob))
    raise QueryError("give id_number or name", code="query.empty")


@router.get("/persons/{person_id}")
def person(person_id: int, actor: Viewer, request: Request) -> dict[str, Any]:
    """A person with their papers (type, date, pages, signature, still valid)."""
    return _ok(person=service.view_person(web_state(request), actor, person_id))


@router.get("/forms")
def forms(actor: Prefiller, request: Request) -> dict[str, Any]:
    """The forms that can be prefilled."""
    state = web_state(request)
    return _ok(forms=[{"id": f.id, "title": f.title} for f in state.forms.values()])


@router.get("/persons/{person_id}/prefill/{form_id}")
def prefill(
    person_id: int, form_id: str, actor: Prefiller, request: Request, unit: str = ""
) -> dict[str, Any]:
    """A form's fields filled from the person's papers, each with source and date."""
    result = service.prefill(web_state(request), actor, person_id, form_id, unit)
    return _ok(prefill=result)


@router.get("/search")
def search(
    actor: Lookup,
    request: Request,
    q: str,
    unit: str = "",
    dossier: str = "",
    paper_type: str = "",
    date_from: str = "",
    date_to: str = "",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    """Full text, with or without diacritics; snippets split into highlighted parts."""
    filters = SearchFilters(unit, dossier, paper_type, date_from, date_to)
    hits = service.search(web_state(request), actor, q, filters, limit)
    for hit in hits:
        hit["parts"] = [{"text": t, "match": m} for t, m in hit["parts"]]
    return _ok(hits=hits)


@router.get("/dossiers/{unit}/{dossier}")
def dossier(unit: str, dossier: str, actor: Viewer, request: Request) -> dict:
    """The documents of one dossier."""
    docs = service.view_dossier(web_state(request), actor, unit, dossier)
    return _ok(unit=unit, dossier=dossier, documents=docs)


@router.get("/documents/{document_id}")
def document(document_id: DocId, actor: Viewer, request: Request) -> dict[str, Any]:
    """A document's record: paper types, pages, signature, the people it names."""
    doc = service.view_document(web_state(request), actor, document_id)
    return _ok(document=doc)


def _file(path_name_type: tuple[Any, str, str]) -> FileResponse:
    path, name, media = path_name_type
    return FileResponse(path, media_type=media, filename=name)


@router.get("/documents/{document_id}/original")
def original(document_id: DocId, actor: Downloader, request: Request) -> FileResponse:
    """The scan as it was handed in, byte for byte."""
    state = web_state(request)
    return _file(service.document_file(state, actor, document_id, "original"))


@router.get("/documents/{document_id}/signed")
def signed(
    document_id: DocId, actor: Downloader, request: Request, inline: bool = False
) -> FileResponse:
    """The signed searchable PDF (the legally valid electronic copy)."""
    state = web_state(request)
    response = _file(service.document_file(state, actor, document_id, "signed"))
    if inline:
        disposition = response.headers["content-disposition"]
        response.headers["content-disposition"] = disposition.replace(
            "attachment", "inline", 1
        )
    return response


@router.get("/documents/{document_id}/pages/{page}/image")
def page_image(
    document_id: DocId,
    page: int,
    actor: Viewer,
    request: Request,
    width: int = 240,
) -> FileResponse:
    """A JPEG of one page: width 240 (thumbnail) or 1200 (preview)."""
    path = service.document_page_image(
        web_state(request), actor, document_id, page, width
    )
    response = FileResponse(path, media_type="image/jpeg")
    response.headers["cache-control"] = "private, max-age=3600"
    return response


@router.post("/documents/{document_id}/verify")
def verify_document(
    document_id: DocId, actor: Verifier, request: Request
) -> dict[str, Any]:
    """Validate the stored signed PDF now."""
    reports = service.verify_stored(web_state(request), actor, document_id)
    return _ok(
        signatures=reports, valid=bool(reports) and all(r["ok"] for r in reports)
    )


@router.post("/verify")
def verify_upload(
    actor: Verifier, request: Request, file: Annotated[UploadFile, File()]
) -> dict[str, Any]:
    """Validate the signatures of an uploaded PDF (it is not stored)."""
    data = file.file.read()
    reports = service.verify_upload(web_state(request), actor, data)
    return _ok(
        signatures=reports, valid=bool(reports) and all(r["ok"] for r in reports)
    )


@router.post("/uploads", status_code=202)
def upload(
    actor: Uploader,
    request: Request,
    file: Annotated[UploadFile, File()],
    unit: Annotated[str, Form()],
    dossier: Annotated[str, Form()],
) -> dict[str, Any]:
    """Queue a scan for the pipeline; poll GET /api/jobs/{id} for the outcome."""
    job = service.accept_upload(
        web_state(request),
        actor,
        file.file,
        name=file.filename or "",
        unit=unit,
        dossier=dossier,
    )
    return _ok(job=job, poll=f"/api/jobs/{job['id']}")


@router.get("/jobs/{job_id}")
def job(job_id: str, actor: Self, request: Request) -> dict[str, Any]:
    """An upload job: queued, running, stored, duplicate or failed."""
    found = web_state(request).jobs.get(job_id)
    if found["username"] != actor.user.username and actor.user.role != "admin":
        raise PermissionDeniedError("this upload belongs to another user")
    return _ok(job=found)


@router.get("/audit")
def audit_entries(
    actor: Auditor,
    request: Request,
    before: int = 0,
    action: str = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Audit entries, newest first."""
    state = web_state(request)
    actor.record(state, "audit.view")
    entries = state.audit.entries(before=before or None, limit=limit, action=action)
    return _ok(entries=entries)


@router.get("/audit/export")
def audit_export(actor: Auditor, request: Request) -> StreamingResponse:
    """The whole audit log as JSON lines, with each entry's hash."""
    state = web_state(request)
    actor.record(state, "audit.export")
    headers = {"content-disposition": 'attachment; filename="audit.jsonl"'}
    return StreamingResponse(
        state.audit.export_lines(), media_type="application/x-ndjson", headers=headers
    )


@router.get("/audit/verify")
def audit_verify(actor: Auditor, request: Request) -> dict[str, Any]:
    """Check the audit chain now."""
    state = web_state(request)
    report = state.audit.verify()
    actor.record(state, "audit.verify", outcome="ok" if report.ok else "audit.broken")
    return _ok(valid=report.ok, entries=report.entries, problems=report.problems)


@router.get("/users")
def users(actor: Admin, request: Request) -> dict[str, Any]:
    """Every account (no password hashes)."""
    return _ok(users=web_state(request).access.list_users())


@router.post("/users", status_code=201)
def add_user(body: NewUser, actor: Admin, request: Request) -> JSONResponse:
    """Create an account."""
    state = web_state(request)
    user = state.access.add_user(
        body.username, body.password, body.role, tuple(body.units)
    )
    actor.record(state, "users.add", f"{user.username} ({user.role})")
    content = _ok(user={"username": user.username, "role": user.role})
    return JSONResponse(content, status_code=201)
