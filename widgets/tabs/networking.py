"""The Networking tab: a virtual network's addresses, DHCP and the leases it handed out.

Select a network in the tree, or a server (then pick one of its networks above the
page). The leases table names the VM behind each address and follows dnsmasq while the
page is on screen (app.leases polls only then: libvirt has no lease event).
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QFormLayout, QHBoxLayout,
                               QHeaderView, QLabel, QTableView, QToolBar, QVBoxLayout,
                               QWidget)

from app.inventory import NodeKind
from app.leases import LeasesModel, LeaseWatcher
from app.networks import NetworkActions, NetworkPage
from connectors.libvirt.model import NetworkInfo
from connectors.libvirt.net_xml import MODES, NetworkDetails
from widgets.dialogs.new_network.dhcp import DhcpDialog
from widgets.keyboard_navigation import show_keys_in_tooltip


class NetworkingTab(QWidget):
    networkChosen = Signal(str, str)

    def __init__(self, manager: Any, inventory: Any, commands: Any, tasks: Any,
                 leases: LeaseWatcher, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.manager, self.inventory, self.commands = manager, inventory, commands
        self.page = NetworkPage(manager, inventory, self)
        self.actions_ = NetworkActions(commands.ctx)
        self.leases = LeasesModel(leases, self)
        self.conn_id: str | None = None
        self._visible = False

        self.picker = QComboBox()
        self.picker.setObjectName("networkPicker")
        self.picker.activated.connect(self._picked)
        self.title = QLabel()
        font = self.title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.2)
        self.title.setFont(font)
        self.fields: dict[str, QLabel] = {}
        facts = QFormLayout()
        for label in ("Mode", "State", "Bridge", "IPv4", "IPv6", "DHCP range",
                      "Fixed addresses", "DNS domain", "Used by"):
            value = QLabel()
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.fields[label] = value
            facts.addRow(f"{label}:", value)
        self.toolbar = QToolBar()
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for command in commands.network_commands:
            if command is None:
                self.toolbar.addSeparator()
            elif command is not commands.new_network:
                self.toolbar.addAction(command.action)
        self.toolbar.addSeparator()
        self.dhcp_action = self.toolbar.addAction("Edit &DHCP…", self.edit_dhcp)
        self.dhcp_action.setShortcut(QKeySequence("Ctrl+Shift+H"))
        show_keys_in_tooltip(self.dhcp_action, "Change the DHCP range and fixed addresses")
        self.table = QTableView()
        self.table.setObjectName("leasesTable")
        self.table.setModel(self.leases)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.message = QLabel()
        self.message.setWordWrap(True)

        top = QHBoxLayout()
        top.addWidget(QLabel("Network:"))
        top.addWidget(self.picker, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.title)
        layout.addLayout(facts)
        layout.addWidget(self.toolbar)
        layout.addWidget(QLabel("DHCP leases"))
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message)
        self.page.loaded.connect(self._loaded)
        self.page.failed.connect(self.message.setText)
        self.leases.modelReset.connect(lambda: self._describe(self.page.details))
        inventory.batchApplied.connect(self._on_batch)
        self.show_network(None, None)

    # ---- what is shown ----

    def set_selection(self, nodes: list) -> None:
        if len(nodes) != 1:
            self.show_network(None, None)
            return
        node = nodes[0]
        if node.kind is NodeKind.NETWORK:
            self.show_network(node.conn_id, node.key)
        elif node.kind in (NodeKind.HOST, NodeKind.GROUP):
            nets = self._networks(node.conn_id)
            self.show_network(node.conn_id, nets[0].key if nets else None)
        else:
            self.show_network(node.conn_id, None)

    def show_network(self, conn_id: str | None, key: str | None) -> None:
        self.conn_id = conn_id
        self.page.show(conn_id, key)
        self._follow_leases()
        self._fill_picker()
        self._describe(self.page.details)

    def showEvent(self, event: Any) -> None:  # noqa: N802
        self._visible = True
        self._follow_leases()
        super().showEvent(event)

    def hideEvent(self, event: Any) -> None:  # noqa: N802
        self._visible = False
        self._follow_leases()
        super().hideEvent(event)

    def _follow_leases(self) -> None:
        net = self.page.network()
        if self._visible and net is not None and self.conn_id is not None:
            self.leases.show(self.conn_id, net.name)
        else:
            self.leases.show(None)

    def _networks(self, conn_id: str | None) -> list[NetworkInfo]:
        host = self.manager.host(conn_id) if conn_id is not None else None
        return list(host.networks()) if host is not None else []

    def _fill_picker(self) -> None:
        self.picker.blockSignals(True)
        self.picker.clear()
        for net in self._networks(self.conn_id):
            self.picker.addItem(f"{net.name} ({net.forward or 'isolated'}, "
                                f"{net.state_label.lower()})", net.key)
        self.picker.setCurrentIndex(self.picker.findData(self.page.key))
        self.picker.setEnabled(self.picker.count() > 0)
        self.picker.blockSignals(False)

    def _picked(self, index: int) -> None:
        key = self.picker.itemData(index)
        if self.conn_id is not None and key:
            self.show_network(self.conn_id, key)
            self.networkChosen.emit(self.conn_id, key)

    def _loaded(self, details: NetworkDetails | None) -> None:
        self._describe(details)

    def _describe(self, details: NetworkDetails | None) -> None:
        net = self.page.network()
        if net is None:
            self.title.setText("No network selected")
            for value in self.fields.values():
                value.setText("")
            self.dhcp_action.setEnabled(False)
            self.message.setText("Select a network in the tree, or a server and then one "
                                 "of its networks.")
            return
        self.title.setText(net.name)
        mode = net.forward or "isolated"
        values = {"Mode": MODES.get(mode, mode),
                  "State": net.state_label + (", starts with the host" if net.autostart
                                              else ""),
                  "Bridge": net.bridge or "—"}
        if details is not None:
            v4 = [str(s) for s in details.subnets if s.version == 4]
            v6 = [str(s) for s in details.subnets if s.version == 6]
            values.update({
                "IPv4": ", ".join(v4) or "—", "IPv6": ", ".join(v6) or "—",
                "DHCP range": ", ".join(f"{a} – {b}" for a, b in details.dhcp_ranges) or "—",
                "Fixed addresses": ", ".join(
                    f"{h.mac} → {h.ip}" + (f" ({h.name})" if h.name else "")
                    for h in details.hosts) or "—",
                "DNS domain": details.domain or "—"})
        host = self.manager.host(self.conn_id) if self.conn_id is not None else None
        users = host.networking.users(net.name) if host is not None else []
        values["Used by"] = ", ".join(users) or "no VM"
        for label, value in self.fields.items():
            value.setText(values.get(label, ""))
        has_v4 = details is not None and any(s.version == 4 for s in details.subnets)
        self.dhcp_action.setEnabled(has_v4)
        self.dhcp_action.setToolTip("Edit DHCP" if has_v4 else
                                    "Edit DHCP: this network has no IPv4 subnet")
        if not net.active:
            self.message.setText("This network is stopped: it hands out no addresses until "
                                 "it is started.")
        elif self.leases.rowCount() == 0:
            self.message.setText("No DHCP leases: no guest has asked this network for an "
                                 "address yet." if details is None or details.dhcp_ranges
                                 or details.hosts else "This network hands out no "
                                 "addresses (no DHCP).")
        else:
            self.message.setText("")

    def _on_batch(self, keys: set) -> None:
        if self.conn_id is not None and any(c == self.conn_id for c, _k in keys):
            self._fill_picker()
            self._follow_leases()
            self._describe(self.page.details)

    def edit_dhcp(self) -> DhcpDialog | None:
        net, details, conn_id = self.page.network(), self.page.details, self.conn_id
        if net is None or details is None or conn_id is None:
            return None
        dialog = DhcpDialog(details, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.actions_.update_dhcp(
            conn_id, net, *dialog.values()).finished.connect(self.page.reload))
        dialog.open()
        return dialog
