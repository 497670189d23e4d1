"""New VM end to end on the local libvirtd: the wizard creates a VM from each source and
each boots to the test guest's shell.

Sources: the test ISO uploaded from this computer (its Debian volume ID detected), a
network install from an HTTP tree on 127.0.0.1 (its kernel and initrd fetched and booted
once, then the VM defined to boot from disk), PXE from a libvirt network whose dnsmasq
serves iPXE its script, kernel and initrd by TFTP, the hybrid ISO imported as a disk
image, and the same image as a cloud image with a cloud-init seed (the guest prints the
seed's instance-id and user). The five VMs are created first and boot side by side
(module fixture): one wait for all, not five in a row. Their serial consoles are read
through libvirt (virsh console's way): New VM gives a VM a pty serial port, no log file.
"""
from __future__ import annotations

import uuid

import pytest

from app.inventory import NodeKind
from connectors.libvirt import domxml
from connectors.libvirt.create_ops import Source
from connectors.libvirt.model import ConnState
from tests.conftest import wait_until
from tests.integration.app_stack import AppStack
from tests.integration.conftest import POOL_NAME, PREFIX, _test_pool
from tests.integration.new_vm_driver import (InstallTree, PxeNetwork, WizardDriver, accel,
                                             build_test_iso)
from tests.integration.serial_console import SerialConsole

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1200)]

SHELL = ("echo HVC-$((6*7))", "HVC-42")
BOOT_S = 400


@pytest.fixture(scope="module")
def conn(libvirt_uri, test_guest_files):
    import libvirt
    connection = libvirt.open(libvirt_uri)
    _test_pool(connection)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def stack(qapp, aloop, libvirt_uri, conn):
    stack = AppStack()
    stack.conn_id = aloop.run_until_complete(stack.open(libvirt_uri))
    aloop.run_until_complete(wait_until(
        lambda: stack.host_state(stack.conn_id) is ConnState.CONNECTED, 60))
    yield stack
    aloop.run_until_complete(stack.close())


def _remove(conn, names: list[str], volumes: list[str]) -> None:
    import libvirt
    for name in names:
        try:
            dom = conn.lookupByName(name)
        except libvirt.libvirtError:
            continue
        try:
            if dom.isActive():
                dom.destroy()
        except libvirt.libvirtError:
            pass
        try:
            dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
        except libvirt.libvirtError:
            pass
    for path in volumes:
        try:
            conn.storageVolLookupByPath(path).delete(0)
        except libvirt.libvirtError:
            pass


@pytest.fixture(scope="module")
def made(stack, aloop, conn, tmp_path_factory):
    """Five VMs created through the wizard, started, their serial consoles attached at
    once (the cloud-init line is printed early in the boot)."""
    test_iso = build_test_iso()
    tree = InstallTree(tmp_path_factory.mktemp("tree"), test_iso)
    pxe = PxeNetwork(conn, test_iso, PREFIX)
    mode = accel()
    tag = uuid.uuid4().hex[:6]
    names = {kind: f"{PREFIX}new-{kind}-{tag}" for kind in
             ("iso", "url", "pxe", "import", "cloud")}
    volumes: list[str] = []
    consoles: dict[str, SerialConsole] = {}
    keys: dict[str, str] = {}
    drivers: list[WizardDriver] = []

    def make(kind: str, fill, **options) -> None:
        driver = WizardDriver(None, aloop, stack, stack.conn_id)
        drivers.append(driver)
        fill(driver)
        driver.through_to_summary(name=names[kind], accel=mode, disk_pool=POOL_NAME,
                                  **options)
        try:
            keys[kind] = driver.create()
        finally:
            volumes.extend(driver.made())
        consoles[kind] = SerialConsole(conn, conn.lookupByUUIDString(keys[kind]))

    def iso(d):
        d.image_here("iso", test_iso.iso, POOL_NAME)
        assert d.wizard.plan.os is not None and d.wizard.plan.os.short_id == "debian11"

    def url(d):
        d.source(Source.URL)
        d.url(tree.url, POOL_NAME)
        assert d.wizard.plan.os.short_id == "debian11", d.problem

    def pxe_boot(d):
        d.source(Source.PXE)

    def import_disk(d):
        d.source(Source.IMPORT)
        page = d.wizard.source_page
        page.image_format.setCurrentIndex(page.image_format.findData("raw"))
        d.image_here("image", test_iso.iso, POOL_NAME)

    def cloud(d):
        d.source(Source.CLOUD)
        page = d.wizard.source_page
        page.cloud_user.setText("alice")
        page.cloud_key.setPlainText("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHVD alice@test")
        page.cloud_host.setText("cloudy")
        d.image_here("cloud", test_iso.iso, POOL_NAME)

    try:
        make("iso", iso, console=True)
        make("url", url)
        make("pxe", pxe_boot, network=("network", pxe.name))
        make("import", import_disk)
        make("cloud", cloud)
        yield {"names": names, "keys": keys, "consoles": consoles, "pxe": pxe,
               "tree": tree, "iso": test_iso, "volumes": volumes}
    finally:
        for console in consoles.values():
            console.close()
        for driver in drivers:
            driver.close()
        _remove(conn, list(names.values()), volumes)
        pxe.close()
        tree.close()


