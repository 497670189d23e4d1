"""LibvirtHost against libvirt's real test driver (in-process, no libvirtd needed).

Two instances are used: the demo lab (test:///<abs>/resources/demo/lab.xml; every
connection to a file URI gets its own private copy) and test:///default, whose state is
shared by every connection in this process, so a second, independent connection can
change things behind the host's back and the host must hear about it through events.
Tests that change test:///default put it back as they found it.
"""
from __future__ import annotations

import asyncio
import threading
import uuid
from pathlib import Path

import libvirt
import pytest

from connectors.libvirt.actions import ACTIONS
from connectors.libvirt.host import LibvirtHost
from connectors.libvirt.opening import Opener, runs_in_process
from connectors.libvirt.model import (ActionError, ConnectError, ConnectionSettings, ConnState,
                                      HostStateChanged, HypervisorEvent, InventoryChanged,
                                      ObjectKind, VMAction, VMInfo, VMState)
from tests.conftest import wait_until

LAB = Path(__file__).resolve().parents[2] / "resources" / "demo" / "lab.xml"
LAB_URI = f"test://{LAB}"
DEFAULT_URI = "test:///default"


class Recorder:
    """The listener: keeps every event and the thread it arrived on."""

    def __init__(self):
        self.events: list = []
        self.threads: set[int] = set()

    def __call__(self, event):
        self.events.append(event)
        self.threads.add(threading.get_ident())

    def of(self, kind):
        return [e for e in self.events if isinstance(e, kind)]

    def messages(self, name):
        return [e.message for e in self.of(HypervisorEvent) if e.name == name]

    def changed(self, name):
        """Every Change for an object of this name (by key lookup, removals included)."""
        out = []
        for batch in self.of(InventoryChanged):
            out.extend(c for c in batch.changes if c.obj is not None and c.obj.name == name)
        return out


@pytest.fixture
def run(aloop):
    return aloop.run_until_complete


@pytest.fixture
def lab(run):
    recorder = Recorder()
    host = LibvirtHost(LAB_URI, recorder, is_demo=True)
    run(host.connect())
    yield host, recorder
    run(host.disconnect())


@pytest.fixture
def default_host(run):
    recorder = Recorder()
    host = LibvirtHost(DEFAULT_URI, recorder)
    run(host.connect())
    yield host, recorder
    run(host.disconnect())


@pytest.fixture
def other_conn(aloop):
    """A second, independent connection to test:///default (blocking calls: use ``off``)."""
    conn = libvirt.open(DEFAULT_URI)
    yield conn
    conn.close()


async def off(fn, *args):
    """A blocking libvirt call of the 'other' connection, kept off the loop thread."""
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


def by_name(host, name) -> VMInfo:
    matches = [v for v in host.vms() if v.name == name]
    assert matches, f"{name} not in {[v.name for v in host.vms()]}"
    return matches[0]


def test_connect_announces_connecting_then_everything_then_connected(lab):
    host, rec = lab
    kinds = [type(e) for e in rec.events[:3]]
    assert kinds == [HostStateChanged, InventoryChanged, HostStateChanged]
    assert rec.events[0].state is ConnState.CONNECTING
    snapshot = rec.events[1]
    assert snapshot.full
    connected = rec.events[2]
    assert connected.state is ConnState.CONNECTED and host.state is ConnState.CONNECTED
    assert connected.host is host.info
    assert rec.threads == {threading.get_ident()}

    by_kind = {}
    for change in snapshot.changes:
        by_kind.setdefault(change.kind, []).append(change.obj.name)
    assert len(by_kind[ObjectKind.VM]) == 14
    assert sorted(by_kind[ObjectKind.NETWORK]) == ["dmz", "lab-lan", "storage-net"]
    assert sorted(by_kind[ObjectKind.POOL]) == ["archive", "fast-ssd", "vmstore"]
    assert [v.name for v in host.vms()] == sorted(by_kind[ObjectKind.VM], key=str.lower)
    assert len(host.networks()) == 3 and len(host.pools()) == 3


