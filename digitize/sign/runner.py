"""Run pyHanko's coroutines from plain code, whatever thread or event loop we are in."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["run_coroutine"]

T = TypeVar("T")


def run_coroutine(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run the coroutine `make()` on a fresh event loop and return its result.

    pyHanko's synchronous wrappers call `asyncio.run`, which fails inside a running
    loop (an async web handler). Worker threads have no loop, so they run it directly;
    inside a loop the coroutine runs on a one-off thread with its own loop. `make` is
    called on the thread that runs it, so no coroutine object crosses threads.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        in_loop = False
    else:
        in_loop = True
    if not in_loop:
        # Outside the except block: errors raised by the coroutine must not carry
        # the "no running event loop" error as their context.
        return asyncio.run(make())
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="digitize-sign") as pool:
        return pool.submit(lambda: asyncio.run(make())).result()
