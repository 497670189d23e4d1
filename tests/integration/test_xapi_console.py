"""A pool VM's console in HVConsole: XAPI's console location reached by HTTP CONNECT with
the pool's session, then HVConsole's own RFB client (connectors/console), as the Console
tab opens it (app.console_openers.PoolConsoleOpener).

The simulator serves a synthetic RFB screen for a simulated VM, and the real guest's VNC
display for a VM backed by a QEMU guest under the local libvirtd (slow test): either way
the pixels HVConsole decodes must equal the source's."""
from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import numpy as np
import pytest

from app.console_openers import PoolConsoleOpener
from app.tasks import TaskState
from connectors.libvirt.model import ConnState, VMState
from tests.conftest import wait_until
from tests.integration.test_console_vnc import matches_screenshot, stop
from tests.integration.test_xapi_pool import Human, connect, outside_session, pinned, \
    pool_stack
from tests.xapi_sim_console import RfbPeek, connect_console
from tests.xapi_sim_helpers import start_process

pytestmark = [pytest.mark.integration]


async def first_frame(opener: PoolConsoleOpener):
    client = await asyncio.wait_for(opener.open(), 20)
    assert client is not None
    task = asyncio.ensure_future(client.run())
    await wait_until(lambda: client.frames >= 1 or task.done(), 20)
    assert not task.done(), task
    return client, task


def test_the_console_shows_what_the_server_sends(qapp, aloop, tmp_path):
    sim = start_process(tmp_path / "pool.db", "--generate-pool", "1,8")
    try:
        stack = pool_stack(tmp_path, Human())
        conn_id = connect(aloop, stack, pinned(sim))
        pool = stack.manager.pool(conn_id)
        vm = next(v for v in pool.vms() if v.state is VMState.RUNNING
                  and not v.is_control_domain)
        assert [g.type for g in vm.graphics] == ["vnc"]     # the Console tab offers it
        client, task = aloop.run_until_complete(first_frame(PoolConsoleOpener(pool, vm.key)))
        try:
            mine = client.framebuffer.rgb()
            # The same console read by a bare CONNECT + raw RFB client.
            admin = outside_session(sim)
            ref = admin.call("VM.get_by_uuid", vm.key)
            location = admin.call("console.get_location", admin.call("VM.get_consoles",
                                                                     ref)[0])
            parts = urlsplit(location)
            sock, status = connect_console(sim.address, f"{parts.path}?{parts.query}",
                                           admin.ref)
            with sock:
                assert status.endswith("200 OK")
                peek = RfbPeek(sock)
                peek.update()
                assert mine.shape == peek.frame.shape
                assert np.array_equal(mine, peek.frame)
                assert mine.std() > 0          # a picture, not an empty screen
            admin.logout()
        finally:
            aloop.run_until_complete(stop(client, task))
        # A halted VM has no console yet: the opener says "nothing to show".
        halted = next(v for v in pool.vms() if v.state is VMState.SHUTOFF)
        assert aloop.run_until_complete(PoolConsoleOpener(pool, halted.key).open()) is None
        aloop.run_until_complete(stack.close())
    finally:
        sim.stop()


@pytest.mark.slow
def test_a_real_guest_started_from_hvconsole_shows_its_screen(
        qapp, aloop, tmp_path, guest_factory, libvirt_uri):
    guest = guest_factory("xapi-client-console")
    sim = start_process(tmp_path / "pool.db", "--generate-pool", "1,10", "--op-seconds",
                        "0.2", "--libvirt-uri", libvirt_uri, "--bind-domain",
                        f"vm-0006={guest.name}")
    try:
        stack = pool_stack(tmp_path, Human())
        conn_id = connect(aloop, stack, pinned(sim))
        assert stack.manager.state(conn_id)[0] is ConnState.CONNECTED
        pool = stack.manager.pool(conn_id)
        vm = next(v for v in pool.vms() if v.name == "vm-0006")
        assert vm.state is VMState.SHUTOFF
        [task] = stack.commands.start.run_on([stack.inventory.node(conn_id, vm.key)])
        aloop.run_until_complete(wait_until(lambda: task.done, 120))
        assert task.state is TaskState.SUCCEEDED, task.summary
        aloop.run_until_complete(wait_until(
            lambda: pool.vm(vm.key).state is VMState.RUNNING, 30))
        guest.wait_ready()
        client, run = aloop.run_until_complete(first_frame(PoolConsoleOpener(pool, vm.key)))
        try:
            matched, differing = aloop.run_until_complete(
                matches_screenshot(client, libvirt_uri, guest.name))
            assert matched, f"{differing} pixels differ from the guest's screenshot"
        finally:
            aloop.run_until_complete(stop(client, run))
        aloop.run_until_complete(stack.close())
    finally:
        sim.stop()
