"""What the service holds while it runs: settings, stores, the job queue, forms."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fastapi.templating import Jinja2Templates

from digitize.audit import AuditLog
from digitize.auth import AccessStore
from digitize.config import Settings
from digitize.prefill import DEFAULT_FORMS, FormDef, Offices, load_forms, load_offices
from digitize.store import Catalog, ThreadCatalogs
from digitize.web.jobs import JobQueue, ProcessFn
from digitize.web.labels import install_filters

__all__ = ["WebState", "open_state"]

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


@dataclass
class WebState:
    """Shared by every request; the catalog connection is one per thread."""

    settings: Settings
    access: AccessStore
    audit: AuditLog
    jobs: JobQueue
    forms: dict[str, FormDef]
    offices: Offices
    templates: Jinja2Templates
    _catalogs: ThreadCatalogs = field(init=False)

    def __post_init__(self) -> None:
        """Connections are opened per thread on first use."""
        self._catalogs = ThreadCatalogs(self.settings.catalog)

    def catalog(self) -> Catalog:
        """This thread's catalog connection (SQLite connections are not shared)."""
        return self._catalogs.get()

    def close(self) -> None:
        """Stop the job worker and close every connection."""
        self.jobs.stop()
        self._catalogs.close()
        self.access.close()
        self.audit.close()


def open_state(
    settings: Settings,
    *,
    process: ProcessFn | None = None,
    forms_dir: Path | None = None,
) -> WebState:
    """Open the stores under the settings' home and load the form definitions."""
    folder = forms_dir or DEFAULT_FORMS
    templates = Jinja2Templates(directory=str(TEMPLATES))
    install_filters(templates.env)
    return WebState(
        settings=settings,
        access=AccessStore(settings.home / "access.sqlite3"),
        audit=AuditLog(settings.home / "audit.sqlite3"),
        jobs=JobQueue(settings, process=process),
        forms=load_forms(folder),
        offices=load_offices(folder),
        templates=templates,
    )
