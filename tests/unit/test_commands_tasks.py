"""Tasks: what a user sees of a long operation (state, error, log lines), including cancel;
written to the real events log."""
from __future__ import annotations

import asyncio

from app.events_log import CATEGORY_ROLE, SEVERITY_ROLE, EventsLog
from app.tasks import TaskManager, TaskState
from connectors.libvirt.model import ActionError
from tests.conftest import wait_until


def rows(log: EventsLog) -> list[tuple[str, str, str, str]]:
    """The real events log's rows as (severity, category, source, message), oldest first."""
    return [(log.index(r, 0).data(SEVERITY_ROLE), log.index(r, 0).data(CATEGORY_ROLE),
             log.index(r, 2).data(), log.index(r, 3).data())
            for r in reversed(range(log.rowCount()))]


def test_a_task_reports_progress_and_success(qapp, aloop):
    log = EventsLog()
    tasks = TaskManager(log)
    seen = []
    tasks.taskFinished.connect(seen.append)

    async def work(task):
        task.set_progress(50)
        await asyncio.sleep(0)

    task = tasks.run("Starting VM web-01", "kvm1 » web-01", work)
    assert tasks.active() == [task] and task.state is TaskState.RUNNING
    assert rows(log) == [("info", "action", "kvm1 » web-01", "Starting VM web-01…")]
    aloop.run_until_complete(wait_until(lambda: task.done))
    assert task.state is TaskState.SUCCEEDED and task.progress == 100
    assert seen == [task] and tasks.active() == []
    # The same row, rewritten: one action is one row.
    assert rows(log) == [("info", "action", "kvm1 » web-01", "Starting VM web-01: done")]


def test_an_outcome_learned_later_rewrites_the_same_row(qapp, aloop):
    """A request the guest carries out later: the row says "requested", then what
    happened; rows written in between stay where they are."""
    log = EventsLog()
    tasks = TaskManager(log)

    async def ask(_task):
        return "shutdown requested"

    task = tasks.run("Shutting down VM web-01", "kvm1 » web-01", ask)
    aloop.run_until_complete(wait_until(lambda: task.done))
    assert task.summary == "Shutting down VM web-01: shutdown requested"
    log.add("info", "hypervisor", "kvm1 » web-01", "VM web-01: Stopped (shut down)")
    task.set_outcome("shut off")
    assert [r[3] for r in rows(log)] == ["Shutting down VM web-01: shut off",
                                        "VM web-01: Stopped (shut down)"]
    task.set_outcome("still running after 2 minutes", "warning")
    assert rows(log)[0][0] == "warning" and log.rowCount() == 2


def test_errors_are_worded_for_users(qapp, aloop):
    log = EventsLog()
    tasks = TaskManager(log)

    async def refused(_task):
        raise ActionError("domain is already running")

    async def bug(_task):
        raise KeyError("vda")

    a = tasks.run("Starting VM a", "h » a", refused)
    b = tasks.run("Starting VM b", "h » b", bug)
    aloop.run_until_complete(wait_until(lambda: a.done and b.done))
    assert a.state is TaskState.FAILED and a.error == "domain is already running"
    assert b.error == "Unexpected error: 'vda'"
    assert sorted(r[3] for r in rows(log)) == [
        "Starting VM a: failed: domain is already running",
        "Starting VM b: failed: Unexpected error: 'vda'"]
    assert {r[0] for r in rows(log)} == {"error"}


def test_cancel_stops_waiting_and_says_the_host_may_still_act(qapp, aloop):
    log = EventsLog()
    tasks = TaskManager(log)
    task = tasks.run("Suspending VM a", "h » a", lambda _task: asyncio.sleep(30))
    aloop.run_until_complete(asyncio.sleep(0.01))
    task.cancel()
    aloop.run_until_complete(wait_until(lambda: task.done))
    assert task.state is TaskState.CANCELLED
    assert len(rows(log)) == 1
    assert rows(log)[-1][0] == "warning" and "may still complete" in rows(log)[-1][3]
