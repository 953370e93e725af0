"""Open the catalog, blob store and job store that the configured mode names.

embedded: SQLite catalog file and the repository folder under home. scaled: the
PostgreSQL catalog at scale_database_url and a shared folder or S3 bucket. Either
catalog is upgraded to the newest schema version when opened.
"""

from __future__ import annotations

import os
import socket
import sqlite3
from dataclasses import dataclass
from typing import Any

from digitize.config import Settings
from digitize.errors import ConfigError
from digitize.scale import schema
from digitize.scale.blobs import BlobStore, open_blob_store
from digitize.scale.jobs import JobStore
from digitize.store import Catalog

__all__ = ["Backends", "is_scaled", "open_backends", "open_catalog", "worker_name"]

MODES = ("embedded", "scaled")


@dataclass
class Backends:
    """What a step needs besides its job id: settings, catalog, blobs, jobs."""

    settings: Settings
    catalog: Catalog
    blobs: BlobStore
    jobs: JobStore

    def close(self) -> None:
        """Close the catalog connection."""
        self.catalog.close()


def is_scaled(settings: Settings) -> bool:
    """True in scaled mode.

    Raises:
        ConfigError: scale_mode is neither embedded nor scaled, or scaled mode lacks
            its database URL.
    """
    if settings.scale_mode not in MODES:
        raise ConfigError(
            f"scale_mode is {settings.scale_mode!r}; use embedded or scaled"
        )
    if settings.scale_mode == "scaled" and not settings.scale_database_url:
        raise ConfigError(
            "scale_mode is scaled but scale_database_url is empty; set it to the "
            "PostgreSQL catalog, e.g. postgresql://digitize@db:5432/digitize"
        )
    return settings.scale_mode == "scaled"


def upgrade_sqlite(catalog: Catalog) -> list[int]:
    """Bring an embedded catalog to the newest schema version in place."""
    row = catalog.db.execute(
        "SELECT value FROM meta WHERE key = 'schema_version'"
    ).fetchone()
    current = int(row[0]) if row else 0
    if current >= schema.LATEST_VERSION:
        return []
    with catalog.transaction() as db:
        return schema.upgrade(db.execute, current, "sqlite")


def open_catalog(settings: Settings) -> Catalog:
    """The catalog of the configured mode, at the newest schema version."""
    if is_scaled(settings):
        from digitize.scale.pgcatalog import PgCatalog

        return PgCatalog(settings.scale_database_url)
    catalog = Catalog(settings.catalog)
    upgrade_sqlite(catalog)
    return catalog


def _connector(settings: Settings) -> Any:
    if is_scaled(settings):
        from digitize.scale.pgcatalog import PgConnection

        return lambda: PgConnection(settings.scale_database_url)
    return lambda: sqlite3.connect(settings.catalog, timeout=30)


def open_backends(settings: Settings) -> Backends:
    """Catalog, blob store and job store for the configured mode."""
    catalog = open_catalog(settings)
    blobs = open_blob_store(settings)
    return Backends(settings, catalog, blobs, JobStore(catalog, _connector(settings)))


def worker_name() -> str:
    """host:pid of this process, recorded on the job a step runs for."""
    return f"{socket.gethostname()}:{os.getpid()}"
