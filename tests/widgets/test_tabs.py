"""The General and Events tabs, fed hand-built records (the shapes the connector returns)."""
from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel

from app.inventory import InventoryModel, Node
from app.inventory import NodeKind as Kind

from connectors.libvirt.model import (ConnState, DiskInfo, GraphicsInfo, HostInfo,
                                      NetworkInfo, NicInfo, PoolInfo, VMInfo, VMState)
from widgets.tabs.events import EventsTab
from widgets.tabs.general import GeneralTab, human_kib


WEB = VMInfo(key="6695eb01-f6a4-8304-79aa-97f2502e193f", name="web-01",
             state=VMState.RUNNING, state_reason="booted", domain_type="kvm",
             os_type="hvm", arch="x86_64", virtualization="Hardware-assisted (KVM)",
             vcpus=2, max_vcpus=4, memory_kib=2 * 1024 * 1024,
             max_memory_kib=4 * 1024 * 1024, persistent=True, autostart=True,
             managed_save=False, dom_id=3, title="Front web server",
             disks=(DiskInfo("vda", "disk", "virtio", "/var/lib/libvirt/images/web.qcow2",
                             "qcow2"),
                    DiskInfo("sda", "cdrom", "sata", None, readonly=True)),
             nics=(NicInfo("52:54:00:aa:bb:cc", "network", "default", "virtio"),),
             graphics=(GraphicsInfo("vnc", "127.0.0.1", 5900),))

HOST = HostInfo(uri="qemu:///system", hostname="kvm1.example.org", driver="QEMU",
                hypervisor_label="KVM (QEMU 7.2.0)", hypervisor_version="7.2.0",
                libvirt_version="9.0.0", arch="x86_64", cpu_model="EPYC", cpus=16,
                sockets=1, cores=8, threads=2, mhz=2900, memory_kib=64 * 1024 * 1024,
                free_memory_kib=10 * 1024 * 1024)


class Host:
    """What GeneralTab reads from a LibvirtHost: uri, state, reason, info, vms()."""

    uri = "qemu:///system"
    state = ConnState.RECONNECTING
    reason = "keepalive timed out"
    info = HOST

    def vms(self):
        return [WEB, WEB.__class__(**{**{f: getattr(WEB, f) for f in WEB.__slots__},
                                      "key": "k2", "name": "db", "state": VMState.SHUTOFF})]


class Manager(QObject):
    """What GeneralTab asks of the connection manager (app.contracts.Connections); the
    hosts are hand-built records, as no libvirt host is needed for these pages."""

    stateChanged = Signal(str)

    def __init__(self, host=None):
        super().__init__()
        self._host = host

    def host(self, conn_id):
        return self._host

    def server(self, conn_id):
        return self._host

    def pool(self, conn_id):
        return None

    def state(self, conn_id):
        return self._host.state, self._host.reason


def general_tab(manager=None, inventory=None) -> GeneralTab:
    return GeneralTab(inventory or InventoryModel(), manager or Manager())


def test_general_tab_shows_a_vm(qtbot):
    tab = general_tab()
    qtbot.addWidget(tab)
    tab.set_selection([Node(Kind.VM, "c1", WEB.key, WEB)])
    f = tab.fields()
    assert f["Name"] == "web-01" and f["UUID"] == WEB.key
    assert f["State"] == "Running (booted)"
    assert f["Title"] == "Front web server"
    assert f["vCPUs"] == "2 of 4 maximum"
    assert f["Memory"] == "2 GiB of 4 GiB maximum"
    assert f["Start automatically"] == "Yes"
    assert f["vda (disk)"] == "virtio, /var/lib/libvirt/images/web.qcow2, qcow2"
    assert f["52:54:00:aa:bb:cc"] == "virtio, network default"
    assert f["Display 1"] == "VNC (127.0.0.1:5900)"
    assert [h for h, _ in tab.sections()] == ["General", "Resources", "Disks",
                                               "Network interfaces", "Console"]


def test_general_tab_shows_a_host_with_its_vm_counts(qtbot):
    tab = general_tab(Manager(Host()))
    qtbot.addWidget(tab)
    tab.set_selection([Node(Kind.HOST, "c1", "c1", HOST)])
    f = tab.fields()
    assert f["Hostname"] == "kvm1.example.org"
    assert f["Connection"] == "Reconnecting (keepalive timed out)"
    assert f["Hypervisor"] == "KVM (QEMU 7.2.0)"
    assert f["Topology"] == "1 sockets × 8 cores × 2 threads"
    assert f["Total"] == "2 VMs (last known; not connected)"    # it is reconnecting
    assert f["Running"] == "1" and f["Shut off"] == "1"
    # Used and free memory come from the live statistics (the Performance tab's source,
    # none here); the free memory read once at connect time is not shown as current.
    memory = dict(next(rows for header, rows in tab.sections() if header == "Memory"))
    assert memory == {"Total": "64 GiB",
                      "": "Used and free memory appear with the first statistics sample."}


def test_general_tab_networks_pools_and_multi_selection(qtbot):
    tab = general_tab()
    qtbot.addWidget(tab)
    tab.set_selection([Node(Kind.NETWORK, "c1", "n", NetworkInfo(
        "n", "default", True, True, False, bridge="virbr0", forward="nat"))])
    assert tab.fields()["Forwarding"] == "nat" and tab.fields()["Bridge"] == "virbr0"
    tab.set_selection([Node(Kind.POOL, "c1", "p", PoolInfo(
        "p", "images", "running", "dir", True, True, capacity=100 * 2**30,
        allocation=25 * 2**30, available=75 * 2**30, path="/var/lib/libvirt/images"))])
    assert tab.fields()["Available"] == "75 GiB"
    paused = WEB.__class__(**{**{f: getattr(WEB, f) for f in WEB.__slots__},
                              "state": VMState.PAUSED})
    tab.set_selection([Node(Kind.VM, "c1", "a", WEB), Node(Kind.VM, "c1", "b", paused)])
    assert tab.sections()[0][0] == "2 VMs selected"
    assert tab.fields()["Running"] == "1" and tab.fields()["Paused"] == "1"


def test_human_units():
    assert human_kib(512 * 1024) == "512 MiB"
    assert human_kib(1536 * 1024) == "1.5 GiB"


def _log():
    """Stands in for app.events_log.EventsLog's columns (Time, Severity, Source, Message)."""
    model = QStandardItemModel(0, 4)
    model.setHorizontalHeaderLabels(["Time", "Severity", "Source", "Message"])
    for sev, src, msg in [("error", "kvm1 » web-01", "Starting VM web-01: failed: no disk"),
                          ("warning", "kvm1", "Connection lost"),
                          ("info", "kvm1 » db", "Starting VM db: done")]:
        model.appendRow([QStandardItem(x) for x in ("02:00", sev, src, msg)])
    return model


def test_events_tab_filters_by_words_and_severity(qtbot):
    log = _log()
    tab = EventsTab(log)
    qtbot.addWidget(tab)
    assert tab.proxy.rowCount() == 3
    tab.filter_edit.setText("starting VM")
    assert tab.proxy.rowCount() == 2
    tab.severity.setCurrentIndex(2)  # Errors
    assert tab.proxy.rowCount() == 1
    assert "no disk" in tab.proxy.index(0, 3).data()
    assert "no disk" in tab.proxy.index(0, 3).data(Qt.ToolTipRole)
    tab.filter_edit.clear()
    tab.severity.setCurrentIndex(1)  # Warnings and errors
    assert tab.proxy.rowCount() == 2
    tab.table.selectRow(1)
    assert tab.copy_selected().endswith("Connection lost")
