"""New VM on a host reached over SSH (qemu+ssh:// to an sshd on 127.0.0.1 in front of
the local libvirtd): the ISO on this computer goes up through the libvirt connection —
no shell and no file share on the host — and the VM boots from it. Its serial console
is read through the same SSH connection."""
from __future__ import annotations

import uuid

import pytest

from connectors.libvirt import domxml
from connectors.libvirt.model import ConnState
from tests.conftest import wait_until
from tests.integration.app_stack import AppStack
from tests.integration.conftest import POOL_NAME, PREFIX, _test_pool
from tests.integration.new_vm_driver import WizardDriver, accel, build_test_iso
from tests.integration.serial_console import SerialConsole

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]


def test_an_iso_from_here_goes_up_over_ssh_and_the_vm_boots(
        sshd, ssh_uri, trusted, test_guest_files, qtbot, aloop, qapp):
    import libvirt
    test_iso = build_test_iso()
    conn = libvirt.open(ssh_uri)
    _test_pool(conn)
    stack = AppStack()
    conn_id = aloop.run_until_complete(stack.open(ssh_uri))
    aloop.run_until_complete(wait_until(
        lambda: stack.host_state(conn_id) is ConnState.CONNECTED, 60))
    name = f"{PREFIX}new-ssh-{uuid.uuid4().hex[:6]}"
    driver = WizardDriver(qtbot, aloop, stack, conn_id)
    dom = console = None
    try:
        assert driver.session.host.uri.startswith("qemu+ssh://")
        driver.image_here("iso", test_iso.iso, POOL_NAME)
        assert driver.wizard.plan.os.short_id == "debian11"
        driver.through_to_summary(name=name, accel=accel(), disk_pool=POOL_NAME)
        key = driver.create()
        dom = conn.lookupByUUIDString(key)
        console = SerialConsole(conn, dom)
        cdrom = domxml.parse(dom.XMLDesc(0)).disks[1]
        uploaded = conn.storageVolLookupByPath(cdrom.source_file)
        assert uploaded.info()[1] == test_iso.iso.stat().st_size
        text = console.run("echo HVC-$((6*7))", "HVC-42", timeout=400)
        assert "HVCONSOLE-GUEST-READY" in text
    finally:
        if console is not None:
            console.close()
        if dom is not None:
            if dom.isActive():
                dom.destroy()
            dom.undefine()
        for path in driver.made():
            try:
                conn.storageVolLookupByPath(path).delete(0)
            except libvirt.libvirtError:
                pass
        aloop.run_until_complete(stack.close())
        conn.close()
