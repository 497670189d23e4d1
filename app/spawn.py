"""Starting a coroutine from a Qt signal handler on the app's asyncio loop."""
from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


def spawn(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None:
    """A task on the current loop; none once that loop has closed: while the app (or a
    test session) shuts down, Qt may still deliver a last timer or inventory batch to a
    model that would read something again."""
    try:
        loop = asyncio.get_event_loop()
    except RuntimeError:
        loop = None
    if loop is None or loop.is_closed():
        coro.close()
        return None
    return loop.create_task(coro)
