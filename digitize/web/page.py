"""The counter page, in Vietnamese: login, search, person, document, dossier and more.

Also prefill, upload, signature check and the admin's audit view.

Server-rendered HTML (works without JavaScript); `static/app.js` adds the upload
progress bar, job polling and in-place signature checks.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from digitize.errors import AuthError, DigitizeError, PermissionDeniedError
from digitize.query import SearchFilters
from digitize.web import service
from digitize.web.errors import message_vi
from digitize.web.guard import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Actor,
    client_ip,
    require,
    web_state,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

Self = Annotated[Actor, Depends(require("self"))]
Viewer = Annotated[Actor, Depends(require("view"))]
Prefiller = Annotated[Actor, Depends(require("prefill"))]
Verifier = Annotated[Actor, Depends(require("verify"))]
Uploader = Annotated[Actor, Depends(require("upload"))]
Auditor = Annotated[Actor, Depends(require("audit"))]

_ID_LIKE = re.compile(r"^[\d\s.]+$")
_LETTERS = re.compile(r"[^\W\d_]")


def _render(
    request: Request, name: str, actor: Actor | None, status: int = 200, **context: Any
) -> HTMLResponse:
    state = web_state(request)
    context.update(actor=actor, csrf=actor.session.csrf if actor else "")
    return state.templates.TemplateResponse(request, name, context, status_code=status)


def _safe_next(target: str) -> str:
    # Only paths on this site: no scheme, no '//' host, no backslash tricks.
    if target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


@router.get("/healthz")
def healthz() -> dict[str, bool]:
    """Liveness probe (no data)."""
    return {"ok": True}


@router.get("/login")
def login_form(request: Request, next: str = "/", reason: str = "") -> Response:
    """The login form; a fresh anti-forgery cookie for it."""
    token = secrets.token_urlsafe(24)
    notice = message_vi(reason) if reason in ("auth.expired", "auth.required") else ""
    response = _render(
        request,
        "login.html",
        None,
        next=_safe_next(next),
        notice=notice,
        login_csrf=token,
        error="",
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/login"
    )
    return response


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the password, start a session, go where the user was heading."""
    state, now = web_state(request), time.time()
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    try:
        if not expected or not secrets.compare_digest(expected, csrf_token):
            raise PermissionDeniedError("stale login form", code="auth.csrf")
        user = state.access.authenticate(username, password, now=now)
    except (AuthError, PermissionDeniedError) as err:
        state.audit.record(
            username=username[:32],
            role="",
            action="login",
            ip=client_ip(request),
            outcome=err.code,
        )
        status = 429 if err.code == "auth.throttled" else 401
        return _render(
            request,
            "login.html",
            None,
            status,
            next=_safe_next(next),
            notice="",
            login_csrf=expected,
            error=message_vi(err.code),
        )
    settings = state.settings
    token, _ = state.access.open_session(
        user,
        "session",
        now=now,
        lifetime_s=settings.web_session_max_h * 3600,
        idle_s=settings.web_session_idle_min * 60.0,
    )
    state.audit.record(
        username=user.username, role=user.role, action="login", ip=client_ip(request)
    )
    home = "/" if user.can("lookup") else "/upload"
    target = _safe_next(next) if next != "/" else home
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        path="/",
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(actor: Self, request: Request) -> Response:
    """End the session."""
    state = web_state(request)
    state.access.end_session(actor.session.token_sha)
    actor.record(state, "logout")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _filters(request: Request) -> SearchFilters:
    q = request.query_params
    return SearchFilters(
        q.get("unit", ""),
        q.get("dossier", ""),
        q.get("paper_type", ""),
        q.get("date_from", ""),
        q.get("date_to", ""),
    )


def _run_search(request: Request, actor: Actor, q: str, dob: str) -> dict[str, Any]:
    state = web_state(request)
    found: dict[str, Any] = {"person": None, "people": [], "hits": [], "kind": "text"}
    if _ID_LIKE.match(q):
        found["kind"] = "id"
        found["person"] = service.lookup_id(state, actor, re.sub(r"\D", "", q))
        return found
    if _LETTERS.search(q) and len(q.split()) <= 6:
        found["people"] = service.lookup_name(state, actor, q, dob)
    found["hits"] = service.search(state, actor, q, _filters(request))
    return found


@router.get("/")
def home(actor: Self, request: Request, q: str = "", dob: str = "") -> Response:
    """The search box; with `q`, the people and pages that match."""
    if not actor.user.can("lookup"):
        return RedirectResponse("/upload", status_code=303)
    q = q.strip()
    context: dict[str, Any] = {"q": q, "dob": dob, "filters": _filters(request)}
    status, error = 200, ""
    if q:
        try:
            context.update(_run_search(request, actor, q, dob.strip()))
        except DigitizeError as err:
            if err.code.startswith("auth."):
                raise
            status = 404 if err.code == "query.not_found" else 400
            error = message_vi(err.code)
    return _render(request, "search.html", actor, status, error=error, **context)


@router.get("/persons/{person_id}")
def person(person_id: int, actor: Viewer, request: Request) -> Response:
    """A person and their papers on file, each ready to reuse."""
    state = web_state(request)
    found = service.view_person(state, actor, person_id)
    forms = list(state.forms.values()) if actor.user.can("prefill") else []
    return _render(request, "person.html", actor, person=found, forms=forms)


@router.get("/persons/{person_id}/prefill/{form_id}")
def prefill(
    person_id: int, form_id: str, actor: Prefiller, request: Request
) -> Response:
    """A form filled from the person's papers, with each value's source."""
    result = service.prefill(web_state(request), actor, person_id, form_id)
    return _render(request, "prefill.html", actor, result=result)


@router.get("/documents/{document_id}")
def document(document_id: str, actor: Viewer, request: Request) -> Response:
    """One document: pages, signature, files, people."""
    doc = service.view_document(web_state(request), actor, document_id)
    return _render(request, "document.html", actor, doc=doc)


@router.get("/dossiers/{unit}/{dossier}")
def dossier(unit: str, dossier: str, actor: Viewer, request: Request) -> Response:
    """The documents of one dossier."""
    docs = service.view_dossier(web_state(request), actor, unit, dossier)
    return _render(
        request, "dossier.html", actor, unit=unit, dossier=dossier, docs=docs
    )


@router.get("/upload")
def upload(actor: Uploader, request: Request) -> Response:
    """The upload form, with the units this user may file into."""
    units = list(actor.user.units)
    return _render(request, "upload.html", actor, units=units)


@router.get("/verify")
def verify(actor: Verifier, request: Request) -> Response:
    """Check the signature of a PDF brought to the counter."""
    return _render(request, "verify.html", actor)


@router.get("/admin/audit")
def audit(actor: Auditor, request: Request, before: int = 0) -> Response:
    """The audit log, newest first, 100 at a time, with the chain's state."""
    state = web_state(request)
    actor.record(state, "audit.view")
    entries = state.audit.entries(before=before or None, limit=100)
    report = state.audit.verify()
    older = urlencode({"before": entries[-1]["seq"]}) if len(entries) == 100 else ""
    return _render(
        request, "audit.html", actor, entries=entries, report=report, older=older
    )
