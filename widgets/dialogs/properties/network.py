"""Network interfaces: add, remove, the virtual network or host bridge each is on, its
model, its MAC address and whether its cable is plugged in (link up or down)."""
from __future__ import annotations

import re

from PySide6.QtCore import QSignalBlocker
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLineEdit,
                               QListWidget, QPushButton, QStyle)

from connectors.libvirt import domxml
from connectors.libvirt.domxml import Interface

from app.properties import timing
from app.properties.describe import device_label, upper_first
from widgets.dialogs.properties.base import MarkLabel, Page, offer_item, select_data

MODELS = ("virtio", "e1000e", "e1000", "rtl8139")
MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


class NetworkPage(Page):
    title = "Network"
    icon = QStyle.StandardPixmap.SP_DriveNetIcon

    def __init__(self, session, prompts, parent=None) -> None:
        super().__init__(session, prompts, parent)
        self._nics: list[Interface] = []
        self.nic_list = QListWidget()
        self.nic_list.setObjectName("nicList")
        self.nic_list.currentRowChanged.connect(lambda _row: self._selected())
        self.nic_list.setMaximumHeight(150)
        self.outer.addWidget(self.nic_list)
        buttons = QHBoxLayout()
        self.add_button = QPushButton("&Add Interface")
        self.add_button.setObjectName("addNicButton")
        self.add_button.clicked.connect(self._add)
        self.remove_button = QPushButton("&Remove")
        self.remove_button.setObjectName("removeNicButton")
        self.remove_button.clicked.connect(self._remove)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        self.plug_mark = MarkLabel()
        self.plug_mark.setProperty("custom", True)
        self.plug_mark.set_when(timing.when(session, "nic_add"))
        buttons.addWidget(self.plug_mark)
        buttons.addStretch(1)
        self.outer.addLayout(buttons)
        form = QFormLayout()
        self.kind_combo = QComboBox()
        self.kind_combo.setObjectName("connectionCombo")
        self.kind_combo.addItem("Virtual network", "network")
        self.kind_combo.addItem("Host bridge", "bridge")
        self.kind_combo.activated.connect(self._source_edited)
        self.row(form, "&Connection:", self.kind_combo, "nic_source")
        self.network_combo = QComboBox()
        self.network_combo.setObjectName("networkCombo")
        for net in session.data.networks:
            offer_item(self.network_combo, net.name, net.name,
                       "" if net.active else f"Network {net.name} is not active.")
        self.network_combo.activated.connect(self._source_edited)
        form.addRow("&Network:", self.network_combo)
        self.bridge_edit = QLineEdit()
        self.bridge_edit.setObjectName("bridgeEdit")
        self.bridge_edit.setPlaceholderText("br0")
        self.bridge_edit.textEdited.connect(lambda _t: self._source_edited())
        form.addRow("&Bridge:", self.bridge_edit)
        self.model_combo = QComboBox()
        self.model_combo.setObjectName("nicModelCombo")
        for model in MODELS:
            self.model_combo.addItem(model, model)
        self.model_combo.activated.connect(self._model_edited)
        self.row(form, "&Model:", self.model_combo, "nic_model")
        self.mac_edit = QLineEdit()
        self.mac_edit.setObjectName("macEdit")
        self.mac_edit.textEdited.connect(self._mac_edited)
        self.row(form, "MA&C address:", self.mac_edit, "nic_mac")
        self.link_check = QCheckBox("Link up (the cable is plugged in)")
        self.link_check.setObjectName("linkCheck")
        self.link_check.toggled.connect(self._link_edited)
        self.row(form, "", self.link_check, "nic_link")
        self.outer.addLayout(form)
        self.refresh()

    def refresh(self) -> None:
        row = max(self.nic_list.currentRow(), 0)
        self._nics = self.session.edited.interfaces
        with QSignalBlocker(self.nic_list):
            self.nic_list.clear()
            for nic in self._nics:
                self.nic_list.addItem(upper_first(device_label(nic))
                                      + ("" if nic.link_up else " (link down)"))
            if self._nics:
                self.nic_list.setCurrentRow(min(row, len(self._nics) - 1))
        self._selected()

    def _current(self) -> Interface | None:
        row = self.nic_list.currentRow()
        return self._nics[row] if 0 <= row < len(self._nics) else None

    def _selected(self) -> None:
        nic = self._current()
        for widget in (self.remove_button, self.kind_combo, self.network_combo,
                       self.bridge_edit, self.model_combo, self.mac_edit, self.link_check):
            widget.setEnabled(nic is not None)
        if nic is None:
            self.show_problems()
            return
        select_data(self.kind_combo, "bridge" if nic.type == "bridge" else "network")
        select_data(self.network_combo, nic.source_network)
        with QSignalBlocker(self.bridge_edit):
            self.bridge_edit.setText(nic.source_bridge or "")
        self.network_combo.setEnabled(nic.type != "bridge")
        self.bridge_edit.setEnabled(nic.type == "bridge")
        select_data(self.model_combo, nic.model)
        with QSignalBlocker(self.mac_edit):
            self.mac_edit.setText(nic.mac or "")
        with QSignalBlocker(self.link_check):
            self.link_check.setChecked(nic.link_up)
        self.show_problems()

    def problems(self) -> list[str]:
        found = []
        macs: dict[str, int] = {}
        for nic in self.session.edited.interfaces:
            mac = (nic.mac or "").lower()
            if not mac:
                continue
            macs[mac] = macs.get(mac, 0) + 1
            if not MAC.match(mac):
                found.append(f"“{nic.mac}” is not a MAC address (six pairs of hex digits "
                             "separated by colons).")
            elif int(mac[:2], 16) & 1:
                found.append(f"{nic.mac} is a multicast address; a NIC needs a unicast one "
                             "(an even first byte).")
        found += [f"Two interfaces have the MAC address {mac}." for mac, n in macs.items()
                  if n > 1]
        found += [f"{upper_first(device_label(n))}: name the host bridge."
                  for n in self.session.edited.interfaces
                  if n.type == "bridge" and not n.source_bridge]
        return found

    # ---- edits ----

    def _add(self) -> None:
        active = [n.name for n in self.session.data.networks if n.active]
        nic = domxml.new_interface(network=active[0] if active else "default",
                                   mac=domxml.random_mac(self.session.edited.type or "kvm"))
        self.session.add_device(nic)
        self.refresh()
        self.nic_list.setCurrentRow(len(self._nics) - 1)

    def _remove(self) -> None:
        nic = self._current()
        if nic is None:
            return
        ok, _ = self.prompts.confirm_removal(device_label(nic), None)
        if ok:
            self.session.remove_device(nic)
            self.refresh()

    def _source_edited(self) -> None:
        nic = self._current()
        if nic is None:
            return
        if self.kind_combo.currentData() == "bridge":
            bridge = self.bridge_edit.text().strip()
            if nic.type != "bridge" or nic.source_bridge != bridge:
                nic.set_bridge(bridge)
        else:
            network = self.network_combo.currentData()
            if network and (nic.type != "network" or nic.source_network != network):
                nic.set_network(network)
        self.network_combo.setEnabled(nic.type != "bridge")
        self.bridge_edit.setEnabled(nic.type == "bridge")
        self.edited()
        self._relabel()

    def _model_edited(self) -> None:
        nic = self._current()
        if nic is not None and nic.model != self.model_combo.currentData():
            nic.model = self.model_combo.currentData()
            self.edited()

    def _mac_edited(self, text: str) -> None:
        nic = self._current()
        if nic is not None:
            nic.mac = text.strip().lower() or None
            self.edited()

    def _link_edited(self, up: bool) -> None:
        nic = self._current()
        if nic is not None and nic.link_up != up:
            nic.link_up = up
            self.edited()
            self._relabel()

    def _relabel(self) -> None:
        row = self.nic_list.currentRow()
        nic = self._current()
        if nic is not None:
            self.nic_list.item(row).setText(upper_first(device_label(nic))
                                            + ("" if nic.link_up else " (link down)"))
