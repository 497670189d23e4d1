"""The General tab: everything worth knowing about the selected object, at a glance.

It rebuilds its form from the records on every relevant inventory batch; a form of a few
dozen labels costs less than keeping per-field bindings in step with changing records.
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Protocol, Sequence

from PySide6.QtCore import Qt, SignalInstance
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QFormLayout, QFrame, QLabel, QScrollArea, QVBoxLayout,
                               QWidget)

from app.contracts import Connections, Inventory, LifecycleHost
from app.inventory import Node, NodeKind
from app.formatting import human_bytes
from app.leases import LeaseWatcher
from app.perf.monitor import HostMemory
from app.perf.usage import format_bytes
from connectors.libvirt.model import (ConnState, HostInfo, NetworkInfo, PoolInfo,
                                      ServerInfo, VMInfo, VMState)

MEMORY_NOTE = ("Live, from the server's memory statistics, as free(1) counts them "
               "(used: without cache and buffers). The Performance tab and the tree show "
               "the same figures.")


class HostMemorySource(Protocol):
    """The live host memory figures (app.perf.monitor.PerfMonitor): the one source of a
    server's memory for the General tab, the Performance tab and the tree."""

    ticked: SignalInstance

    def host_memory(self, conn_id: str) -> HostMemory | None: ...


def human_kib(kib: int | None) -> str:
    return human_bytes(None if kib is None else kib * 1024)


def yes_no(flag: bool) -> str:
    return "Yes" if flag else "No"


