"""LibvirtHost on the real libvirtd (qemu:///system): what virsh does outside HVConsole
shows up in the inventory as events, and HVConsole's own actions start real QEMU.

The domains here need no guest files: a diskless TCG machine with 32 MiB sits in its
firmware, which is all a lifecycle test needs, and starts in well under a second.
"""
from __future__ import annotations

import asyncio
import subprocess
import uuid

import pytest

from connectors.libvirt.host import LibvirtHost
from connectors.libvirt.model import (ConnState, HypervisorEvent, InventoryChanged, VMAction,
                                      VMState)
from tests.conftest import wait_until
from tests.integration.conftest import PREFIX, _remove_domain

pytestmark = pytest.mark.integration

# libvirtd delivers events in milliseconds; the margin is for a loaded CI machine.
EVENT_DEADLINE_S = 2.0


def domain_xml(name: str) -> str:
    return f"""<domain type='qemu'>
  <name>{name}</name>
  <description>HVConsole integration test domain (safe to delete)</description>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <graphics type='vnc' autoport='yes' listen='127.0.0.1'/>
    <memballoon model='none'/>
  </devices>
</domain>
"""


class Recorder:
    def __init__(self):
        self.events = []

    def __call__(self, event):
        self.events.append(event)

    def messages(self, name):
        return [e.message for e in self.events
                if isinstance(e, HypervisorEvent) and e.name == name]

    def batches_with(self, key):
        return [c for e in self.events if isinstance(e, InventoryChanged)
                for c in e.changes if c.key == key]


@pytest.fixture
def domain_name(libvirt_uri):
    import libvirt

    name = f"{PREFIX}conn-{uuid.uuid4().hex[:6]}"
    yield name
    conn = libvirt.open(libvirt_uri)
    try:
        _remove_domain(conn, name)
    finally:
        conn.close()


@pytest.fixture
def qemu_host(aloop, libvirt_uri):
    recorder = Recorder()
    host = LibvirtHost(libvirt_uri, recorder)
    aloop.run_until_complete(host.connect())
    yield host, recorder
    aloop.run_until_complete(host.disconnect())


async def virsh(uri: str, *args: str, stdin: str | None = None) -> str:
    """virsh as a user would run it next to HVConsole, kept off the loop thread."""
    def run():
        return subprocess.run(["virsh", "-c", uri, *args], input=stdin, check=True,
                              capture_output=True, text=True, timeout=60).stdout
    return await asyncio.get_running_loop().run_in_executor(None, run)


def test_the_host_reads_the_real_hypervisor(qemu_host):
    host, recorder = qemu_host
    assert host.state is ConnState.CONNECTED
    assert host.info.driver == "QEMU"
    assert host.info.hypervisor_label.startswith(("KVM (QEMU ", "QEMU "))
    assert host.info.memory_kib > 0 and host.info.cpus > 0
    assert recorder.events[1].full


def test_virsh_define_start_destroy_undefine_arrive_as_events(qemu_host, libvirt_uri,
                                                             domain_name, tmp_path, aloop):
    host, rec = qemu_host
    xml_file = tmp_path / "domain.xml"
    xml_file.write_text(domain_xml(domain_name))

    def find():
        return next((v for v in host.vms() if v.name == domain_name), None)

    async def scenario():
        await virsh(libvirt_uri, "define", str(xml_file))
        await wait_until(lambda: find() is not None, EVENT_DEADLINE_S)
        key = find().key
        assert find().state is VMState.SHUTOFF
        assert find().virtualization == "Emulated (QEMU TCG)"

        await virsh(libvirt_uri, "start", domain_name)
        await wait_until(lambda: host.vm(key).state is VMState.RUNNING, EVENT_DEADLINE_S)
        graphics = host.vm(key).graphics[0]
        assert graphics.type == "vnc" and graphics.port and graphics.port >= 5900

        await virsh(libvirt_uri, "destroy", domain_name)
        await wait_until(lambda: host.vm(key).state is VMState.SHUTOFF, EVENT_DEADLINE_S)

        await virsh(libvirt_uri, "undefine", domain_name)
        await wait_until(lambda: host.vm(key) is None, EVENT_DEADLINE_S)
        return key

    key = aloop.run_until_complete(scenario())
    assert any(c.obj is None for c in rec.batches_with(key))
    messages = rec.messages(domain_name)
    for expected in ("Defined (added)", "Started (booted)", "Stopped (forced off)",
                     "Removed (undefined)"):
        assert expected in messages, messages


