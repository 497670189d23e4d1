"""What a row of the tree shows: its name and state text, icon, tooltip, grey, and the
cells of the CPU and Memory columns.

The item model answers ``data()`` by handing the row's Node to ``RowPresenter.data``;
nothing here moves rows or knows about indexes. The presenter reads the model's table of
connections (``HostFacts`` per conn_id: URI, the name the user gave, the state as of the
last batch, the control domain) and, for the usage columns, a ``UsageSource``
(app.perf.usage.UsageColumns), asked only for the cells a view paints or sorts by.

``data`` runs for every cell a view lays out and every row the filter proxy matches or
sorts (10,000 at a time): one pass of comparisons on ``role``, against constants.
"""
from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon

from app import colours, icons
from app.contracts import UsageSource
from app.inventory.columns import (COLUMNS, CPU_COLUMN, FILTER_ROLE, NAME_COLUMN, SORT_ROLE,
                                   USAGE_COLUMNS, USAGE_ROLE)
from app.inventory.nodes import HostFacts, Node, NodeKind
from connectors.libvirt.model import (ConnState, HostInfo, NetworkInfo, PoolInfo,
                                      ServerInfo, VMInfo, VMState)

# Bound once: looking up Qt.ItemDataRole.DisplayRole costs some 30 times a module
# constant's load (PySide6 resolves its enums lazily), and data() compares several a call.
_DISPLAY = Qt.ItemDataRole.DisplayRole
_TOOLTIP = Qt.ItemDataRole.ToolTipRole
_DECORATION = Qt.ItemDataRole.DecorationRole
_FOREGROUND = Qt.ItemDataRole.ForegroundRole
_INITIAL_SORT_ORDER = Qt.ItemDataRole.InitialSortOrderRole
_USAGE_CELL_ROLES = (_DISPLAY, USAGE_ROLE, SORT_ROLE)
_WITH_USAGE = (NodeKind.VM, NodeKind.HOST)     # the rows a UsageSource has figures for


def host_state_text(facts: HostFacts, info: HostInfo | None) -> str:
    if facts.state is ConnState.CONNECTED and facts.maintenance:
        return "In maintenance"
    if facts.state is ConnState.CONNECTED:
        return info.hypervisor_label if info is not None and info.hypervisor_label \
            else "Connected"
    if facts.state is ConnState.CONNECTING:
        return "Connecting…"
    if facts.state is ConnState.RECONNECTING:
        return f"Reconnecting: {facts.reason}" if facts.reason else "Reconnecting…"
    return f"Disconnected: {facts.reason}" if facts.reason else "Disconnected"


def vm_state_text(vm: VMInfo) -> str:
    # Paused by a migration (the source at the switch-over, the destination while the
    # VM arrives): say what is happening, not just "Paused".
    if vm.state is VMState.PAUSED and vm.state_reason == "migrating":
        return "Migrating…"
    return vm.state.label