def test_the_snapshot_reads_states_devices_and_host_facts(lab):
    host, _ = lab
    web = by_name(host, "web-01")
    assert web.state is VMState.RUNNING and web.dom_id is not None
    assert web.title == "Public web front end (nginx)"
    assert web.virtualization == "Test driver" and web.domain_type == "test"
    assert web.os_type == "hvm" and web.arch == "x86_64"
    assert web.memory_kib == web.max_memory_kib == 2048 * 1024
    assert web.vcpus == 2 and web.persistent
    assert web.disks[0].source == "/var/lib/libvirt/images/web-01.qcow2"
    assert web.disks[0].driver_type == "qcow2" and web.disks[0].bus == "virtio"
    assert web.nics[0].source == "lab-lan" and web.nics[0].model == "virtio"
    assert web.nics[0].mac == "52:54:00:4c:ab:10"
    graphics = web.graphics[0]
    assert (graphics.type, graphics.port, graphics.listen) == ("vnc", 5900, "127.0.0.1")
    assert by_name(host, "win2022-ad").graphics[0].type == "spice"

    assert by_name(host, "db-replica").state is VMState.PAUSED
    assert by_name(host, "backup-srv").state is VMState.SHUTOFF
    assert by_name(host, "backup-srv").dom_id is None
    suspended = by_name(host, "win11-desktop")
    assert suspended.state is VMState.SUSPENDED and suspended.managed_save
    assert not by_name(host, "ci-runner-3").persistent

    lan = next(n for n in host.networks() if n.name == "lab-lan")
    assert lan.active and lan.persistent
    vmstore = next(p for p in host.pools() if p.name == "vmstore")
    assert vmstore.active and vmstore.pool_type == "dir" and vmstore.capacity > 0

    info = host.info
    assert info.is_demo and info.hypervisor_label == "Test driver" and info.driver == "TEST"
    assert info.cpus == 16 and info.sockets == 1 and info.cores == 8 and info.threads == 2
    assert info.mhz == 3200 and info.memory_kib == 67108864
    assert info.libvirt_version.count(".") == 2


def test_actions_change_the_state_at_once_and_are_reported(lab, run):
    host, rec = lab
    key = by_name(host, "web-01").key

    run(host.vm_action(key, VMAction.FORCE_OFF))
    assert host.vm(key).state is VMState.SHUTOFF  # refreshed right after the call
    assert host.vm(key).state_reason == "forced off"
    run(wait_until(lambda: "Stopped (forced off)" in rec.messages("web-01")))

    run(host.vm_action(key, VMAction.START))
    assert host.vm(key).state is VMState.RUNNING
    run(host.vm_action(key, VMAction.PAUSE))
    assert host.vm(key).state is VMState.PAUSED
    run(host.vm_action(key, VMAction.RESUME))
    assert host.vm(key).state is VMState.RUNNING
    run(host.vm_action(key, VMAction.MANAGED_SAVE))
    assert host.vm(key).state is VMState.SUSPENDED and host.vm(key).managed_save
    run(host.vm_action(key, VMAction.START))     # restores the saved image
    assert host.vm(key).state is VMState.RUNNING and not host.vm(key).managed_save
    run(host.vm_action(key, VMAction.REBOOT))
    run(host.vm_action(key, VMAction.SHUTDOWN))
    run(wait_until(lambda: host.vm(key).state is VMState.SHUTOFF))
    run(wait_until(lambda: "Started (booted)" in rec.messages("web-01")
                   and "Paused (by the user)" in rec.messages("web-01")))
    assert rec.threads == {threading.get_ident()}


def test_resume_restores_a_vm_suspended_to_disk(lab, run):
    host, _ = lab
    key = by_name(host, "win11-desktop").key
    run(host.vm_action(key, VMAction.RESUME))
    assert host.vm(key).state is VMState.RUNNING


