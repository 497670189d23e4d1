"""Moving real guests between two real libvirt hosts on this machine, as the app does it.

This machine's libvirtd and a second one in its own namespaces (peer_host.py) run the
tiny TCG test guest; the guest prints a counter on its serial port every 100 ms, kept in
its shell's memory. The app's own stack (migration service, tasks, inventory fed by both
hosts' events) does every move.

The story, in order (one guest, booted once for the session, moves through all of it):
1. the pre-check refuses a move whose disk is only on this host unless it is copied;
2. it moves live with its disk copied: the counter goes on from where it was on the
   destination, the tree shows it under the other host when the task ends;
3. a move back, slowed to 1 MiB/s, is cancelled half-way: it keeps running (and
   counting) where it was, and no copy of its disk is left behind;
4. a VM of the same name on this host blocks the move back in the pre-check;
5. a shut-off VM with a disk moves offline, its disk streamed.
"""
from __future__ import annotations

import json
import time
from dataclasses import replace

import libvirt
import pytest

from app.migration import MigrationRequest
from app.tasks import TaskState
from connectors.libvirt.domxml.organize import OrgChange
from connectors.libvirt.model import VMState
from tests.conftest import wait_until
from tests.integration.migration_fixtures import bring, counted, counters, finish

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]


def test_a_local_disk_must_be_copied(aloop, two_hosts, traveller):
    stack = two_hosts
    bring(aloop, stack, traveller, stack.local)
    key = stack.vm_node(traveller.name).key
    pre = aloop.run_until_complete(stack.migrations.precheck(stack.local, key, stack.remote))
    options = stack.migrations.default_options(pre, stack.remote)
    assert options.live and options.copy_storage == (("vda", "default"),)
    assert pre.blockers(options) == []
    refused = pre.blockers(replace(options, copy_storage=()))
    assert [p.disk for p in refused] == ["vda"]
    assert "choose to copy the storage" in refused[0].reason


def test_live_migration_with_storage_copy_carries_the_guest_on(aloop, two_hosts, traveller,
                                                               peer):
    stack = two_hosts
    bring(aloop, stack, traveller, stack.local)
    node = stack.vm_node(traveller.name)
    pre = aloop.run_until_complete(
        stack.migrations.precheck(stack.local, node.key, stack.remote))
    # Capped at 32 MiB/s (an option the dialog offers): unthrottled, the guest's ~70 MiB
    # of memory and its disk cross the veth between two of the task's half-second
    # readings on a fast machine, and the user had nothing to watch but "Starting…".
    # (At 8 MiB/s the move took 27 s here.)
    options = replace(stack.migrations.default_options(pre, stack.remote),
                      bandwidth_mib_s=32)
    before = counters(traveller.serial_log)[-1]
    details = []
    task = stack.migrations.start(MigrationRequest(stack.local, node.key, stack.remote,
                                                   options, traveller.name))
    task.changed.connect(lambda: details.append(task.detail))
    started = time.monotonic()
    finish(aloop, task)
    took = time.monotonic() - started
    assert task.state is TaskState.SUCCEEDED, task.error
    # What the user watched: libvirt's job statistics in words.
    assert any(d.startswith(("Memory:", "Copying disks:")) for d in details), details

    # The tree moved it when the task ended: under the peer, gone from here.
    stack.inventory.flush()
    assert [n.conn_id for n in stack.vm_nodes(traveller.name)] == [stack.remote]
    assert stack.vm_state(traveller.name) is VMState.RUNNING

    # The destination runs it from the copy in its own pool.
    dest = libvirt.open(peer.uri)
    try:
        dom = dest.lookupByName(traveller.name)
        assert dom.isActive() and dom.isPersistent()
        dom_xml = dom.XMLDesc(0)
        assert "/var/lib/libvirt/images/" in dom_xml
    finally:
        dest.close()

    # The guest went on counting where it was: no reboot, no restart from 0. Both hosts'
    # QEMUs append to the one serial log (the destination's XML names the same file).
    assert f"path='{traveller.serial_log}' append='on'" in dom_xml
    after = counted(aloop, traveller, before + 20)
    log = traveller.serial_log.read_bytes()
    seen = counters(traveller.serial_log)
    assert log.count(b"HVCONSOLE-GUEST-READY") == 1
    assert seen == list(range(len(seen))), "the counter restarted or jumped"
    assert after > before + 20
    outcome = [m for m in stack.messages() if "moved to" in m]
    assert outcome and traveller.name in outcome[0]
    print(json.dumps({"live_migration_with_storage_copy_s": round(took, 2),
                      "event": outcome[0]}))


