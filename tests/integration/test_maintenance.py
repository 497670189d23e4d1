"""Maintenance mode on a real host: its running VMs leave for the other host, the host is
marked, nothing starts there; leaving maintenance brings them back.

Two real libvirt hosts on this machine (peer_host.py), two running TCG test guests on
the second one (one with a qcow2 disk that must be copied, one without), the app's own
migration service and maintenance mode, the tree fed by both hosts' events.
"""
from __future__ import annotations

import pytest

from app.tasks import TaskState
from connectors.libvirt.model import VMState
from tests.integration.migration_fixtures import bring, counted, counters, finish

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]


def test_maintenance_empties_the_host_and_brings_the_vms_back(aloop, two_hosts, traveller,
                                                              companion):
    stack = two_hosts
    for guest in (traveller, companion):
        bring(aloop, stack, guest, stack.remote)
    peer_label = stack.manager.label(stack.remote)

    plan = aloop.run_until_complete(stack.maintenance.plan(stack.remote))
    assert plan.refused == []
    assert sorted(m.name for m in plan.moves) == sorted([traveller.name, companion.name])
    assert {m.dest for m in plan.moves} == {stack.local}
    copies = {m.name: m.request.options.copy_storage for m in plan.moves}
    assert [target for target, _pool in copies[traveller.name]] == ["vda"]
    assert copies[companion.name] == ()          # nothing of its own to carry

    before = {g.name: counters(g.serial_log)[-1] for g in (traveller, companion)}
    task = stack.maintenance.enter(plan)
    finish(aloop, task, 240)
    assert task.state is TaskState.SUCCEEDED, task.error
    stack.inventory.flush()
    for guest in (traveller, companion):
        assert [n.conn_id for n in stack.vm_nodes(guest.name)] == [stack.local]
        assert stack.vm_state(guest.name) is VMState.RUNNING
        counted(aloop, guest, before[guest.name] + 10)

    # The host is marked, in the tree and in its settings, and takes no VM meanwhile.
    host_index = stack.inventory.index_of(stack.remote, stack.remote, 1)
    assert host_index.data() == "In maintenance"
    assert stack.maintenance.in_maintenance(stack.remote)
    assert stack.migrations.why_not_destination(stack.local, stack.remote) == \
        f"{peer_label} is in maintenance mode."
    assert sorted(e.name for e in stack.maintenance.evacuated(stack.remote)) == \
        sorted([traveller.name, companion.name])

    back = stack.maintenance.exit(stack.remote, bring_back=True)
    finish(aloop, back, 240)
    assert back.state is TaskState.SUCCEEDED, back.error
    stack.inventory.flush()
    assert not stack.maintenance.in_maintenance(stack.remote)
    assert stack.inventory.index_of(stack.remote, stack.remote, 1).data() != "In maintenance"
    for guest in (traveller, companion):
        assert [n.conn_id for n in stack.vm_nodes(guest.name)] == [stack.remote]
        assert stack.vm_state(guest.name) is VMState.RUNNING
        last = counters(guest.serial_log)[-1]
        counted(aloop, guest, last + 5)