def test_an_impossible_action_raises_action_error_in_plain_words(lab, run):
    host, _ = lab
    key = by_name(host, "backup-srv").key
    with pytest.raises(ActionError) as raised:
        run(host.vm_action(key, VMAction.PAUSE))
    message = str(raised.value)
    assert message.startswith("Could not pause backup-srv: ")
    assert "not running" in message
    assert "virDomain" not in message


def test_every_lifecycle_action_has_its_call_and_its_words():
    """The actions are a table: an action added to VMAction without an entry would only
    fail when a user clicked it."""
    assert set(ACTIONS) == set(VMAction)
    assert ACTIONS[VMAction.FORCE_OFF].verb == "force off"
    assert ACTIONS[VMAction.MANAGED_SAVE].verb == "suspend"


def test_domain_xml_is_the_definition(lab, run):
    host, _ = lab
    xml = run(host.domain_xml(by_name(host, "web-01").key))
    assert "<name>web-01</name>" in xml
    with pytest.raises(ActionError):
        run(host.domain_xml(str(uuid.uuid4())))


def test_changes_made_on_another_connection_arrive_as_events(default_host, other_conn, run):
    host, rec = default_host
    key = by_name(host, "test").key
    dom = other_conn.lookupByName("test")

    async def scenario():
        if await off(dom.isActive):
            await off(dom.destroy)
            await wait_until(lambda: host.vm(key).state is VMState.SHUTOFF)
        await off(dom.create)
        await wait_until(lambda: host.vm(key).state is VMState.RUNNING)
        await off(dom.suspend)
        await wait_until(lambda: host.vm(key).state is VMState.PAUSED)
        await off(dom.resume)
        await wait_until(lambda: host.vm(key).state is VMState.RUNNING)

    run(scenario())
    assert "Started (booted)" in rec.messages("test")
    assert "Paused (by the user)" in rec.messages("test")
    assert "Resumed (unpaused)" in rec.messages("test")
    assert rec.threads == {threading.get_ident()}


def test_define_and_undefine_elsewhere_add_and_remove_the_vm(default_host, other_conn, run):
    host, rec = default_host
    name = f"hvc-defined-{uuid.uuid4().hex[:6]}"
    xml = (f"<domain type='test'><name>{name}</name><memory>65536</memory>"
           "<os><type>hvm</type></os></domain>")

    async def scenario():
        dom = await off(other_conn.defineXML, xml)
        key = dom.UUIDString()
        await wait_until(lambda: host.vm(key) is not None)
        assert host.vm(key).state is VMState.SHUTOFF
        await off(dom.undefine)
        await wait_until(lambda: host.vm(key) is None)
        return key

    key = run(scenario())
    removals = [c for batch in rec.of(InventoryChanged) for c in batch.changes
                if c.key == key and c.obj is None]
    assert removals and removals[0].kind is ObjectKind.VM
    assert rec.messages(name)[:1] == ["Defined (added)"]
    assert "Removed (undefined)" in rec.messages(name)


def test_network_and_pool_events_update_their_records(default_host, other_conn, run):
    host, rec = default_host
    net = other_conn.networkLookupByName("default")
    key = net.UUIDString()

    async def scenario():
        await off(net.destroy)
        await wait_until(lambda: not next(n for n in host.networks() if n.key == key).active)
        await off(net.create)
        await wait_until(lambda: next(n for n in host.networks() if n.key == key).active)

    try:
        run(scenario())
    finally:
        if not net.isActive():
            net.create()
    assert "Network default stopped" in rec.messages("default")
    assert "Network default started" in rec.messages("default")


