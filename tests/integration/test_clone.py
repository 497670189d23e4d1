"""VM → Clone… against libvirtd: the clone of a shut-off test guest boots, with its own
UUID, MAC address, disk and serial log; a clone cancelled while a disk is being copied
leaves no volume behind; a linked clone's disk is an overlay of the original's."""
from __future__ import annotations

import os
import threading
import time

import pytest
from PySide6.QtWidgets import QApplication

from app.new_vm.clone import CloneSession
from connectors.libvirt import domxml
from connectors.libvirt.clone_ops import CloneJob, CloneSpec, clone_domain
from connectors.libvirt.create_ops import CreateCancelled
from connectors.libvirt.model import ConnState, VMState
from connectors.libvirt.transfer import TransferJob, upload
from tests.conftest import wait_until
from tests.integration.app_stack import AppStack
from tests.integration.conftest import POOL_NAME, _test_pool
from tests.integration.guest import READY_MARKER, SERIAL_DIR
from widgets.dialogs.clone_vm import CloneDialog

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def _ready(log) -> bool:
    try:
        return READY_MARKER.encode() in log.read_bytes()
    except FileNotFoundError:
        return False


def _with_nic(conn, guest) -> str:
    """The guest's definition with a NIC (user-mode), so a MAC can differ."""
    dom = domxml.parse(guest.domain.XMLDesc(0))
    dom.add_device(domxml.new_interface(user=True, mac=domxml.random_mac(), model="e1000"))
    conn.defineXML(dom.to_xml())
    return dom.interfaces[0].mac or ""


@pytest.fixture
def stack(qapp, aloop, libvirt_uri):
    QApplication.instance().setQuitOnLastWindowClosed(False)
    stack = AppStack()
    stack.conn_id = aloop.run_until_complete(stack.open(libvirt_uri))
    aloop.run_until_complete(wait_until(
        lambda: stack.host_state(stack.conn_id) is ConnState.CONNECTED, 60))
    yield stack
    aloop.run_until_complete(stack.close())


@pytest.mark.slow
def test_a_full_clone_boots_with_its_own_uuid_mac_disk_and_serial_log(
        guest_factory, stack, aloop, qtbot, libvirt_uri):
    import libvirt
    guest = guest_factory("clonesrc", with_disk=True)
    # Opened after the guest's volume is made: a connection left idle while another call
    # blocks the test (a slow disk under load) is closed by libvirtd when its keepalive
    # goes unanswered, and the loop that answers it is not turning here.
    conn = libvirt.open(libvirt_uri)
    mac = _with_nic(conn, guest)
    aloop.run_until_complete(wait_until(lambda: stack.vm_node(guest.name) is not None, 30))
    node = stack.vm_node(guest.name)
    assert node.obj.state is VMState.SHUTOFF
    session = CloneSession(stack.manager.host(stack.conn_id), stack.tasks, "local", node.obj)
    dialog = CloneDialog(session)
    qtbot.addWidget(dialog)
    dialog.show()
    aloop.run_until_complete(dialog.load_task)
    assert dialog.name.text() == f"{guest.name}-clone"
    assert dialog.clone_button.isEnabled(), dialog.problem.text()
    done: list[str] = []
    dialog.cloned.connect(done.append)
    dialog.clone_button.click()
    aloop.run_until_complete(wait_until(lambda: done or dialog.problem.text(), 120))
    assert done, dialog.problem.text()
    clone = conn.lookupByUUIDString(done[0])
    try:
        assert clone.name() == f"{guest.name}-clone"
        assert clone.UUIDString() != guest.domain.UUIDString()
        xml = domxml.parse(clone.XMLDesc(0))
        assert xml.interfaces[0].mac and xml.interfaces[0].mac != mac
        original_disk = guest.volume.path()
        assert xml.disks[0].source_file != original_disk
        assert os.path.basename(xml.disks[0].source_file) == f"{guest.name}-clone.qcow2"
        log = SERIAL_DIR / f"{guest.name}-clone.serial.log"
        assert xml.devices_of(domxml.Serial)[0].source_path == str(log)
        clone.create()
        # Waited with the loop running: it answers libvirtd's keepalive for this process.
        aloop.run_until_complete(wait_until(lambda: _ready(log), 400, interval=0.5))
        assert not guest.domain.isActive()
    finally:
        try:
            if clone.isActive():
                clone.destroy()
        except libvirt.libvirtError:
            pass              # guest_factory removes it (it is named after the original)
        conn.close()


def _random_volume(conn, pool, name: str, size: int, tmp_path) -> str:
    local = tmp_path / name
    with open(local, "wb") as out:
        for _ in range(size >> 20):
            out.write(os.urandom(1 << 20))
    vol = pool.createXML(f"<volume><name>{name}</name><capacity>{size}</capacity>"
                         "<target><format type='raw'/></target></volume>", 0)
    upload(conn, vol, local, TransferJob())
    local.unlink()
    return vol.path()


def test_a_clone_cancelled_while_copying_leaves_no_volume(guest_factory, libvirt_uri,
                                                          tmp_path):
    import libvirt
    conn = libvirt.open(libvirt_uri)
    pool = _test_pool(conn)
    guest = guest_factory("clonecancel")
    dom = domxml.parse(guest.domain.XMLDesc(0))
    for target in ("vda", "vdb"):
        path = _random_volume(conn, pool, f"{guest.name}-{target}.img", 160 << 20, tmp_path)
        dom.add_device(domxml.new_disk(target, file=path, driver_type="raw"))
    conn.defineXML(dom.to_xml())
    job = CloneJob()
    spec = CloneSpec(guest.domain.UUIDString(), f"{guest.name}-clone")

    def cancel_during_the_first_copy() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if job.phase.startswith("Copying disk") and job.step == 0:
                job.cancel()
                return
            time.sleep(0.001)

    watcher = threading.Thread(target=cancel_during_the_first_copy, daemon=True)
    watcher.start()
    try:
        with pytest.raises(CreateCancelled, match="what it had copied was deleted"):
            clone_domain(conn, spec, job)
        watcher.join()
        assert job.made, "a disk had been copied before the cancel took effect"
        pool.refresh(0)
        assert [v for v in pool.listVolumes() if v.startswith(f"{guest.name}-clone")] == []
        with pytest.raises(libvirt.libvirtError):
            conn.lookupByName(f"{guest.name}-clone")
    finally:
        conn.close()


def test_a_linked_clone_reads_the_originals_disk(guest_factory, libvirt_uri):
    import libvirt
    conn = libvirt.open(libvirt_uri)
    guest = guest_factory("clonelink", with_disk=True)
    job = CloneJob()
    key = clone_domain(conn, CloneSpec(guest.domain.UUIDString(), f"{guest.name}-clone",
                                       linked=True), job)
    try:
        xml = domxml.parse(conn.lookupByUUIDString(key).XMLDesc(0))
        vol = conn.storageVolLookupByPath(xml.disks[0].source_file)
        assert f"<path>{guest.volume.path()}</path>" in vol.XMLDesc(0)   # the backing file
        assert vol.info()[2] < 1 << 20                            # an empty overlay
        assert POOL_NAME in vol.storagePoolLookupByVolume().name()
    finally:
        conn.close()
