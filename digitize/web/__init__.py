"""The counter service: an HTTP API and a Vietnamese web page over the catalog.

`create_app` builds the ASGI application; `serve` runs it with uvicorn.
"""

from __future__ import annotations

from digitize.web.app import create_app, serve

__all__ = ["create_app", "serve"]