def test_a_storm_of_events_is_coalesced(default_host, other_conn, run):
    host, rec = default_host
    dom = other_conn.lookupByName("test")
    if not dom.isActive():
        dom.create()
    before_batches = len(rec.of(InventoryChanged))
    before_events = len(rec.of(HypervisorEvent))

    def storm():
        for _ in range(25):
            dom.suspend()
            dom.resume()

    async def scenario():
        await off(storm)
        await wait_until(lambda: len(rec.of(HypervisorEvent)) - before_events >= 50)

    run(scenario())
    batches = len(rec.of(InventoryChanged)) - before_batches
    assert batches >= 1
    assert batches <= 10, f"{batches} inventory batches for 50 events: not coalesced"
    assert host.vm(dom.UUIDString()).state is VMState.RUNNING


def test_delete_with_storage_removes_the_vm_and_its_pool_volumes(default_host, other_conn,
                                                                  run):
    host, rec = default_host
    name = f"hvc-delete-{uuid.uuid4().hex[:6]}"
    pool = other_conn.storagePoolLookupByName("default-pool")
    volume = pool.createXML(f"<volume><name>{name}.img</name>"
                            "<capacity unit='MiB'>8</capacity></volume>", 0)
    volume_path = volume.path()
    xml = f"""<domain type='test'><name>{name}</name><memory>65536</memory>
      <os><type>hvm</type></os><devices>
        <disk type='file' device='disk'><source file='{volume_path}'/>
          <target dev='vda' bus='virtio'/></disk>
        <disk type='file' device='disk'><source file='/srv/elsewhere/{name}-2.img'/>
          <target dev='vdb' bus='virtio'/></disk>
        <disk type='file' device='cdrom'><source file='/srv/iso/install.iso'/>
          <target dev='hdc' bus='ide'/><readonly/></disk>
      </devices></domain>"""
    dom = other_conn.defineXML(xml)
    dom.create()
    key = dom.UUIDString()

    async def scenario():
        await wait_until(lambda: host.vm(key) is not None)
        return await host.delete_vm(key, delete_storage=True)

    warnings = run(scenario())
    assert host.vm(key) is None
    assert len(warnings) == 1 and f"/srv/elsewhere/{name}-2.img" in warnings[0]
    assert "not in a storage pool" in warnings[0]
    with pytest.raises(libvirt.libvirtError):
        other_conn.lookupByUUIDString(key)
    with pytest.raises(libvirt.libvirtError):
        other_conn.storageVolLookupByPath(volume_path)
    removals = [c for batch in rec.of(InventoryChanged) for c in batch.changes
                if c.key == key and c.obj is None]
    assert removals


def test_delete_without_storage_keeps_the_volume(default_host, other_conn, run):
    host, _ = default_host
    name = f"hvc-keep-{uuid.uuid4().hex[:6]}"
    pool = other_conn.storagePoolLookupByName("default-pool")
    volume = pool.createXML(f"<volume><name>{name}.img</name>"
                            "<capacity unit='MiB'>8</capacity></volume>", 0)
    try:
        dom = other_conn.defineXML(
            f"<domain type='test'><name>{name}</name><memory>65536</memory>"
            f"<os><type>hvm</type></os><devices><disk type='file' device='disk'>"
            f"<source file='{volume.path()}'/><target dev='vda'/></disk></devices></domain>")
        key = dom.UUIDString()
        run(wait_until(lambda: host.vm(key) is not None))
        assert run(host.delete_vm(key, delete_storage=False)) == []
        assert host.vm(key) is None
        assert other_conn.storageVolLookupByPath(volume.path()).name() == f"{name}.img"
    finally:
        volume.delete(0)


@pytest.mark.parametrize("uri, words", [
    ("qemu", "missing '://'"),
    ("kvm:///system", "Unknown driver"),
    ("test:///nonexistent/hvconsole/lab.xml", "Could not connect to localhost:"),
])
def test_a_bad_uri_fails_with_a_plain_connect_error(run, uri, words):
    rec = Recorder()
    host = LibvirtHost(uri, rec)
    with pytest.raises(ConnectError) as raised:
        run(host.connect())
    assert words in str(raised.value)
    assert "virConnect" not in str(raised.value)
    assert host.state is ConnState.DISCONNECTED
    assert rec.events[-1] == HostStateChanged(ConnState.DISCONNECTED, str(raised.value))
    assert host.vms() == []


