"""Page 4, Storage, network and display: a new disk (or none), the NIC, SPICE or VNC.

An imported or cloud image is the disk itself: then only its size (cloud) is asked.
"""
from __future__ import annotations

from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QGroupBox, QLineEdit,
                               QSpinBox, QVBoxLayout)

from app.new_vm.validation import hardware_problems, size_text
from connectors.libvirt.create_ops import Source

from .common import CheckedPage, add_item, connect_all, select_data

NIC_MODELS = ("virtio", "e1000e", "e1000", "rtl8139")
DISK_BUSES = ("virtio", "sata", "scsi")
VIDEO_MODELS = ("virtio", "qxl", "vga", "bochs", "cirrus")


class HardwarePage(CheckedPage):
    def __init__(self, wizard) -> None:
        super().__init__(wizard, "Storage, network and display",
                         "The VM's disk, its network card and how its screen is shown.")
        self.disk = QCheckBox("Create a disk for the VM")
        self.disk.setObjectName("diskEnabled")
        self.disk_pool = QComboBox()
        self.disk_pool.setObjectName("diskPool")
        self.disk_size = QSpinBox()
        self.disk_size.setObjectName("diskSize")
        self.disk_size.setRange(0, 64 * 1024)
        self.disk_size.setSuffix(" GiB")
        self.disk_format = QComboBox()
        self.disk_format.addItem("qcow2 (grows as used, snapshots)", "qcow2")
        self.disk_format.addItem("raw", "raw")
        self.disk_bus = QComboBox()
        self.disk_bus.setObjectName("diskBus")
        storage = QGroupBox("Storage")
        self.storage_form = QFormLayout(storage)
        self.storage_form.addRow(self.disk)
        self.storage_form.addRow("Pool:", self.disk_pool)
        self.storage_form.addRow("Size:", self.disk_size)
        self.storage_form.addRow("Format:", self.disk_format)
        self.storage_form.addRow("Bus:", self.disk_bus)

        self.net_kind = QComboBox()
        self.net_kind.setObjectName("networkKind")
        self.net_name = QComboBox()
        self.net_name.setObjectName("networkName")
        self.net_name.setEditable(True)
        self.nic_model = QComboBox()
        self.nic_model.setObjectName("nicModel")
        for model in NIC_MODELS:
            self.nic_model.addItem(model, model)
        network = QGroupBox("Network")
        net_form = QFormLayout(network)
        net_form.addRow("Connect to:", self.net_kind)
        net_form.addRow("Name:", self.net_name)
        net_form.addRow("Model:", self.nic_model)

        self.graphics = QComboBox()
        self.graphics.setObjectName("graphics")
        self.password = QLineEdit()
        self.password.setObjectName("graphicsPassword")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("none (only this host's users reach it)")
        self.video = QComboBox()
        self.video.setObjectName("video")
        display = QGroupBox("Display")
        display_form = QFormLayout(display)
        display_form.addRow("Console:", self.graphics)
        display_form.addRow("Password:", self.password)
        display_form.addRow("Video:", self.video)

        layout = QVBoxLayout(self)
        layout.addWidget(storage)
        layout.addWidget(network)
        layout.addWidget(display)
        layout.addStretch(1)
        layout.addWidget(self.problem)
        self.net_kind.currentIndexChanged.connect(self._fill_names)
        connect_all([self.disk, self.disk_pool, self.disk_size, self.disk_format,
                     self.disk_bus, self.net_kind, self.nic_model, self.graphics,
                     self.password, self.video], self.changed)
        self.net_name.currentTextChanged.connect(self.changed)
        self._filling = False

    def initializePage(self) -> None:  # noqa: N802 (Qt's name)
        plan, facts = self.plan, self.facts
        self._filling = True
        caps = facts.caps_for(plan.domain_type, plan.os_type)
        new_disk = plan.source in (Source.ISO, Source.URL, Source.PXE)
        self.disk.setVisible(new_disk)
        self.disk.setChecked(plan.disk_enabled and new_disk)
        self.disk_pool.clear()
        for pool in facts.pools:
            add_item(self.disk_pool, f"{pool.name} ({size_text(pool.available)} free)",
                     pool.name, "" if pool.active else f"The pool {pool.name} is inactive.")
        preferred = plan.disk_pool or plan.upload_pool or (
            "default" if facts.pool("default") else "")
        select_data(self.disk_pool, preferred)
        self.disk_size.setValue(plan.disk_gib)
        self.disk_bus.clear()
        buses = DISK_BUSES if not plan.xen_pv else ("xen",)
        for bus in buses:
            offer = caps.disk_bus(bus) if caps is not None and caps.disk_buses else None
            add_item(self.disk_bus, bus, bus, offer.reason if offer is not None and not offer
                     else "")
        select_data(self.disk_bus, plan.disk_bus)
        self.net_kind.clear()
        self.net_kind.addItem("Virtual network", "network")
        self.net_kind.addItem("Host bridge", "bridge")
        self.net_kind.addItem("User-mode networking (no setup, outbound only)", "user")
        self.net_kind.addItem("No network", "none")
        kind = plan.network_kind
        if kind == "network" and not any(active for _n, active in facts.networks):
            kind = "user" if not facts.is_xen else "none"
        select_data(self.net_kind, kind)
        select_data(self.nic_model, plan.nic_model)
        self.graphics.clear()
        for kind_name in ("vnc", "spice"):
            offer = caps.graphics(kind_name) if caps is not None and caps.graphics_types \
                else None
            add_item(self.graphics, kind_name.upper(), kind_name,
                     offer.reason if offer is not None and not offer else "")
        self.graphics.addItem("None (serial console only)", "none")
        select_data(self.graphics, plan.graphics)
        self.video.clear()
        for model in VIDEO_MODELS:
            offer = caps.video(model) if caps is not None and caps.video_models else None
            add_item(self.video, model, model,
                     offer.reason if offer is not None and not offer else "")
        select_data(self.video, plan.video)
        self.video.setEnabled(not plan.xen_pv)
        self._filling = False
        self._fill_names()
        self.changed()

    def _fill_names(self, *_args) -> None:
        facts = self.facts
        kind = self.net_kind.currentData()
        wanted = self.plan.network_name
        self.net_name.blockSignals(True)
        self.net_name.clear()
        if kind == "network":
            for name, active in facts.networks:
                self.net_name.addItem(name if active else f"{name} (inactive)", name)
            select_data(self.net_name, wanted)
            if self.net_name.currentIndex() < 0 or not dict(facts.networks).get(
                    self.net_name.currentData() or "", False):
                active = [n for n, a in facts.networks if a]
                if active:
                    select_data(self.net_name, active[0])
        elif kind == "bridge":
            for name in facts.bridges:
                self.net_name.addItem(name, name)
            if wanted and kind == self.plan.network_kind:
                self.net_name.setEditText(wanted)
        self.net_name.setEnabled(kind in ("network", "bridge"))
        self.net_name.blockSignals(False)
        self.changed()

    def read_into_plan(self) -> None:
        if self._filling:
            return
        plan = self.plan
        plan.disk_enabled = self.disk.isChecked() or plan.source is Source.CLOUD
        plan.disk_pool = self.disk_pool.currentData() or ""
        plan.disk_gib = self.disk_size.value()
        plan.disk_format = self.disk_format.currentData()
        plan.disk_bus = self.disk_bus.currentData() or plan.disk_bus
        plan.network_kind = self.net_kind.currentData() or "none"
        if plan.network_kind == "network":
            plan.network_name = self.net_name.currentData() or self.net_name.currentText()
        else:
            plan.network_name = self.net_name.currentText().strip()
        plan.nic_model = self.nic_model.currentData()
        plan.graphics = self.graphics.currentData() or "none"
        plan.graphics_password = self.password.text()
        plan.video = self.video.currentData() or plan.video
        for widget in (self.disk_pool, self.disk_size, self.disk_format):
            widget.setEnabled(plan.disk_enabled or plan.source is Source.CLOUD)
        self.password.setEnabled(plan.graphics != "none")

    def problems(self) -> list[str]:
        return hardware_problems(self.plan, self.facts)
