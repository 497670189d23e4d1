"""A migration that goes wrong half-way leaves the VM running where it was, and says so in
one sentence: the link between the hosts cut, the destination's libvirtd killed.

Real faults on the two real hosts of this machine (peer_host.py): the veth pair set down
(this kernel has no netem; a downed link is what a pulled cable looks like to TCP: QEMU's
socket just waits), and SIGKILL to the peer's libvirtd. The migrations are slowed to
1 MiB/s so that they are surely under way when the fault strikes.
"""
from __future__ import annotations

from dataclasses import replace

import pytest

from app.migration import MigrationRequest
from app.tasks import TaskState
from connectors.libvirt.model import ConnState, VMState
from tests.conftest import wait_until
from tests.integration.migration_fixtures import bring, counters

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]


def slow_move(aloop, stack, guest, **changes):
    """Starts a 1 MiB/s move of the guest to the peer; returns the task once data flows."""
    bring(aloop, stack, guest, stack.local)
    node = stack.vm_node(guest.name)
    pre = aloop.run_until_complete(stack.migrations.precheck(stack.local, node.key,
                                                             stack.remote))
    options = replace(stack.migrations.default_options(pre, stack.remote),
                      bandwidth_mib_s=1, **changes)
    task = stack.migrations.start(MigrationRequest(stack.local, node.key, stack.remote,
                                                   options, guest.name))
    aloop.run_until_complete(wait_until(lambda: (task.progress or 0) > 0 or task.done, 60))
    assert not task.done, task.error
    return task


def still_running_here(aloop, stack, guest) -> None:
    stack.inventory.flush()
    assert [n.conn_id for n in stack.vm_nodes(guest.name)] == [stack.local]
    assert stack.vm_state(guest.name) is VMState.RUNNING
    last = counters(guest.serial_log)[-1]
    aloop.run_until_complete(wait_until(
        lambda: counters(guest.serial_log)[-1] > last + 5, 30))


def test_the_link_cut_half_way(aloop, two_hosts, companion, peer):
    stack, guest = two_hosts, companion
    task = slow_move(aloop, stack, guest, stall_timeout_s=5)
    peer.link(up=False)
    try:
        aloop.run_until_complete(wait_until(lambda: task.done, 90))
    finally:
        peer.link(up=True)
    assert task.state is TaskState.FAILED
    dest, here = stack.manager.label(stack.remote), stack.manager.label(stack.local)
    assert task.error == (f"No data reached {dest} for 5 s (the link to it may be down), so "
                          f"the migration of {guest.name} was cancelled; {guest.name} keeps "
                          f"running on {here}.")
    still_running_here(aloop, stack, guest)


def test_the_destination_libvirtd_killed_half_way(aloop, two_hosts, companion, peer):
    stack, guest = two_hosts, companion
    task = slow_move(aloop, stack, guest)
    peer.kill_libvirtd()
    try:
        aloop.run_until_complete(wait_until(lambda: task.done, 60))
        assert stack.host_state(stack.remote) is not ConnState.CONNECTED
    finally:
        # The session's other tests need the peer: its libvirtd comes back (and throws
        # away the half-received VM), the app reconnects by itself.
        peer.restart_libvirtd()
        aloop.run_until_complete(wait_until(
            lambda: stack.host_state(stack.remote) is ConnState.CONNECTED, 60))
    assert task.state is TaskState.FAILED
    dest, here = stack.manager.label(stack.remote), stack.manager.label(stack.local)
    assert task.error == (f"Lost the connection to {dest} while moving {guest.name}, so the "
                          f"migration was cancelled; {guest.name} keeps running on {here}.")
    still_running_here(aloop, stack, guest)
