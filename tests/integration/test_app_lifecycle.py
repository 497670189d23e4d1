"""A user's VM lifecycle through HVConsole's commands, on real QEMU guests under libvirtd.

Every step triggers the command's QAction (what the toolbar, menu and context menu share)
and then waits for the tree to show the new state, which arrives through libvirt's events.
"""
from __future__ import annotations

import asyncio

import pytest

from app.commands import DeleteChoice
from connectors.libvirt.model import ConnState, VMState
from tests.conftest import wait_until
from tests.integration.app_stack import AppStack
from tests.integration.guest import READY_MARKER, serial_size, wait_for_serial

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.own_guests]


@pytest.fixture
def stack(qapp, aloop, libvirt_uri):
    stack = AppStack()
    stack.conn_id = aloop.run_until_complete(stack.open(libvirt_uri))
    aloop.run_until_complete(wait_until(
        lambda: stack.host_state(stack.conn_id) is ConnState.CONNECTED, 20))
    yield stack
    aloop.run_until_complete(stack.close())


def _until(aloop, predicate, timeout=30.0):
    aloop.run_until_complete(wait_until(predicate, timeout))


async def _serial_ready(guest, after: int, timeout: float = 90.0):
    """Wait for the guest's shell marker without blocking the loop (events keep flowing)."""
    import asyncio

    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, lambda: wait_for_serial(
        guest.serial_log, READY_MARKER, timeout, after=after))


def test_every_lifecycle_command_on_a_real_guest(stack, aloop, guest_factory):
    a = guest_factory("life-a", with_disk=True)
    b = guest_factory("life-b", with_disk=True)
    _until(aloop, lambda: stack.vm_node(a.name) and stack.vm_node(b.name), 10)

    # Start both at once: a multi-selection applies the command to each VM.
    stack.commands.set_selection([stack.vm_node(a.name), stack.vm_node(b.name)])
    assert stack.commands.start.action.isEnabled()
    assert not stack.commands.pause.action.isEnabled()
    stack.commands.start.action.trigger()
    _until(aloop, lambda: stack.vm_state(a.name) is VMState.RUNNING
           and stack.vm_state(b.name) is VMState.RUNNING)
    aloop.run_until_complete(_serial_ready(a, 0))

    stack.run("pause", a.name)
    _until(aloop, lambda: stack.vm_state(a.name) is VMState.PAUSED)
    stack.run("resume", a.name)
    _until(aloop, lambda: stack.vm_state(a.name) is VMState.RUNNING)

    # Shut Down presses the ACPI power button; the guest's init powers off.
    stack.run("shutdown", a.name)
    _until(aloop, lambda: stack.vm_state(a.name) is VMState.SHUTOFF, 60)
    assert "HVCONSOLE-GUEST-POWER-BUTTON" in a.serial_log.read_text(errors="replace")

    stack.run("start", a.name)
    _until(aloop, lambda: stack.vm_state(a.name) is VMState.RUNNING)
    aloop.run_until_complete(_serial_ready(a, 0))

    # Suspend to disk (managed save), then Resume restores the saved memory image.
    stack.run("suspend", a.name)
    _until(aloop, lambda: stack.vm_state(a.name) is VMState.SUSPENDED, 90)
    assert stack.vm_node(a.name).obj.managed_save
    stack.commands.set_selection([stack.vm_node(a.name)])
    assert not stack.commands.pause.action.isEnabled()
    assert not stack.commands.start.action.isEnabled()
    stack.run("resume", a.name)
    _until(aloop, lambda: stack.vm_state(a.name) is VMState.RUNNING, 90)
    _until(aloop, lambda: not stack.vm_node(a.name).obj.managed_save)

    # Force Reboot resets the machine: the guest boots to its shell again.
    mark = serial_size(a.serial_log)
    stack.run("force_reboot", a.name)
    aloop.run_until_complete(_serial_ready(a, mark))
    assert stack.vm_state(a.name) is VMState.RUNNING

    stack.run("force_shutdown", a.name)
    _until(aloop, lambda: stack.vm_state(a.name) is VMState.SHUTOFF)

    # Delete A with its storage, B without: B's volume stays in the pool.
    a_path, b_path = a.volume.path(), b.volume.path()
    stack.prompter.delete_choice = DeleteChoice(delete_storage=True)
    stack.run("delete", a.name)
    _until(aloop, lambda: stack.vm_node(a.name) is None)
    stack.prompter.delete_choice = DeleteChoice(delete_storage=False)
    stack.run("delete", b.name)  # running: deleting forces it off first
    _until(aloop, lambda: stack.vm_node(b.name) is None)

    import os
    _until(aloop, lambda: not os.path.exists(a_path))
    assert os.path.exists(b_path), "the volume of a VM deleted without storage is kept"
    assert stack.prompter.errors == []
    log = "\n".join(stack.messages())
    for verb in ("Start", "Pause", "Resume", "Shut", "Suspend", "Delet"):
        assert verb in log, f"no {verb!r} task in the events log:\n{log}"


