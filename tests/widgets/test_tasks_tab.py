"""The Tasks tab and the status bar while a long task runs: progress, what it is doing,
Cancel, and the outcome it ends with. The tasks are plain coroutines of the real
TaskManager (a migration's own progress is shown on real hosts in
tests/integration/test_migration.py); here they report what a migration reports."""
from __future__ import annotations

import asyncio

from app.tasks import TaskManager, TaskState
from tests.conftest import wait_until
from widgets.status_bar import MainStatusBar
from widgets.tabs.tasks import TasksTab


def test_a_running_task_shows_progress_detail_and_cancel(qtbot, aloop):
    tasks = TaskManager()
    tab = TasksTab(tasks)
    qtbot.addWidget(tab)
    go_on = asyncio.Event()

    async def migrate(task):
        task.set_detail("Memory: 120 MiB left, pass 2, dirtying 1.0 MiB/s, downtime ≈ 30 ms")
        task.set_progress(40)
        await go_on.wait()
        return "moved to kvm2 (3.4 s, paused 187 ms)"

    async def forever(task):
        task.set_detail("Copying disks: 16.0 MiB of 64.0 MiB")
        await asyncio.sleep(3600)

    first = tasks.run("Migrating VM web-01", "kvm1 » web-01", migrate)
    second = tasks.run("Migrating VM db-01", "kvm1 » db-01", forever)
    aloop.run_until_complete(wait_until(lambda: first.progress == 40 and second.detail))
    assert tab.rows() == [
        ("Migrating VM db-01", "Copying disks: 16.0 MiB of 64.0 MiB"),
        ("Migrating VM web-01",
         "Memory: 120 MiB left, pass 2, dirtying 1.0 MiB/s, downtime ≈ 30 ms")]
    bar = tab.list.itemWidget(tab.list.topLevelItem(1), 2)
    assert (bar.minimum(), bar.maximum(), bar.value()) == (0, 100, 40)

    tab.cancel_button(second).click()               # the user's Cancel
    go_on.set()
    aloop.run_until_complete(wait_until(lambda: first.done and second.done))
    assert second.state is TaskState.CANCELLED
    assert tab.rows()[1] == ("Migrating VM web-01", "moved to kvm2 (3.4 s, paused 187 ms)")
    assert tab.rows()[0][1].startswith("cancelled")
    assert not tab.cancel_button(first).isVisibleTo(tab)


def test_the_status_bar_shows_how_far_the_newest_task_is(qtbot):
    bar = MainStatusBar()
    qtbot.addWidget(bar)
    bar.set_running(["Migrating VM web-01 — Memory: 12 MiB left"])
    bar.set_progress(75)
    assert bar.task_label.text() == "Migrating VM web-01 — Memory: 12 MiB left…"
    assert (bar.progress.maximum(), bar.progress.value()) == (100, 75)
    bar.set_progress(None)                          # it cannot say: a moving bar
    assert bar.progress.maximum() == 0