def _shell(made, kind: str) -> str:
    return made["consoles"][kind].run(*SHELL, timeout=BOOT_S)


def test_an_iso_uploaded_from_here_boots_to_the_shell_in_console_and_serial(made, stack,
                                                                           aloop, conn):
    from app.console_openers import vm_opener
    from app.console_session import ConsoleSession

    text = _shell(made, "iso")
    assert "HVCONSOLE-GUEST-READY" in text
    key = made["keys"]["iso"]
    dom = domxml.parse(conn.lookupByUUIDString(key).XMLDesc(0))
    assert [d.device for d in dom.disks] == ["disk", "cdrom"]
    assert dom.disks[1].source_file.endswith(".iso")            # the upload, in the pool
    assert conn.storageVolLookupByPath(dom.disks[1].source_file).info()[1] == \
        made["iso"].iso.stat().st_size
    assert dom.metadata_entry("http://libosinfo.org/xmlns/libvirt/domain/1.0") is not None
    node = stack.inventory.node(stack.conn_id, key)
    assert node is not None and node.kind is NodeKind.VM
    session = ConsoleSession(vm_opener(stack.manager, stack.conn_id, key), title="new")

    def lit() -> int:
        if not (session.connected and session.client.frames > 0):
            return 0
        rgb = session.client.framebuffer.rgb()
        return int((rgb != rgb[0, 0]).any(axis=2).sum())

    async def look() -> int:
        session.keep_connected()
        try:
            await wait_until(lambda: lit() > 2000, 60, interval=0.5)
            return lit()
        finally:
            await session.stop()

    assert aloop.run_until_complete(look()) > 2000     # the shell's banner on its screen


def test_a_network_install_boots_its_kernel_once_then_the_vm_boots_from_disk(made, conn):
    text = _shell(made, "url")
    assert "HVCONSOLE-GUEST-READY" in text
    dom = conn.lookupByUUIDString(made["keys"]["url"])
    live = domxml.parse(dom.XMLDesc(0))
    assert live.os.kernel and live.on_reboot == "destroy"        # the installer's boot
    final = domxml.parse(dom.XMLDesc(1 << 1))                   # VIR_DOMAIN_XML_INACTIVE
    assert final.os.kernel is None and final.on_reboot == "restart"
    assert final.disks[0].boot_order == 1
    pool = conn.storagePoolLookupByName(POOL_NAME)
    pool.refresh(0)
    leftovers = [v for v in pool.listVolumes()
                 if v.startswith(made["names"]["url"] + "-k")
                 or v.startswith(made["names"]["url"] + "-i")]
    assert leftovers == [], "the fetched kernel and initrd are deleted once loaded"


def test_pxe_boots_from_the_networks_tftp_server(made, conn):
    text = _shell(made, "pxe")
    assert "HVCONSOLE-GUEST-READY" in text
    dom = domxml.parse(conn.lookupByUUIDString(made["keys"]["pxe"]).XMLDesc(0))
    assert dom.interfaces[0].source_network == made["pxe"].name
    assert dom.interfaces[0].boot_order == 2 and dom.disks[0].boot_order == 1


def test_an_imported_disk_image_boots(made, conn):
    text = _shell(made, "import")
    assert "HVCONSOLE-GUEST-READY" in text
    dom = domxml.parse(conn.lookupByUUIDString(made["keys"]["import"]).XMLDesc(0))
    assert [d.device for d in dom.disks] == ["disk"] and dom.disks[0].driver_type == "raw"


def test_a_cloud_image_gets_its_cloud_init_seed(made, conn):
    console = made["consoles"]["cloud"]
    text = console.wait_for("HVCONSOLE-CIDATA", BOOT_S)
    line = next(row for row in text.splitlines() if "HVCONSOLE-CIDATA" in row)
    assert "user=alice" in line and "instance-id=hvconsole-" in line
    dom = domxml.parse(conn.lookupByUUIDString(made["keys"]["cloud"]).XMLDesc(0))
    disk, seed = dom.disks
    assert disk.driver_type == "qcow2" and seed.device == "cdrom"
    backing = conn.storageVolLookupByPath(disk.source_file).XMLDesc(0)
    assert "<backingStore>" in backing and ".iso" in backing     # linked to the image
