"""Tasks: what a user sees of a long operation (state, error, log lines), including cancel."""
from __future__ import annotations

import asyncio

from app.tasks import TaskManager, TaskState
from connectors.libvirt.model import ActionError
from tests.conftest import wait_until


class Log:
    """Records EventsLog.add calls in order (the real model's columns are tested elsewhere)."""

    def __init__(self):
        self.rows = []

    def add(self, severity, category, source, message):
        self.rows.append((severity, category, source, message))


def test_a_task_reports_progress_and_success(qapp, aloop):
    log = Log()
    tasks = TaskManager(log)
    seen = []
    tasks.taskFinished.connect(seen.append)

    async def work(task):
        task.set_progress(50)
        await asyncio.sleep(0)

    task = tasks.run("Starting VM web-01", "kvm1 » web-01", work)
    assert tasks.active() == [task] and task.state is TaskState.RUNNING
    aloop.run_until_complete(wait_until(lambda: task.done))
    assert task.state is TaskState.SUCCEEDED and task.progress == 100
    assert seen == [task] and tasks.active() == []
    assert [r[3] for r in log.rows] == ["Starting VM web-01: started",
                                        "Starting VM web-01: done"]
    assert all(r[1] == "action" and r[2] == "kvm1 » web-01" for r in log.rows)


def test_errors_are_worded_for_users(qapp, aloop):
    log = Log()
    tasks = TaskManager(log)

    async def refused():
        raise ActionError("domain is already running")

    async def bug():
        raise KeyError("vda")

    a = tasks.run("Starting VM a", "h » a", refused)
    b = tasks.run("Starting VM b", "h » b", bug)
    aloop.run_until_complete(wait_until(lambda: a.done and b.done))
    assert a.state is TaskState.FAILED and a.error == "domain is already running"
    assert b.error == "Unexpected error: 'vda'"
    assert {r[0] for r in log.rows[-2:]} == {"error"}


def test_cancel_stops_waiting_and_says_the_host_may_still_act(qapp, aloop):
    log = Log()
    tasks = TaskManager(log)
    task = tasks.run("Suspending VM a", "h » a", lambda: asyncio.sleep(30))
    aloop.run_until_complete(asyncio.sleep(0.01))
    task.cancel()
    aloop.run_until_complete(wait_until(lambda: task.done))
    assert task.state is TaskState.CANCELLED
    assert log.rows[-1][0] == "warning" and "may still complete" in log.rows[-1][3]
