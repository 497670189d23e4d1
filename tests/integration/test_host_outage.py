"""libvirtd goes away under a connected HVConsole and comes back.

The host must show as lost quickly (the socket closes, or keepalive fails), its VMs greyed
with their last known state, the UI loop must never stall while it happens, and the
connection must come back by itself with a fresh picture and live events once libvirtd is
running again. This test stops and restarts the machine's libvirtd, so it runs alone (its
guest is made with virsh, not with guest_factory, whose connection would die with it).
"""
from __future__ import annotations

import asyncio
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from connectors.libvirt.model import ConnState, VMState
from tests.conftest import wait_until
from tests.integration.app_stack import AppStack
from tests.integration.conftest import PREFIX
from tests.integration.guest import REPO, guest_xml, serial_log_path

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# The loop ticks every 20 ms; a tick late by more than this means the UI froze.
MAX_STALL_S = 1.0


def virsh(uri: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["virsh", "-q", "-c", uri, *args], check=check,
                          capture_output=True, text=True, timeout=60)


def _define(uri: str, name: str, files) -> None:
    xml = guest_xml(name, accel=files.accel, kernel=files.kernel, initrd=files.initrd,
                    serial_log=serial_log_path(name))
    with tempfile.NamedTemporaryFile("w", suffix=".xml") as f:
        f.write(xml)
        f.flush()
        virsh(uri, "define", f.name)


def _stop_libvirtd() -> None:
    subprocess.run(["pkill", "-TERM", "-x", "libvirtd"], check=False)
    deadline = time.monotonic() + 30
    while subprocess.run(["pgrep", "-x", "libvirtd"], capture_output=True).returncode == 0:
        if time.monotonic() > deadline:
            subprocess.run(["pkill", "-KILL", "-x", "libvirtd"], check=False)
        time.sleep(0.1)


def _start_libvirtd() -> None:
    subprocess.run(["bash", str(REPO / "scripts" / "start-libvirtd.sh")], check=True,
                   capture_output=True, timeout=120)


class StallMeter:
    """Measures the longest gap between ticks of a 20 ms timer on the loop."""

    def __init__(self):
        self.worst = 0.0
        self._task = None

    async def _run(self):
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.02)
            now = time.monotonic()
            self.worst = max(self.worst, now - last - 0.02)
            last = now

    def start(self):
        self._task = asyncio.ensure_future(self._run())

    def stop(self):
        self._task.cancel()


def _greyed(stack, name: str) -> bool:
    index = stack.vm_index(name)
    if index is None:
        return False
    enabled = bool(index.flags() & Qt.ItemFlag.ItemIsEnabled)
    return not enabled or index.data(Qt.ItemDataRole.ForegroundRole) is not None


def test_libvirtd_restart_is_survived(qapp, aloop, libvirt_uri, test_guest_files):
    stack = AppStack()
    conn_id = aloop.run_until_complete(stack.open(libvirt_uri))
    name = f"{PREFIX}outage-{uuid.uuid4().hex[:6]}"
    late = f"{name}-late"
    meter = StallMeter()
    try:
        aloop.run_until_complete(wait_until(
            lambda: stack.host_state(conn_id) is ConnState.CONNECTED, 20))
        _define(libvirt_uri, name, test_guest_files)
        virsh(libvirt_uri, "start", name)
        # Up to a minute: on a loaded machine virsh's start alone can outlast libvirtd's
        # keepalive, and the stack then first reconnects.
        aloop.run_until_complete(wait_until(
            lambda: stack.vm_state(name) is VMState.RUNNING, 60))
        assert not _greyed(stack, name)

        meter.start()
        lost_at = time.monotonic()
        aloop.run_until_complete(_in_thread(_stop_libvirtd))
        aloop.run_until_complete(wait_until(
            lambda: stack.host_state(conn_id) is not ConnState.CONNECTED, 15))
        print(f"host marked lost after {time.monotonic() - lost_at:.2f} s")
        host = stack.manager.host(conn_id)
        assert host.state is ConnState.RECONNECTING, host.state
        assert host.reason, "a lost host says why"
        aloop.run_until_complete(wait_until(lambda: _greyed(stack, name), 5))
        assert stack.vm_state(name) is VMState.RUNNING, "the last known state stays"
        # The user's actions on a lost host's VMs are disabled.
        stack.commands.set_selection([stack.vm_node(name)])
        assert not stack.commands.force_shutdown.action.isEnabled()

        back_at = time.monotonic()
        aloop.run_until_complete(_in_thread(_start_libvirtd))
        aloop.run_until_complete(wait_until(
            lambda: stack.host_state(conn_id) is ConnState.CONNECTED, 60))
        print(f"reconnected {time.monotonic() - back_at:.2f} s after libvirtd answered again")
        aloop.run_until_complete(wait_until(lambda: not _greyed(stack, name), 5))
        assert stack.vm_state(name) is VMState.RUNNING

        # Events flow again on the new connection.
        _define(libvirt_uri, late, test_guest_files)
        aloop.run_until_complete(wait_until(lambda: stack.vm_node(late) is not None, 10))
        meter.stop()
        print(f"worst loop stall: {meter.worst:.3f} s")
        assert meter.worst < MAX_STALL_S, f"the UI loop stalled {meter.worst:.2f} s"
        log = "\n".join(stack.messages()).lower()
        assert "lost" in log or "reconnect" in log or "disconnect" in log, log
    finally:
        if meter._task and not meter._task.done():
            meter.stop()
        _start_libvirtd()
        for n in (name, late):
            virsh(libvirt_uri, "destroy", n, check=False)
            virsh(libvirt_uri, "undefine", n, check=False)
            Path(serial_log_path(n)).unlink(missing_ok=True)
        aloop.run_until_complete(stack.close())


async def _in_thread(fn):
    """Run a blocking step (stopping a daemon) off the loop, so the meter sees the UI."""
    return await asyncio.get_running_loop().run_in_executor(None, fn)
