"""The asyncio loop on Qt's: a task woken as ``run_until_complete`` ends must step inside
the running loop. qasync's own loop delivered the last queued Qt events after it stopped
being asyncio's running loop, so such a task failed at its next ``await asyncio.sleep``
("no running event loop"); a host's statistics sampler ended that way in a test run and
its graphs stayed empty."""
from __future__ import annotations

import asyncio

import pytest

from widgets.event_loop import AsyncQtLoop


def test_every_task_step_runs_inside_the_running_loop(aloop):
    outside = []

    async def spinner():
        while True:
            await asyncio.sleep(0)   # each step is woken by a fresh Qt timer
            if asyncio._get_running_loop() is not aloop:
                outside.append(1)

    task = aloop.create_task(spinner())
    try:
        for _ in range(30):
            aloop.run_until_complete(asyncio.sleep(0.001))
    finally:
        task.cancel()
        aloop.run_until_complete(asyncio.sleep(0))
    assert isinstance(aloop, AsyncQtLoop)
    assert not outside


def test_results_and_errors_of_the_awaited_coroutine(aloop):
    async def value():
        await asyncio.sleep(0)
        return 42

    async def fails():
        await asyncio.sleep(0)
        raise ValueError("from the coroutine")

    assert aloop.run_until_complete(value()) == 42
    with pytest.raises(ValueError, match="from the coroutine"):
        aloop.run_until_complete(fails())
