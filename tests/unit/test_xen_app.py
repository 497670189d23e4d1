"""How HVConsole presents a Xen host, checked on hand-made Xen records.

No Xen host is reachable in a unit test, so the records are built by hand in the shapes
connectors/libvirt/readers.py produces from libvirt's Xen driver (domain type "xen", os
type "linux" for PV, Domain-0 with id 0 as the control domain). The same behaviour is
checked end to end against a real nested Xen host in tests/integration/test_xen_host.py.
The commands run on the real CommandSet over the demo lab's connection, because a command
only enables when the host of the selected VM is connected.
"""
from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import Qt

from app.inventory import InventoryModel
from connectors.libvirt.model import (ConnState, HostInfo, HostStateChanged, VMAction,
                                      VMInfo, VMState)
from connectors.libvirt.readers import virtualization_label
from connectors.libvirt.support import unsupported_reason
from tests.unit.test_app_inventory import full
from tests.unit.test_commands import Lab, Prompter, vm_node

XEN = HostInfo(uri="xen+ssh://root@xen1/system", hostname="xen1", driver="Xen",
               hypervisor_label="Xen 4.17 (libxl)", hypervisor_version="4.17.0",
               libvirt_version="9.0.0", arch="x86_64", cpu_model="kvm64", cpus=2,
               sockets=1, cores=2, threads=1, mhz=2000, memory_kib=3 << 20)


def xen_vm(name="pv-01", state=VMState.RUNNING, os_type="linux", dom0=False):
    return VMInfo(key="00000000-0000-0000-0000-000000000000" if dom0 else f"uuid-{name}",
                  name=name, state=state, state_reason="", domain_type="xen",
                  os_type=os_type, arch="x86_64",
                  virtualization=virtualization_label("xen", os_type), vcpus=1,
                  max_vcpus=2, memory_kib=96 << 10, max_memory_kib=128 << 10,
                  persistent=not dom0, autostart=False, managed_save=False,
                  dom_id=0 if dom0 else 3, is_control_domain=dom0)


def test_the_three_xen_modes_and_kvm_read_side_by_side():
    assert virtualization_label("xen", "linux") == "Paravirtualized (Xen PV)"
    assert virtualization_label("xen", "xen") == "Paravirtualized (Xen PV)"
    assert virtualization_label("xen", "hvm") == "Hardware-assisted (Xen HVM)"
    assert "PVH" in virtualization_label("xen", "xenpvh")
    assert virtualization_label("kvm", "hvm") == "Hardware-assisted (KVM + QEMU)"


def test_only_reset_is_missing_from_libvirts_xen_driver():
    pv = xen_vm()
    assert "cannot reset" in unsupported_reason(pv, VMAction.RESET)
    for action in VMAction:
        if action is not VMAction.RESET:
            assert unsupported_reason(pv, action) == "", action
    kvm = replace(pv, domain_type="kvm", os_type="hvm")
    assert all(unsupported_reason(kvm, action) == "" for action in VMAction)
    assert unsupported_reason(pv, None) == ""


@pytest.fixture
def lab(qapp, aloop, tmp_path):
    lab = Lab(aloop, tmp_path, Prompter())
    yield lab
    aloop.run_until_complete(lab.manager.close_all())


def test_force_reboot_on_a_xen_guest_is_disabled_with_the_reason(lab):
    lab.commands.set_selection([vm_node(xen_vm(), lab.conn)])
    assert not lab.commands.force_reboot.action.isEnabled()
    assert "cannot reset a domain" in lab.commands.force_reboot.action.toolTip()
    # Everything else a running guest allows stays offered.
    for name in ("shutdown", "reboot", "force_shutdown", "pause", "suspend"):
        assert getattr(lab.commands, name).action.isEnabled(), name
    verdict = lab.commands.force_reboot.evaluate(
        [vm_node(xen_vm(state=VMState.SHUTOFF), lab.conn)])
    assert verdict.refused[0].reason.startswith("libvirt's Xen")


def test_no_action_at_all_is_offered_on_dom0(lab):
    for state in (VMState.RUNNING, VMState.PAUSED, VMState.SHUTOFF):
        node = vm_node(xen_vm("Domain-0", state=state, dom0=True), lab.conn)
        lab.commands.set_selection([node])
        enabled = [c for c in lab.commands.vm_commands if c and c.action.isEnabled()]
        assert enabled == []
        assert "control domain" in lab.commands.force_shutdown.action.toolTip()


def test_dom0_is_the_hosts_control_domain_in_the_tree(qapp):
    model = InventoryModel()
    model.add_host("x1", XEN.uri, "xen1")
    model.apply("x1", HostStateChanged(ConnState.CONNECTING))
    dom0, guest = xen_vm("Domain-0", dom0=True), xen_vm("pv-01")
    model.apply("x1", full(dom0, guest))
    model.apply("x1", HostStateChanged(ConnState.CONNECTED, host=XEN))
    model.flush()
    host = model.index(0, 0)
    rows = [model.index(r, 0, host).data() for r in range(model.rowCount(host))]
    assert "Domain-0" not in rows and "pv-01" in rows
    assert [v.name for v in model.vms("x1")] == ["pv-01"]
    assert model.control_domain("x1") == dom0
    tip = host.data(Qt.ItemDataRole.ToolTipRole)
    assert "Xen 4.17 (libxl)" in tip and "Control domain: 1 vCPUs, 96 MiB" in tip
    guest_index = next(model.index(r, 0, host) for r in range(model.rowCount(host))
                       if model.index(r, 0, host).data() == "pv-01")
    assert "Paravirtualized (Xen PV)" in guest_index.data(Qt.ItemDataRole.ToolTipRole)
