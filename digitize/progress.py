"""The only progress-bar wrapper: one rich bar on stderr, off when not a terminal.

Commands that go through many items open `progress_bar(total, unit, label)` and call
the returned function once per finished item. Stages never import rich themselves.
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
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n=1: bar.advance(task, n)
