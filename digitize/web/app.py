"""Build the ASGI app (FastAPI): routers, static files, errors, limits; serve it.

`create_app` opens the stores under the settings' home, starts the upload worker with
the app's lifespan and refuses to build if any route lacks a permission.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from digitize.config import Settings
from digitize.errors import InputError
from digitize.web import api, page
from digitize.web.errors import install_error_handlers
from digitize.web.guard import check_guarded
from digitize.web.jobs import ProcessFn
from digitize.web.state import STATIC, open_state

__all__ = ["ROUTERS", "create_app", "serve"]

log = logging.getLogger(__name__)

ROUTERS = [api.router, page.router]

_SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; "
        b"script-src 'self'; object-src 'none'; base-uri 'none'; "
        b"form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


class _Guards:
    """ASGI middleware: refuse bodies over the upload limit; add security headers."""

    def __init__(self, app: ASGIApp, limit_bytes: int) -> None:
        self.app = app
        self.limit_bytes = limit_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        length = headers.get(b"content-length", b"0")
        if length.isdigit() and int(length) > self.limit_bytes:
            await self._too_large(send)
            return
        static = scope["path"].startswith("/static/")
        await self.app(scope, self._counted(receive), self._with_headers(send, static))

    def _counted(self, receive: Receive) -> Receive:
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit_bytes:
                raise _too_large_error(self.limit_bytes)
            return message

        return counted

    def _with_headers(self, send: Send, static: bool) -> Send:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += _SECURITY_HEADERS
                names = {name for name, _ in headers}
                if not static and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        return with_headers

    async def _too_large(self, send: Send) -> None:
        err = _too_large_error(self.limit_bytes)
        body = json.dumps(
            {"ok": False, "error": {"code": err.code, "message": err.message}}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    *_SECURITY_HEADERS,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _too_large_error(limit_bytes: int) -> InputError:
    return InputError(
        f"the upload is larger than the limit of {limit_bytes >> 20} MB "
        "(setting web.max_upload_mb)",
        code="input.too_large",
    )


def create_app(
    settings: Settings,
    *,
    process: ProcessFn | None = None,
    forms_dir: Path | None = None,
) -> FastAPI:
    """The counter service over the repository under `settings.home`.

    Args:
        settings: where the catalog, repository and service state live.
        process: the pipeline for uploads (tests pass a stand-in).
        forms_dir: form definitions; default config/forms.
    """
    state = open_state(settings, process=process, forms_dir=forms_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.jobs.start()
        try:
            yield
        finally:
            state.close()

    app = FastAPI(
        title="digitize counter service",
        version="1",
        description="Find, reuse, verify and prefill digitized papers.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.web = state
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    install_error_handlers(app)
    # The multipart envelope adds a little to the file; allow 1 MiB for it.
    app.add_middleware(_Guards, limit_bytes=(settings.web_max_upload_mb + 1) << 20)
    check_guarded(ROUTERS)
    return app


def serve(settings: Settings, host: str, port: int, **uvicorn_args: Any) -> None:
    """Run the service with uvicorn until interrupted."""
    import uvicorn

    app = create_app(settings)
    log.info("counter service on http://%s:%d", host, port)
    # uvicorn's access log prints query strings, which may hold ID numbers: off.
    uvicorn.run(
        app, host=host, port=port, access_log=False, log_config=None, **uvicorn_args
    )
