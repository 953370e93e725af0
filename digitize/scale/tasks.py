"""Celery wiring: the steps as tasks on the `ocr`, `sign` and `index` queues.

Messages carry only the job's SHA-256. Tasks are acknowledged late and rejected back to
the queue when their worker process dies; a step that fails for a transient reason
(catalog, storage or broker unreachable, tool timeout) is retried with exponential
backoff, any other failure marks the job failed with its error code.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from typing import Any

from celery import Celery, Task

from digitize.config import Settings, load_settings
from digitize.errors import ConfigError, DigitizeError
from digitize.scale.backends import Backends, open_backends
from digitize.scale.jobs import NEXT_STEP
from digitize.scale.steps import STEPS

__all__ = ["QUEUES", "app", "configure", "run_worker", "send_step", "sweep"]

log = logging.getLogger(__name__)

QUEUES = {"read": "ocr", "sign": "sign", "index": "index"}
_TRANSIENT_CODES = frozenset({"store.unreachable", "tool.timeout", "input.changed"})

app = Celery("digitize", set_as_current=False)
_state: dict[str, Any] = {}


def configure(settings: Settings) -> Celery:
    """Point the app at the configured broker with the long-task safeguards.

    Raises:
        ConfigError: no broker URL, or a visibility timeout not above the task limit.
    """
    if not settings.scale_broker_url:
        raise ConfigError("scale_broker_url is empty; set it to redis://host:6379/0")
    limit_s = settings.scale_task_time_limit_s
    if settings.scale_visibility_timeout_s <= limit_s:
        raise ConfigError(
            "scale_visibility_timeout_s must be above scale_task_time_limit_s, or a "
            "long OCR task is delivered to a second worker while the first runs"
        )
    if app.conf.broker_url != settings.scale_broker_url:
        _drop_connections()
    app.conf.update(
        broker_url=settings.scale_broker_url,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        # Redis: an unacknowledged task comes back only after this long.
        broker_transport_options={
            "visibility_timeout": settings.scale_visibility_timeout_s
        },
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_time_limit=limit_s,
        task_soft_time_limit=limit_s * 0.9,
        task_default_queue="ocr",
        task_routes={f"digitize.{s}": {"queue": q} for s, q in QUEUES.items()},
        task_publish_retry_policy={
            "max_retries": 3,
            "interval_start": 0.5,
            "interval_step": 1.0,
            "interval_max": 3.0,
        },
        worker_prefetch_multiplier=1,
        worker_max_memory_per_child=settings.scale_worker_max_memory_mb * 1024,
        worker_hijack_root_logger=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )
    _state["settings"] = settings
    return app


def _drop_connections() -> None:
    """Forget pooled connections to a broker configured before (as after a fork)."""
    # Celery keeps both pools on private attributes; app.close() resets only one.
    if app._pool is not None:
        app._pool.force_close_all()
    app._pool = None
    if "amqp" in app.__dict__:
        app.amqp._producer_pool = None


def _backends() -> Backends:
    """This process's backends, opened after the fork that made the worker child."""
    if _state.get("pid") != os.getpid():
        settings = _state.get("settings") or load_settings()
        _state.update(pid=os.getpid(), backends=open_backends(settings))
    return _state["backends"]


def send_step(step: str, sha256: str) -> None:
    """Queue one step of one job (the message holds only the id)."""
    app.send_task(f"digitize.{step}", args=[sha256], queue=QUEUES[step])


def _is_transient(err: Exception) -> bool:
    if isinstance(err, DigitizeError):
        return err.code in _TRANSIENT_CODES
    return True  # an unexpected error: retried, then failed as internal.error


