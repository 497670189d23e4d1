"""The General tab for a Xen host and a PV guest, fed hand-made records.

No Xen host is reachable in a widget test; the records have the shapes the connector
reads from libvirt's Xen driver (see tests/unit/test_xen_app.py, and the real nested host
in tests/integration/test_xen_host.py).
"""
from __future__ import annotations

from connectors.libvirt.model import ConnState
from tests.unit.test_xen_app import XEN, xen_vm
from tests.widgets.test_tabs import Kind, Node
from widgets.tabs.general import GeneralTab

DOM0 = xen_vm("Domain-0", dom0=True)
GUEST = xen_vm("pv-01")


class XenHost:
    uri = XEN.uri
    state = ConnState.CONNECTED
    reason = ""
    info = XEN

    def vms(self):
        return [DOM0, GUEST]


class Manager:
    def host(self, conn_id):
        return XenHost()

    def state(self, conn_id):
        host = self.host(conn_id)
        return host.state, host.reason


class Inventory:
    """What InventoryModel answers for this host: Dom0 apart, one VM row."""

    def control_domain(self, conn_id):
        return DOM0

    def host_node(self, conn_id):
        return Node(Kind.HOST, conn_id, conn_id, XEN)

    def vms(self, conn_id):
        return [GUEST]


def test_a_xen_host_shows_its_control_domain_apart_from_its_vms(qtbot):
    tab = GeneralTab(inventory=Inventory(), manager=Manager())
    qtbot.addWidget(tab)
    tab.set_selection([Node(Kind.HOST, "x1", "x1", XEN)])
    sections = dict(tab.sections())
    assert dict(sections["General"])["Hypervisor"] == "Xen 4.17 (libxl)"
    dom0 = dict(sections["Control domain on xen1"])
    assert dom0["Name"] == "Domain-0"
    assert dom0["vCPUs"] == "1 of 2 maximum"
    assert dom0["Memory"] == "96 MiB of 128 MiB maximum"
    assert dict(sections["VMs"])["Total"] == "1", "Dom0 is not counted as a VM"


def test_a_pv_guest_says_how_it_is_virtualized(qtbot):
    tab = GeneralTab()
    qtbot.addWidget(tab)
    tab.set_selection([Node(Kind.VM, "x1", GUEST.key, GUEST)])
    assert tab.fields()["Virtualization"] == "Paravirtualized (Xen PV)"