def test_cancel_half_way_leaves_it_running_where_it_was(aloop, two_hosts, traveller):
    stack = two_hosts
    bring(aloop, stack, traveller, stack.remote)
    node = stack.vm_node(traveller.name)
    pre = aloop.run_until_complete(
        stack.migrations.precheck(stack.remote, node.key, stack.local))
    options = replace(stack.migrations.default_options(pre, stack.local), bandwidth_mib_s=1)
    assert options.copy_storage and options.dest_address   # the veth, not 127.0.0.1
    task = stack.migrations.start(MigrationRequest(stack.remote, node.key, stack.local,
                                                   options, traveller.name))
    # Half-way: some data has moved, much has not.
    aloop.run_until_complete(wait_until(lambda: (task.progress or 0) > 0 or task.done, 60))
    assert not task.done, task.error
    task.cancel()
    finish(aloop, task)
    assert task.state is TaskState.CANCELLED
    stack.inventory.flush()
    assert [n.conn_id for n in stack.vm_nodes(traveller.name)] == [stack.remote]
    assert stack.vm_state(traveller.name) is VMState.RUNNING
    last = counters(traveller.serial_log)[-1]
    counted(aloop, traveller, last + 10)
    # No half-made copy of its disk stays on this machine.
    local = libvirt.open("qemu:///system")
    try:
        pool = local.storagePoolLookupByName("hvconsole-test")
        pool.refresh(0)
        # (its old disk went when it moved away: the copy there is the one it runs from)
        assert [v for v in pool.listVolumes() if v.startswith(traveller.name)] == []
    finally:
        local.close()


def test_a_name_taken_on_the_destination_is_refused_before_it_starts(
        aloop, two_hosts, traveller, session_guests):
    stack = two_hosts
    bring(aloop, stack, traveller, stack.remote)
    node = stack.vm_node(traveller.name)
    # A different VM with the same name on this machine (the old definition is gone).
    clash = session_guests("clash", start=False, counter=False)
    local = libvirt.open("qemu:///system")
    try:
        xml = clash.domain.XMLDesc(0).replace(clash.name, traveller.name)
        clash.domain.undefine()
        twin = local.defineXML(xml.replace(clash.domain.UUIDString(), ""))
        try:
            # Up to a minute: a host whose connection libvirtd closed while the test's
            # own calls held the loop still (its keepalive unanswered) must first
            # reconnect, with its backoff, before its tree shows the twin.
            aloop.run_until_complete(wait_until(
                lambda: stack.host_of(traveller.name) is not None and
                len(stack.vm_nodes(traveller.name)) == 2, 60))
            pre = aloop.run_until_complete(
                stack.migrations.precheck(stack.remote, node.key, stack.local))
            blockers = pre.blockers(stack.migrations.default_options(pre, stack.local))
            assert [p.reason for p in blockers] == [
                f"{stack.manager.label(stack.local)} already has a VM named "
                f"{traveller.name}; rename one of them first."]
        finally:
            twin.undefine()
    finally:
        local.close()


def test_a_shut_off_vm_moves_offline_with_its_disk(aloop, two_hosts, session_guests, peer):
    stack = two_hosts
    guest = session_guests("offline", start=False, with_disk=True, counter=False)
    aloop.run_until_complete(wait_until(lambda: stack.vm_node(guest.name) is not None, 30))
    # Its tags and folder (HVConsole's metadata) travel with its definition.
    stack.commands.organize.apply([stack.vm_node(guest.name)],
                                  OrgChange(replace_tags=("moved",), folder="/travel"))
    aloop.run_until_complete(wait_until(
        lambda: stack.vm_node(guest.name).obj.folder == "/travel", 30))
    node = stack.vm_node(guest.name)
    pre = aloop.run_until_complete(
        stack.migrations.precheck(stack.local, node.key, stack.remote))
    options = stack.migrations.default_options(pre, stack.remote)
    assert not options.live and options.copy_storage == (("vda", "default"),)
    task = stack.migrations.start(MigrationRequest(stack.local, node.key, stack.remote,
                                                   options, guest.name))
    finish(aloop, task)
    assert task.state is TaskState.SUCCEEDED, task.error
    stack.inventory.flush()
    assert [n.conn_id for n in stack.vm_nodes(guest.name)] == [stack.remote]
    assert stack.vm_state(guest.name) is VMState.SHUTOFF
    moved = stack.vm_nodes(guest.name)[0].obj
    assert (moved.tags, moved.folder) == (("moved",), "/travel")
    dest = libvirt.open(peer.uri)
    try:
        dom = dest.lookupByName(guest.name)
        disk = [line for line in dom.XMLDesc(0).splitlines() if "source file" in line][-1]
        path = disk.split("'")[1]
        assert path.startswith("/var/lib/libvirt/images/")
        copy = dest.storageVolLookupByPath(path)
        # The copy is the image itself: a qcow2 of the same virtual size.
        assert copy.info()[1] == 64 << 20
        assert b"QFI\xfb" in (peer.dir / "lib" / "images" / path.rsplit("/", 1)[1]
                             ).read_bytes()[:4]
    finally:
        dest.close()
    # The original went with the definition (Migrate's default when disks are copied).
    local = libvirt.open("qemu:///system")
    try:
        pool = local.storagePoolLookupByName("hvconsole-test")
        pool.refresh(0)
        assert not [v for v in pool.listVolumes() if v.startswith(guest.name)]
    finally:
        local.close()
