"""The only progress-bar wrapper: one rich bar on stderr, off when not a terminal.

Commands that go through many items open `progress_bar(total, unit, label)` and call
the returned function once per finished item; the bar shows the count, the rate per
minute and the time left. Stages never import rich themselves.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["progress_bar"]


@contextmanager
def progress_bar(
    total: int, unit: str, label: str, *, enabled: bool = True
) -> Iterator[Callable[[int], None]]:
    """A bar counting `total` items of `unit`; yields `advance(n=1)`.

    The bar shows only when `enabled` and stderr is a terminal (never in the watcher
    service or with --quiet); otherwise `advance` does nothing.
    """
    if not enabled or not sys.stderr.isatty() or total <= 0:
        yield lambda n=1: None
        return

    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        _rate_column(unit),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n=1: bar.advance(task, n)


def _rate_column(unit: str):  # -> rich.progress.ProgressColumn, imported late
    """Items per minute (OCR work is minutes, not seconds, per hundred items)."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class _Rate(ProgressColumn):
        def render(self, task):  # type: ignore[no-untyped-def]
            speed = task.finished_speed or task.speed
            if not speed:
                return Text(f"-- {unit}/min")
            return Text(f"{60 * speed:.1f} {unit}/min")

    return _Rate()