def test_acpi_reboot_restarts_the_guest(stack, aloop, guest_factory):
    guest = guest_factory("reboot", start=True)
    _until(aloop, lambda: stack.vm_state(guest.name) is VMState.RUNNING)
    aloop.run_until_complete(_serial_ready(guest, 0))
    mark = serial_size(guest.serial_log)
    stack.run("reboot", guest.name)
    aloop.run_until_complete(_serial_ready(guest, mark))
    assert stack.vm_state(guest.name) is VMState.RUNNING


def test_a_failing_action_reports_libvirts_reason(stack, aloop, guest_factory, tmp_path):
    # A kernel file that disappears after the domain was defined: QEMU cannot start it.
    kernel = tmp_path / "vanished-kernel"
    kernel.write_bytes(b"not a kernel")
    guest = guest_factory("broken", kernel=kernel)
    kernel.unlink()
    _until(aloop, lambda: stack.vm_node(guest.name) is not None)
    stack.run("start", guest.name)
    _until(aloop, lambda: any("fail" in m.lower() and guest.name in m
                              for m in stack.messages()))
    failure = next(m for m in stack.messages() if "fail" in m.lower() and guest.name in m)
    assert "vanished-kernel" in failure or "No such file" in failure, failure
    assert stack.vm_state(guest.name) is VMState.SHUTOFF


def _rows_of(stack, name: str, after: float = 0.0) -> list[tuple[str, str]]:
    """The Events log's rows about one VM (action and hypervisor), oldest first."""
    return [(e.category, e.message) for e in reversed(stack.events_log.entries())
            if e.source.endswith(f"» {name}") and e.timestamp >= after]


def _run_and_follow(stack, command_name: str, vm_name: str):
    """Triggers the command's QAction; its task and the outcomes it reports, in order."""
    started = []
    stack.tasks.taskStarted.connect(started.append)
    try:
        stack.run(command_name, vm_name)
    finally:
        stack.tasks.taskStarted.disconnect(started.append)
    task, = started
    seen: list[str] = []
    task.finished.connect(lambda: seen.append(task.outcome))
    task.outcomeChanged.connect(lambda: seen.append(task.outcome))
    return task, seen


def test_events_tell_a_start_and_a_shutdown_once_each(stack, aloop, guest_factory):
    """Start: the task's row and "Started (booted)", not also "Resumed (unpaused)" (QEMU
    boots with its CPUs stopped). Shut Down: "shutdown requested" while the guest is still
    up, "shut off" once it is off; the task's row and "Stopped (shut down)"."""
    import time
    guest = guest_factory("events")
    _until(aloop, lambda: stack.vm_node(guest.name) is not None, 10)
    started_at = time.time()
    start, _ = _run_and_follow(stack, "start", guest.name)
    _until(aloop, lambda: start.done and stack.vm_state(guest.name) is VMState.RUNNING)
    aloop.run_until_complete(_serial_ready(guest, 0))
    _until(aloop, lambda: ("hypervisor", f"VM {guest.name}: Started (booted)")
           in _rows_of(stack, guest.name, started_at))
    aloop.run_until_complete(asyncio.sleep(1.0))    # a late RESUMED would show by now
    assert _rows_of(stack, guest.name, started_at) == [
        ("action", f"Starting VM {guest.name}: done"),
        ("hypervisor", f"VM {guest.name}: Started (booted)")]

    shutdown_at = time.time()
    task, outcomes = _run_and_follow(stack, "shutdown", guest.name)
    _until(aloop, lambda: outcomes[-1:] == ["shut off"], 60)
    assert outcomes == ["shutdown requested", "shut off"]
    assert "HVCONSOLE-GUEST-POWER-BUTTON" in guest.serial_log.read_text(errors="replace")
    _until(aloop, lambda: len(_rows_of(stack, guest.name, shutdown_at)) >= 2)
    aloop.run_until_complete(asyncio.sleep(1.0))
    assert _rows_of(stack, guest.name, shutdown_at) == [
        ("action", f"Shutting down VM {guest.name}: shut off"),
        ("hypervisor", f"VM {guest.name}: Stopped (shut down)")]


def test_shut_down_of_a_guest_that_ignores_acpi_does_not_claim_success(
        stack, aloop, guest_factory):
    """A guest without ACPI never sees the power button: libvirt accepts the request and
    the guest runs on. The task says "requested", then that it is still running and what
    to do; never "done" or "shut off"."""
    guest = guest_factory("noacpi", start=True, acpi=False)
    _until(aloop, lambda: stack.vm_state(guest.name) is VMState.RUNNING)
    aloop.run_until_complete(_serial_ready(guest, 0))
    stack.commands.shutdown.patience_s = 8.0
    task, outcomes = _run_and_follow(stack, "shutdown", guest.name)
    _until(aloop, lambda: "still running" in task.outcome, 90)
    assert outcomes[0] == "shutdown requested"
    assert not any("shut off" in o or o == "done" for o in outcomes), outcomes
    assert stack.vm_state(guest.name) is VMState.RUNNING
    row = next(e for e in stack.events_log.entries() if e.category == "action"
               and e.source.endswith(guest.name))
    assert row.severity == "warning"
    assert row.message == (f"Shutting down VM {guest.name}: shutdown requested; "
                           f"{guest.name} is still running after 8 seconds (the guest may "
                           "ignore the power button; Force Shut Down turns it off)")