def test_after_disconnect_nothing_arrives_and_actions_refuse(default_host, other_conn, run):
    host, rec = default_host
    key = by_name(host, "test").key
    run(host.disconnect())
    assert rec.events[-1] == HostStateChanged(ConnState.DISCONNECTED)
    assert host.vms() == []
    count = len(rec.events)
    dom = other_conn.lookupByName("test")

    async def scenario():
        await off(dom.suspend)
        await off(dom.resume)
        await asyncio.sleep(0.2)

    run(scenario())
    assert len(rec.events) == count, rec.events[count:]
    with pytest.raises(ActionError, match="Not connected"):
        run(host.vm_action(key, VMAction.PAUSE))
    # connecting again works and starts with a fresh full snapshot
    run(host.connect())
    assert host.state is ConnState.CONNECTED and host.vm(key) is not None
    assert rec.of(InventoryChanged)[-1].full


def test_the_listener_failing_does_not_break_the_host(run):
    calls = []

    def listener(event):
        calls.append(event)
        raise RuntimeError("a broken listener")

    host = LibvirtHost(LAB_URI, listener)
    run(host.connect())
    assert host.state is ConnState.CONNECTED and len(calls) == 3
    run(host.disconnect())


def test_the_credential_callback_waits_for_the_async_auth_on_the_loop(aloop, run):
    """libvirt calls the credential callback inside openAuth on a worker thread. No
    driver that runs here asks for credentials, so the test calls it as libvirt would:
    from a worker thread, with libvirt's [type, prompt, challenge, default, result]
    lists, and the async auth callback must run on the loop thread."""
    asked = []

    async def auth(uri, requests):
        asked.append((uri, requests, threading.get_ident()))
        await asyncio.sleep(0.01)
        return ["admin", "s3cret"]

    opener = Opener("qemu+ssh://admin@kvm1/system", auth, in_process=False)
    credentials = [[libvirt.VIR_CRED_AUTHNAME, "Username", "", "root", None],
                   [libvirt.VIR_CRED_PASSPHRASE, "Password", "", "", None]]

    async def scenario():
        ask = opener.credential_callback(aloop)
        return await asyncio.get_running_loop().run_in_executor(None, ask, credentials, None)

    assert run(scenario()) == 0
    assert [c[4] for c in credentials] == ["admin", "s3cret"]
    uri, requests, thread = asked[0]
    assert uri == "qemu+ssh://admin@kvm1/system" and thread == threading.get_ident()
    assert [r.type.value for r in requests] == ["authname", "passphrase"]
    assert requests[0].default == "root" and requests[1].type.secret


def test_cancelling_the_credentials_fails_the_callback(aloop, run):
    async def auth(uri, requests):
        return None

    opener = Opener("qemu+ssh://admin@kvm1/system", auth, in_process=False)
    no_auth = Opener("qemu+ssh://admin@kvm1/system", None, in_process=False)
    credentials = [[libvirt.VIR_CRED_PASSPHRASE, "Password", "", "", None]]

    async def scenario(h):
        ask = h.credential_callback(aloop)
        return await asyncio.get_running_loop().run_in_executor(None, ask, credentials, None)

    assert run(scenario(opener)) == -1 and opener.cancelled
    assert run(scenario(no_auth)) == -1
    assert credentials[0][4] is None


