"""Measures how long the event loop went without running a 20 ms ticker: the longest gap
is how long the UI would have been frozen."""
from __future__ import annotations

import asyncio


class LoopGaps:
    def __init__(self) -> None:
        self.gaps: list[float] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._tick())

    async def stop(self) -> float:
        """Stops ticking; the longest gap seen, in seconds."""
        self._stop.set()
        if self._task is not None:
            await self._task
        return max(self.gaps, default=0.0)

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while not self._stop.is_set():
            await asyncio.sleep(0.02)
            self.gaps.append(loop.time() - last)
            last = loop.time()