def _run_step(task: Task, step: str, sha256: str) -> None:
    b = _backends()
    try:
        STEPS[step](sha256, b)
    except Exception as err:
        retries = task.request.retries
        if _is_transient(err) and retries < b.settings.scale_max_retries:
            delay_s = b.settings.scale_retry_backoff_s * 2**retries
            log.warning(
                "job %s %s: %s; retry in %.0f s", sha256[:12], step, err, delay_s
            )
            raise task.retry(countdown=delay_s, exc=err) from err
        # LIMITATION: a file failing after it was queued is not put in quarantine/
        # (the ingest node already moved it to processed/) -> the job keeps the error
        # code and message, listed by `digitize jobs`.
        code = getattr(err, "code", "internal.error")
        log.error("job %s failed at %s: %s", sha256[:12], step, code)
        b.jobs.fail(
            sha256, code, getattr(err, "message", f"{type(err).__name__}: {err}")
        )
        return
    job = b.jobs.get(sha256)
    following = NEXT_STEP.get(job["state"]) if job else None
    if following:
        send_step(following, sha256)


@app.task(name="digitize.read", bind=True, acks_late=True)
def read_task(self: Task, sha256: str) -> None:
    """OCR worker: pages, OCR, extraction, unsigned PDF."""
    _run_step(self, "read", sha256)


@app.task(name="digitize.sign", bind=True, acks_late=True)
def sign_task(self: Task, sha256: str) -> None:
    """Signing node: sign and validate."""
    _run_step(self, "sign", sha256)


@app.task(name="digitize.index", bind=True, acks_late=True)
def index_task(self: Task, sha256: str) -> None:
    """Catalog writer: record the document and its full text."""
    _run_step(self, "index", sha256)


def queue_depth(queue: str) -> int | None:
    """Messages waiting in a broker queue; None when the broker cannot say."""
    try:
        with app.connection_for_write() as conn:
            return int(
                conn.default_channel.queue_declare(
                    queue=queue, passive=True
                ).message_count
            )
    except Exception:
        return None


# LIMITATION: once, a job stayed in 'signed' after a broker restart with no resend
# (cause not found) -> such a job is resent only when overdue: late, not lost.
_OVERDUE = 4


def sweep(
    b: Backends,
    send: Callable[[str, str], None] = send_step,
    depth: Callable[[str], int | None] = queue_depth,
) -> int:
    """Send again the jobs whose worker died or whose message was lost; return how many.

    A job whose step went silent (no heartbeat for scale_stale_s) is resent at once.
    An idle unfinished job (untouched for scale_requeue_s) is resent when its queue
    is empty (with a backlog its message is most likely still waiting), and in any
    case once untouched for `_OVERDUE` times that long: a message can sit where no
    worker takes it, or the broker cannot say how many wait. Steps are idempotent,
    so a needless resend costs one look at the job.
    """
    sent = 0
    settings = b.settings
    empty: dict[str, bool] = {}
    overdue_before = time.time() - _OVERDUE * settings.scale_requeue_s
    for sha, state, touched, running in b.jobs.stale(
        stale_s=settings.scale_stale_s, requeue_s=settings.scale_requeue_s
    ):
        queue = QUEUES[NEXT_STEP[state]]
        waiting = not running and touched >= overdue_before
        if waiting and not empty.setdefault(queue, depth(queue) == 0):
            continue
        if not b.jobs.claim_resend(sha, touched):
            continue
        try:
            send(NEXT_STEP[state], sha)
            sent += 1
        except Exception as err:
            log.warning("cannot resend job %s: %s", sha[:12], err)
    if sent:
        log.warning("sent %d stale jobs again", sent)
    return sent


def run_worker(settings: Settings, *, queues: str, concurrency: int, name: str) -> None:
    """Run a Celery worker for `queues` in this process (blocks until stopped)."""
    configure(settings)
    count = concurrency or settings.scale_worker_concurrency or os.cpu_count() or 1
    app.worker_main(
        [
            "worker",
            "--queues",
            queues,
            "--concurrency",
            str(count),
            "--pool",
            "prefork",
            "--hostname",
            name or f"digitize@{socket.gethostname()}",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            settings.log_level,
        ]
    )