def test_a_host_that_never_answers_times_out_without_stalling_the_loop(run, tmp_path):
    """A socket that accepts and then says nothing: libvirt's open blocks in a worker
    until our call timeout gives up; the loop keeps ticking all the while."""
    import socket as socketlib

    path = str(tmp_path / "silent.sock")
    silent = socketlib.socket(socketlib.AF_UNIX, socketlib.SOCK_STREAM)
    silent.bind(path)
    silent.listen(4)
    accepted = []

    def accept_and_ignore():
        try:
            while True:
                accepted.append(silent.accept()[0])
        except OSError:
            pass

    threading.Thread(target=accept_and_ignore, daemon=True).start()
    rec = Recorder()
    host = LibvirtHost(f"qemu:///system?socket={path}", rec,
                       settings=ConnectionSettings(call_timeout_s=1.5))
    gaps = []

    async def ticker(stop):
        loop = asyncio.get_running_loop()
        last = loop.time()
        while not stop.is_set():
            await asyncio.sleep(0.02)
            now = loop.time()
            gaps.append(now - last)
            last = now

    async def scenario():
        stop = asyncio.Event()
        tick = asyncio.ensure_future(ticker(stop))
        try:
            with pytest.raises(ConnectError) as raised:
                await host.connect()
        finally:
            stop.set()
            await tick
        return raised.value

    try:
        error = run(scenario())
    finally:
        silent.close()
        for sock in accepted:
            sock.close()   # the abandoned worker's libvirt call now fails and ends
        if host._link is not None:
            host._link.executor.shutdown(wait=True)
    assert "did not answer within 1.5 s" in str(error)
    assert host.state is ConnState.DISCONNECTED and host.reason == str(error)
    assert accepted, "libvirt never reached the silent socket"
    assert max(gaps) < 1.0, f"the loop stalled for {max(gaps):.2f} s"


def test_cancelling_connect_leaves_a_disconnected_host(run, tmp_path):
    import socket as socketlib

    path = str(tmp_path / "silent.sock")
    silent = socketlib.socket(socketlib.AF_UNIX, socketlib.SOCK_STREAM)
    silent.bind(path)
    silent.listen(4)
    rec = Recorder()
    host = LibvirtHost(f"qemu:///system?socket={path}", rec)

    async def scenario():
        task = asyncio.ensure_future(host.connect())
        await wait_until(lambda: host.state is ConnState.CONNECTING)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    try:
        run(scenario())
    finally:
        silent.close()      # the worker's libvirt call fails and ends
        if host._link is not None:
            host._link.executor.shutdown(wait=True)
    assert host.state is ConnState.DISCONNECTED
    assert rec.events[-1] == HostStateChanged(ConnState.DISCONNECTED,
                                              "Connecting was cancelled.")


def test_in_process_hosts_open_no_more_at_once_than_there_are_cores(run, monkeypatch):
    """libvirt's test driver builds a host in this process when opened: with more opens
    at once than cores, every host finishes last. The opens are the real ones, counted."""
    import os
    import time
    lock = threading.Lock()
    state = {"running": 0, "peak": 0}
    real_open = libvirt.openAuth

    def counted_open(*args):
        with lock:
            state["running"] += 1
            state["peak"] = max(state["peak"], state["running"])
        try:
            time.sleep(0.05)      # long enough for every host's worker to be waiting here
            return real_open(*args)
        finally:
            with lock:
                state["running"] -= 1
    monkeypatch.setattr(libvirt, "openAuth", counted_open)
    cores = max(1, os.cpu_count() or 1)
    hosts = [LibvirtHost(LAB_URI, Recorder(), is_demo=True) for _ in range(cores + 4)]

    async def scenario():
        await asyncio.gather(*(host.connect() for host in hosts))
        assert all(host.state is ConnState.CONNECTED for host in hosts)
        await asyncio.gather(*(host.disconnect() for host in hosts))
    run(scenario())
    assert 1 <= state["peak"] <= cores


def test_only_a_test_uri_without_transport_or_host_runs_in_process():
    in_process = runs_in_process
    assert in_process(LAB_URI) and in_process(DEFAULT_URI)
    assert not in_process("test+unix:///default")       # served by a libvirtd
    assert not in_process("test+ssh://admin@lab.example/default")
    assert not in_process("qemu:///system")