class GeneralTab(QWidget):
    def __init__(self, inventory: Inventory, manager: Connections,
                 parent: QWidget | None = None, *,
                 memory: HostMemorySource | None = None) -> None:
        super().__init__(parent)
        self.inventory = inventory
        self.manager = manager
        self.memory = memory
        self._values: list[QLabel] = []
        self._nodes: list = []
        self._leases: LeaseWatcher | None = None    # a VM's IP addresses
        self._watching: str | None = None
        self._sections: list[tuple[str, list[tuple[str, str]]]] = []
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self._scroll = QScrollArea()
        self._scroll.setWidgetResizable(True)
        self._scroll.setFrameShape(QFrame.Shape.NoFrame)
        outer.addWidget(self._scroll)
        inventory.batchApplied.connect(self._on_batch)
        manager.stateChanged.connect(self._state_changed)
        if memory is not None:
            memory.ticked.connect(self._ticked)
        self.refresh()

    def _state_changed(self, _conn_id: str) -> None:
        self.refresh()

    # ---- public ----
    def set_selection(self, nodes: Sequence) -> None:
        self._nodes = list(nodes)
        self._watch_leases()
        self.refresh()

    def set_leases(self, leases: LeaseWatcher) -> None:
        """Show each VM's DHCP addresses (its "IP address" row), read while shown."""
        self._leases = leases
        leases.changed.connect(self._leases_changed)

    def _watch_leases(self) -> None:
        wanted = None
        if (self._leases is not None and len(self._nodes) == 1
                and isinstance(self._nodes[0].obj, VMInfo) and self._nodes[0].obj.nics):
            wanted = self._nodes[0].conn_id
        if wanted == self._watching or self._leases is None:
            return
        if self._watching is not None:
            self._leases.unwatch(self._watching)
        self._watching = wanted
        if wanted is not None:
            self._leases.watch(wanted)

    def _leases_changed(self, conn_id: str) -> None:
        if conn_id == self._watching:
            self.refresh()

    def sections(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """What the form shows, as (header, [(label, value)]): handy for tests and copy."""
        return self._sections

    def fields(self) -> dict[str, str]:
        return {label: value for _, rows in self._sections for label, value in rows}

    def refresh(self) -> None:
        self._nodes = [self._current(n) for n in self._nodes]
        sections = self._describe(self._nodes)
        self._show(sections)

    def _show(self, sections) -> None:
        if sections == self._sections and self._scroll.widget() is not None:
            return      # every host's connect and tick lands here: build widgets only on news
        if _layout(sections) == _layout(self._sections) and self._scroll.widget() is not None:
            # Only values changed (a server's memory, every tick): new texts in place, so
            # the page neither flickers nor loses its scroll position or text selection.
            self._sections = sections
            rows_now = (r for _h, rows in sections for r in rows)
            for label, (_name, value) in zip(self._values, rows_now, strict=False):
                if label.text() != value:
                    label.setText(value)
            return
        self._sections = sections
        self._render()

    def _ticked(self, conn_id: str) -> None:
        """A tick of the server shown: its memory rows only (describing the whole server
        counts its VMs: 3 ms a tick for 500 VMs)."""
        if not (len(self._nodes) == 1 and self._nodes[0].kind is NodeKind.HOST
                and self._nodes[0].conn_id == conn_id):
            return
        info = self._nodes[0].obj
        if not isinstance(info, HostInfo):
            return
        memory = self._host_memory(conn_id, info)
        self._show([(header, memory if header == "Memory" else rows)
                    for header, rows in self._sections])

    # ---- where the records come from ----
    def _on_batch(self, keys=None) -> None:
        if not self._nodes:
            return
        if keys:
            conns = {c for c, _ in keys}
            if not any(n.conn_id in conns for n in self._nodes):
                return
        self.refresh()

    def _current(self, node: Node) -> Node:
        """The inventory's latest picture of a selected object (a vanished one keeps its
        last picture)."""
        return self.inventory.node(node.conn_id, node.key) or node

    def _host(self, conn_id: str) -> LifecycleHost | None:
        """The connection, a libvirt host or a XenAPI pool."""
        return self.manager.server(conn_id)

    # ---- what to say ----
    def _describe(self, nodes) -> list:
        if not nodes:
            return [("Nothing selected", [("", "Select a server or VM in the tree.")])]
        vms = [n.obj for n in nodes if isinstance(n.obj, VMInfo)]
        if len(nodes) > 1:
            return self._describe_many(nodes, vms)
        node = nodes[0]
        obj = node.obj
        if isinstance(obj, VMInfo):
            return self._describe_vm(obj, node.conn_id)
        if isinstance(obj, NetworkInfo):
            return self._describe_network(obj)
        if isinstance(obj, PoolInfo):
            return self._describe_pool(obj)
        if isinstance(obj, ServerInfo):
            return self._describe_server(node, obj)
        if node.kind is NodeKind.HOST or isinstance(obj, HostInfo):
            return self._describe_host(node)
        return [(node.key or "Group", [])]

    def _describe_many(self, nodes, vms) -> list:
        if len(vms) == len(nodes):
            head = f"{len(vms)} VMs selected"
        else:
            head = f"{len(nodes)} objects selected ({len(vms)} VMs)"
        counts = Counter(v.state for v in vms)
        rows = [(state.label, str(counts[state])) for state in VMState if counts[state]]
        if vms:
            rows.append(("vCPUs", str(sum(v.vcpus for v in vms))))
            rows.append(("Memory", human_kib(sum(v.memory_kib for v in vms))))
        return [(head, rows)]

    def _describe_vm(self, vm: VMInfo, conn_id: str = "") -> list:
        state = vm.state.label + (f" ({vm.state_reason})" if vm.state_reason else "")
        if vm.managed_save and vm.state is not VMState.SUSPENDED:
            state += ", saved state on disk"
        general = [("Name", vm.name)]
        if vm.title:
            general.append(("Title", vm.title))
        if vm.description:
            general.append(("Description", vm.description))
        general += [("UUID", vm.key), ("State", state)]
        if vm.dom_id is not None:
            general.append(("Domain ID", str(vm.dom_id)))
        if vm.is_control_domain:
            general.append(("Role", "Control domain (Dom0)"))
        if self._leases is not None and vm.nics:
            found = self._leases.addresses(conn_id, vm)
            general.append(("IP address", ", ".join(f"{lease.ip} ({lease.network})"
                                                    for lease in found)
                            or ("none leased yet" if vm.state.is_active else "—")))
        general += [("Operating system type", f"{vm.os_type} ({vm.arch})"),
                    ("Virtualization", vm.virtualization),
                    ("Start automatically", yes_no(vm.autostart)),
                    ("Persistent", yes_no(vm.persistent))]
        resources = [("vCPUs", f"{vm.vcpus} of {vm.max_vcpus} maximum"),
                     ("Memory", f"{human_kib(vm.memory_kib)} of "
                                f"{human_kib(vm.max_memory_kib)} maximum")]
        sections = [("General", general)]
        organized = ([("Tags", ", ".join(vm.tags))] if vm.tags else []) + (
            [("Folder", vm.folder)] if vm.folder else []) + list(vm.custom_fields)
        if organized:
            sections.append(("Organization", organized))
        sections.append(("Resources", resources))
        disks = [(f"{d.target} ({d.device})",
                  ", ".join(p for p in (d.bus, d.source or "empty", d.driver_type,
                                        "read-only" if d.readonly else "") if p))
                 for d in vm.disks]
        sections.append(("Disks", disks or [("", "No disks")]))
        nics = [(n.mac, ", ".join(p for p in (n.model or "default model",
                                              f"{n.kind} {n.source or ''}".strip()) if p))
                for n in vm.nics]
        sections.append(("Network interfaces", nics or [("", "No network interfaces")]))
        graphics = [(f"Display {i + 1}", g.summary + (", password set" if g.has_password
                                                      else ""))
                    for i, g in enumerate(vm.graphics)]
        sections.append(("Console", graphics or [("", "No graphical console")]))
        return sections

    def _describe_host(self, node) -> list:
        host = self._host(node.conn_id)
        info = node.obj if isinstance(node.obj, HostInfo) else (
            host.info if host is not None else None)
        uri = host.uri if host is not None else (info.uri if info else node.conn_id)
        # The manager's answer, as the tree's: during a host-key check the host object
        # itself still says "Disconnected".
        state, reason = self.manager.state(node.conn_id) if host is not None else (None, "")
        conn = state.label if state is not None else "Unknown"
        if reason:
            conn += f" ({reason})"
        general = [("Hostname", info.hostname if info else "not known yet"),
                   ("URI", uri), ("Connection", conn)]
        if info is None:
            return [("General", general)]
        if info.is_demo:
            general.append(("Note", "Demo lab on libvirt's test driver"))
        general += [("Hypervisor", info.hypervisor_label),
                    ("Hypervisor version", info.hypervisor_version)]
        if info.libvirt_version:        # a XenAPI pool has none
            general.append(("libvirt version", info.libvirt_version))
        cpu = [("Model", info.cpu_model or "unknown"), ("Architecture", info.arch),
               ("CPUs", str(info.cpus))]
        if info.cores or info.threads:
            cpu.append(("Topology", f"{info.sockets} sockets × {info.cores} cores × "
                                    f"{info.threads} threads"))
        if info.mhz:
            cpu.append(("Speed", f"{info.mhz} MHz"))
        memory = self._host_memory(node.conn_id, info)
        vms = self._host_vms(node, host)
        counts = Counter(v.state for v in vms)
        if state is ConnState.CONNECTED or state is None:
            vm_rows = [("Total", str(len(vms)))]
        else:
            # The tree still lists them, greyed, as they were: say that, not "0".
            vm_rows = [("Total", f"{len(vms)} VM{'' if len(vms) == 1 else 's'} "
                                 "(last known; not connected)")]
        vm_rows += [(s.label, str(counts[s])) for s in VMState if counts[s]]
        sections = [("General", general), ("CPU", cpu), ("Memory", memory)]
        dom0 = self._control_domain(node.conn_id)
        if dom0 is not None and info.driver != "XAPI":  # a pool: one per member host
            # XenCenter's wording: Dom0 belongs to the host, it is not one of its VMs.
            sections.append((f"Control domain on {info.hostname}", [
                ("Name", dom0.name), ("State", dom0.state.label),
                ("vCPUs", f"{dom0.vcpus} of {dom0.max_vcpus} maximum"),
                ("Memory", f"{human_kib(dom0.memory_kib)} of "
                           f"{human_kib(dom0.max_memory_kib)} maximum")]))
        return sections + [("VMs", vm_rows)]

    def _describe_server(self, node: Node, server: ServerInfo) -> list:
        """A member host of a XenAPI pool."""
        general = [("Name", server.name), ("Address", server.address),
                   ("UUID", server.key), ("State", server.state_label),
                   ("Role", "Pool master" if server.is_master else "Pool member"),
                   ("Version", server.version or "unknown")]
        cpu = [("Model", server.cpu_model or "unknown"), ("CPUs", str(server.cpus))]
        memory = [("Total", human_kib(server.memory_kib)),
                  ("Free", human_kib(server.free_memory_kib))]
        vms = [child.obj for child in node.children if isinstance(child.obj, VMInfo)]
        counts = Counter(v.state for v in vms)
        vm_rows = [("Resident", str(len(vms)))]
        vm_rows += [(s.label, str(counts[s])) for s in VMState if counts[s]]
        sections = [("General", general), ("CPU", cpu), ("Memory", memory)]
        dom0 = server.control_domain
        if dom0 is not None:
            sections.append((f"Control domain on {server.name}", [
                ("Name", dom0.name), ("State", dom0.state.label),
                ("vCPUs", f"{dom0.vcpus} of {dom0.max_vcpus} maximum"),
                ("Memory", f"{human_kib(dom0.memory_kib)} of "
                           f"{human_kib(dom0.max_memory_kib)} maximum")]))
        return sections + [("VMs", vm_rows)]

    def _host_memory(self, conn_id, info: HostInfo) -> list[tuple[str, str]]:
        """The same figures as the Performance tab's Memory graph and the tree (one
        source: the performance monitor's host statistics); the connection's one-off
        getInfo total only until the first sample arrives."""
        mem = self.memory.host_memory(conn_id) if self.memory is not None else None
        if mem is None:
            return [("Total", human_kib(info.memory_kib)),
                    ("", "Used and free memory appear with the first statistics sample.")]
        total = format_bytes(mem.total_kib * 1024.0) or human_kib(info.memory_kib)
        if math.isnan(mem.used_kib):
            return [("Total", total),
                    ("", "This server reports no memory use (libvirt's test driver has "
                         "none).")]
        return [("Total", total),
                ("Used", f"{format_bytes(mem.used_kib * 1024.0)} "
                         f"({mem.used_fraction * 100.0:.0f} %)"),
                ("Free", format_bytes(mem.free_kib * 1024.0) or "unknown"),
                ("", MEMORY_NOTE)]

    def _control_domain(self, conn_id: str) -> VMInfo | None:
        return self.inventory.control_domain(conn_id)

    def _host_vms(self, node: Node, host: LifecycleHost | None) -> list[VMInfo]:
        """What the tree lists under the host (the last known VMs while it is not
        connected; the connection itself forgets them), else what the host knows."""
        if self.inventory.host_node(node.conn_id) is not None:
            return [v for v in self.inventory.vms(node.conn_id) if not v.is_control_domain]
        if host is not None:
            return [v for v in host.vms() if not v.is_control_domain]
        return []

    def _describe_network(self, net: NetworkInfo) -> list:
        return [("Network", [("Name", net.name), ("UUID", net.key),
                             ("State", net.state_label),
                             ("Bridge", net.bridge or "none"),
                             ("Forwarding", net.forward or "isolated"),
                             ("Start automatically", yes_no(net.autostart)),
                             ("Persistent", yes_no(net.persistent))])]

    def _describe_pool(self, pool: PoolInfo) -> list:
        rows = [("Name", pool.name), ("UUID", pool.key), ("Type", pool.pool_type),
                ("State", pool.state_label), ("Path", pool.path or "none")]
        if pool.active:
            rows += [("Capacity", human_bytes(pool.capacity)),
                     ("Allocated", human_bytes(pool.allocation)),
                     ("Available", human_bytes(pool.available))]
        rows += [("Start automatically", yes_no(pool.autostart)),
                 ("Persistent", yes_no(pool.persistent))]
        return [("Storage pool", rows)]

    # ---- drawing ----
    def _render(self) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(12, 12, 12, 12)
        bold = QFont(self.font())
        bold.setBold(True)
        bold.setPointSizeF(bold.pointSizeF() * 1.1)
        # one label column width for every section, so the values line up down the page
        self._values = []
        metrics = self.fontMetrics()
        label_width = max((metrics.horizontalAdvance(f"{label}:") for _, rows in
                           self._sections for label, _ in rows if label), default=0)
        for header, rows in self._sections:
            title = QLabel(header)
            title.setFont(bold)
            layout.addWidget(title)
            form = QFormLayout()
            form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
            form.setContentsMargins(12, 2, 0, 10)
            for label, value in rows:
                field = QLabel(value)
                field.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                field.setWordWrap(True)
                self._values.append(field)
                if label:
                    name = QLabel(f"{label}:")
                    name.setMinimumWidth(label_width)
                    name.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
                    form.addRow(name, field)
                else:
                    form.addRow(field)
            layout.addLayout(form)
        layout.addStretch(1)
        self._scroll.setWidget(page)


def _layout(sections) -> list:
    """What a form looks like apart from its values: headers and labels."""
    return [(header, [label for label, _v in rows]) for header, rows in sections]