class RowPresenter:
    """``hosts`` is the model's own table (read, never changed here): the presenter
    always shows the state of the last batch."""

    def __init__(self, hosts: Mapping[str, HostFacts]) -> None:
        self._hosts = hosts
        self.usage_source: UsageSource | None = None

    def data(self, node: Node, column: int, role: int) -> object:
        """What ``role`` of ``column`` shows for ``node`` (None: nothing)."""
        if column in USAGE_COLUMNS:
            if role in _USAGE_CELL_ROLES:
                return self._usage(node, column, role)
            if role == _TOOLTIP:
                source = self.usage_source
                return source.tooltip(node, column) if source is not None and \
                    node.kind in _WITH_USAGE else None
        if role == SORT_ROLE:
            if column == NAME_COLUMN:
                return f"{node.sort_key[0]}{self.name(node).casefold()}"
            return self.state(node)
        if role == _DISPLAY:
            return self.name(node) if column == NAME_COLUMN else self.state(node)
        if role == FILTER_ROLE:
            return f"{self.name(node)} {self.state(node)}"
        if role == _DECORATION and column == NAME_COLUMN:
            return self.icon(node)
        if role == _FOREGROUND:
            return colours.brush(colours.MUTED) if self.greyed(node) else None
        if role == _TOOLTIP:
            return self.tooltip(node)
        return None

    def header_data(self, section: int, role: int) -> object:
        if role == _DISPLAY:
            return COLUMNS[section]
        if role == _INITIAL_SORT_ORDER and section in USAGE_COLUMNS:
            # A first click on CPU or Memory asks "who uses most?": busiest first.
            return Qt.SortOrder.DescendingOrder
        if role == _TOOLTIP and section in USAGE_COLUMNS:
            source = self.usage_source
            return source.header_tooltip(section) if source is not None else None
        return None

    # ---- the Name and State columns ----

    def host_name(self, host: Node) -> str:
        """A server's name in the tree: its host name once connected, else the name the
        user gave; a demo host says so (the test driver reports this machine's name)."""
        facts = self._hosts.get(host.conn_id)
        if facts is None:
            return host.conn_id
        info = host.obj
        if facts.demo or (isinstance(info, HostInfo) and info.is_demo):
            name = facts.display_name
            return name if "demo" in name.lower() else f"{name} (demo)"
        if isinstance(info, HostInfo) and info.hostname:
            return info.hostname
        return facts.display_name

    def name(self, node: Node) -> str:
        if node.kind is NodeKind.HOST:
            return self.host_name(node)
        return node.name

    def state(self, node: Node) -> str:
        obj = node.obj
        if node.kind is NodeKind.HOST:
            facts = self._hosts.get(node.conn_id)
            return "" if facts is None else host_state_text(
                facts, obj if isinstance(obj, HostInfo) else None)
        if isinstance(obj, VMInfo):
            return vm_state_text(obj)
        if isinstance(obj, (NetworkInfo, PoolInfo, ServerInfo)):
            return obj.state_label
        if node.kind is NodeKind.GROUP:
            return str(len(node.children))
        return ""

    def icon(self, node: Node) -> QIcon:
        obj = node.obj
        if node.kind is NodeKind.HOST:
            facts = self._hosts.get(node.conn_id)
            if facts is not None and facts.maintenance and facts.state is ConnState.CONNECTED:
                return icons.icon("host-maintenance")
            return icons.host_icon(facts.state if facts else ConnState.DISCONNECTED)
        if isinstance(obj, VMInfo):
            return icons.vm_icon(obj.state)
        if isinstance(obj, NetworkInfo):
            return icons.network_icon(obj.active)
        if isinstance(obj, PoolInfo):
            return icons.pool_icon(obj.active)
        if isinstance(obj, ServerInfo):
            if not obj.live:
                return icons.host_icon(ConnState.DISCONNECTED)
            return icons.host_icon(ConnState.CONNECTED) if obj.enabled \
                else icons.icon("host-maintenance")
        return icons.group_icon()

    def greyed(self, node: Node) -> bool:
        """Objects of a host that is not connected show their last known state, greyed."""
        facts = self._hosts.get(node.conn_id)
        if facts is None:
            return False
        if node.kind is NodeKind.HOST:
            return facts.state is ConnState.DISCONNECTED
        return facts.state is not ConnState.CONNECTED

    def tooltip(self, node: Node) -> str:
        obj = node.obj
        facts = self._hosts.get(node.conn_id)
        stale = ""
        if facts is not None and facts.state is not ConnState.CONNECTED:
            stale = "\nLast known state: the host is not connected"
        if node.kind is NodeKind.HOST:
            return "" if facts is None else self._host_tooltip(node, facts)
        if isinstance(obj, VMInfo):
            state = obj.state.label + (f" ({obj.state_reason})" if obj.state_reason else "")
            lines = [obj.name, state]
            if obj.virtualization:
                lines.append(obj.virtualization)
            return "\n".join(lines) + stale
        if isinstance(obj, NetworkInfo):
            forward = obj.forward or "isolated"
            return f"{obj.name}\n{obj.state_label}, {forward}" + stale
        if isinstance(obj, PoolInfo):
            return f"{obj.name}\n{obj.state_label}, {obj.pool_type}" + stale
        if isinstance(obj, ServerInfo):
            lines = [obj.name, obj.address, obj.version, obj.state_label]
            if obj.cpus:
                lines.append(f"{obj.cpus} CPUs ({obj.cpu_model}), "
                             f"{obj.memory_kib // 1024} MiB")
            return "\n".join(line for line in lines if line) + stale
        return node.name

    def _host_tooltip(self, host: Node, facts: HostFacts) -> str:
        lines = [self.host_name(host), facts.uri]
        if isinstance(host.obj, HostInfo) and host.obj.hypervisor_label:
            lines.append(host.obj.hypervisor_label)
        dom0 = facts.control_domain
        if dom0 is not None:
            lines.append(f"Control domain: {dom0.vcpus} vCPUs, "
                         f"{dom0.memory_kib // 1024} MiB")
        lines.append(facts.state.label + (f": {facts.reason}" if facts.reason else ""))
        if facts.maintenance:
            lines.append("In maintenance mode: VMs are not started here")
        return "\n".join(lines)

    # ---- the CPU and Memory columns ----

    def _usage(self, node: Node, column: int, role: int) -> str | float | None:
        """A usage cell: its text (DisplayRole), its bar's fraction (USAGE_ROLE, NaN: no
        figure) or what sorting compares (SORT_ROLE: no figure sorts below zero)."""
        source = self.usage_source
        usage = source.usage(node, role == SORT_ROLE) if source is not None and \
            node.kind in _WITH_USAGE else None
        if usage is None:
            return -1.0 if role == SORT_ROLE else None
        cpu, mem_fraction, mem_text = usage
        if column == CPU_COLUMN:
            if role == _DISPLAY:
                return f"{cpu:.0f} %" if cpu == cpu else ""
            fraction = cpu / 100.0
        else:
            if role == _DISPLAY:
                return mem_text
            fraction = mem_fraction
        if role == SORT_ROLE:
            return fraction if fraction == fraction else -1.0
        return fraction