def test_actions_drive_real_qemu(qemu_host, libvirt_uri, domain_name, aloop):
    import libvirt

    host, rec = qemu_host
    outside = libvirt.open(libvirt_uri)
    try:
        key = outside.defineXML(domain_xml(domain_name)).UUIDString()
    finally:
        outside.close()

    async def scenario():
        await wait_until(lambda: host.vm(key) is not None, EVENT_DEADLINE_S)
        await host.vm_action(key, VMAction.START)
        assert host.vm(key).state is VMState.RUNNING and host.vm(key).dom_id
        await host.vm_action(key, VMAction.PAUSE)
        assert host.vm(key).state is VMState.PAUSED
        await host.vm_action(key, VMAction.RESUME)
        assert host.vm(key).state is VMState.RUNNING
        await host.vm_action(key, VMAction.FORCE_OFF)
        assert host.vm(key).state is VMState.SHUTOFF
        state = await virsh(libvirt_uri, "domstate", domain_name)
        assert state.strip() == "shut off"
        assert await host.delete_vm(key, delete_storage=True) == []
        assert host.vm(key) is None

    aloop.run_until_complete(scenario())
    assert "Paused (by the user)" in rec.messages(domain_name)


def test_opening_qemu_in_a_worker_gives_no_qt_notifier_warning(aloop, libvirt_uri):
    """The warning that started connectors/libvirt/eventloop.py: libvirt registers its
    socket from the worker thread inside openAuth."""
    from PySide6 import QtCore

    messages = []
    previous = QtCore.qInstallMessageHandler(lambda _m, _c, text: messages.append(text))
    try:
        recorder = Recorder()
        host = LibvirtHost(libvirt_uri, recorder)

        async def scenario():
            await host.connect()
            await asyncio.sleep(0.2)   # let keepalive and handle updates go by
            await host.disconnect()

        aloop.run_until_complete(scenario())
    finally:
        QtCore.qInstallMessageHandler(previous)
    assert not [m for m in messages if "QSocketNotifier" in m or "another thread" in m], \
        messages


def test_the_bulk_read_of_real_qemu_equals_reading_each_domain(libvirt_uri, domain_name):
    """On the real qemu driver: a running, a paused, a transient and an autostart domain
    read in bulk exactly as one by one (state from getAllDomainStats, flags from the
    filtered listings)."""
    import libvirt

    from connectors.libvirt import inventory_read, readers

    conn = libvirt.open(libvirt_uri)
    names = [domain_name, f"{domain_name}-p", f"{domain_name}-t"]
    try:
        conn.defineXML(domain_xml(names[0])).setAutostart(1)
        conn.lookupByName(names[0]).create()
        paused = conn.defineXML(domain_xml(names[1]))
        paused.create()
        paused.suspend()
        conn.createXML(domain_xml(names[2]), 0)
        bulk = {vm.key: vm for vm in inventory_read.read_all_vms(conn, "qemu", fetchers=3)}
        each = {vm.key: vm for vm in (readers.read_vm(d, "qemu")
                                      for d in conn.listAllDomains(0))}
        assert bulk == each
        by_name = {vm.name: vm for vm in bulk.values()}
        assert by_name[names[0]].autostart and by_name[names[0]].state is VMState.RUNNING
        assert by_name[names[1]].state is VMState.PAUSED
        assert not by_name[names[2]].persistent and by_name[names[2]].dom_id
    finally:
        for name in names:
            _remove_domain(conn, name)
        conn.close()


def test_a_connection_opened_early_hears_events(aloop, libvirt_uri, domain_name, tmp_path):
    """As at start-up (widgets/startup.py): the connection opens in a thread of its own
    while the loop does not run yet, libvirt registering its socket then; the host takes
    it and must hear what virsh does."""
    from connectors.libvirt import early_open

    assert early_open.begin([libvirt_uri], aloop) == [libvirt_uri]
    early_conn = early_open._started[libvirt_uri].result(timeout=30)   # the loop is idle
    recorder = Recorder()
    host = LibvirtHost(libvirt_uri, recorder)
    aloop.run_until_complete(host.connect())
    try:
        handle = host.sampling_handle()
        assert handle is not None and handle[0] is early_conn
        xml_file = tmp_path / "domain.xml"
        xml_file.write_text(domain_xml(domain_name))

        async def defined() -> None:
            await virsh(libvirt_uri, "define", str(xml_file))
            await wait_until(lambda: any(v.name == domain_name for v in host.vms()),
                             EVENT_DEADLINE_S)
        aloop.run_until_complete(defined())
        assert "Defined (added)" in recorder.messages(domain_name)
    finally:
        aloop.run_until_complete(host.disconnect())
