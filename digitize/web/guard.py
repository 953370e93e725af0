"""Who is asking: a session cookie (the page) or a bearer token (the API); role checks.

Every route declares the permission it needs with `require(...)`; `check_guarded`
refuses to build an app with a route that has none and is not in `PUBLIC_PATHS`, so a
new endpoint is denied by default.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute

from digitize.auth import Session, User
from digitize.errors import AuthError, PermissionDeniedError

if TYPE_CHECKING:
    from digitize.web.state import WebState

__all__ = [
    "CSRF_FIELD",
    "LOGIN_CSRF_COOKIE",
    "PUBLIC_PATHS",
    "SESSION_COOKIE",
    "Actor",
    "check_guarded",
    "client_ip",
    "require",
    "web_state",
]

SESSION_COOKIE = "dz_session"
LOGIN_CSRF_COOKIE = "dz_login_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
PUBLIC_PATHS = frozenset({"/login", "/api/login", "/openapi.json", "/healthz"})
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass(frozen=True)
class Actor:
    """The user behind a request, how they authenticated and from where."""

    user: User
    session: Session
    ip: str
    via: str
    """`cookie` (the page) or `bearer` (the API)."""

    def record(
        self, state: WebState, action: str, target: str = "", outcome: str = "ok"
    ) -> None:
        """Append an audit entry for this user (target already masked)."""
        state.audit.record(
            username=self.user.username,
            role=self.user.role,
            action=action,
            target=target,
            ip=self.ip,
            outcome=outcome,
        )


def web_state(request: Request) -> WebState:
    """The service state attached to the app."""
    return request.app.state.web  # type: ignore[no-any-return]


def client_ip(request: Request) -> str:
    """The peer address of the connection."""
    # LIMITATION: X-Forwarded-For is not trusted -> behind a reverse proxy the audit
    # records the proxy's address.
    return request.client.host if request.client else ""


async def _check_csrf(request: Request, expected: str) -> None:
    sent = request.headers.get(CSRF_HEADER, "")
    content_type = request.headers.get("content-type", "")
    if not sent and content_type.startswith(_FORM_TYPES):
        form = await request.form()
        sent = str(form.get(CSRF_FIELD, ""))
    if not sent or not hmac.compare_digest(sent, expected):
        raise PermissionDeniedError(
            "the anti-forgery token is missing or wrong; reload the page and try again",
            code="auth.csrf",
        )


async def identify(request: Request) -> Actor:
    """The actor of this request.

    Raises:
        AuthError: no credentials, an unknown or expired one, a malformed header.
        PermissionDeniedError: a cookie request that changes state without the CSRF
            token.
    """
    state, now = web_state(request), time.time()
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError(
                "send the API token as 'Authorization: Bearer <token>'",
                code="auth.bad_header",
            )
        session = state.access.resolve(token.strip(), "token", now=now)
        return Actor(session.user, session, client_ip(request), "bearer")
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise AuthError("log in first", code="auth.required")
    session = state.access.resolve(cookie, "session", now=now)
    if request.method in _UNSAFE:
        await _check_csrf(request, session.csrf)
    return Actor(session.user, session, client_ip(request), "cookie")


def require(permission: str) -> Callable[[Request], Awaitable[Actor]]:
    """A dependency that lets through only users whose role grants `permission`."""

    async def guard(request: Request) -> Actor:
        actor = await identify(request)
        if not actor.user.can(permission):
            actor.record(web_state(request), "denied", permission, "auth.forbidden")
            raise PermissionDeniedError(
                f"the role '{actor.user.role}' may not do this ({permission})",
                code="auth.forbidden",
            )
        request.state.actor = actor
        return actor

    guard.permission = permission  # type: ignore[attr-defined]
    return guard


def _permission_of(route: APIRoute) -> str | None:
    for dep in route.dependant.dependencies:
        found = getattr(dep.call, "permission", None)
        if found:
            return str(found)
    return None


def check_guarded(routers: list[APIRouter]) -> None:
    """Refuse routers in which a non-public route declares no permission.

    Raises:
        RuntimeError: a route without a guard (a programming error).
    """
    for router in routers:
        for route in router.routes:
            if not isinstance(route, APIRoute) or route.path in PUBLIC_PATHS:
                continue
            if _permission_of(route) is None:
                raise RuntimeError(f"route {route.path} declares no permission")
