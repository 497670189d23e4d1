"""The Add Disk dialog of the Disks page: a new volume in a pool, or an existing one, on
a bus, with a cache mode."""
from __future__ import annotations

from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox,
                               QFormLayout, QLabel, QRadioButton, QVBoxLayout, QWidget)

from app import colours
from app.properties.session import CACHE_MODES, DiskChoice, EditSession, NewVolume
from app.properties.timing import disk_add_when
from app.properties.words import GIB, size_bytes
from widgets.dialogs.properties.base import MarkLabel, offer_item

BUSES = ("virtio", "scsi", "sata", "usb", "ide")


class AddDiskDialog(QDialog):
    def __init__(self, session: EditSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setWindowTitle("Add Disk")
        data = session.data
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.new_radio = QRadioButton("A &new volume")
        self.new_radio.setObjectName("newVolumeRadio")
        self.new_radio.setChecked(True)
        self.existing_radio = QRadioButton("An &existing volume")
        self.existing_radio.setObjectName("existingVolumeRadio")
        form.addRow(self.new_radio)
        self.pool_combo = QComboBox()
        self.pool_combo.setObjectName("poolCombo")
        for pool in data.pools:
            offer_item(self.pool_combo, f"{pool.name} ({size_bytes(pool.available)} free)",
                       pool.name, "" if pool.active else "The pool is not active.")
        form.addRow("&Pool:", self.pool_combo)
        self.size_spin = QDoubleSpinBox()
        self.size_spin.setObjectName("sizeSpin")
        self.size_spin.setRange(0.01, 64 * 1024)
        self.size_spin.setDecimals(2)
        self.size_spin.setValue(10)
        self.size_spin.setSuffix(" GiB")
        form.addRow("&Size:", self.size_spin)
        self.format_combo = QComboBox()
        self.format_combo.setObjectName("formatCombo")
        self.format_combo.addItem("qcow2 (snapshots, grows as used)", "qcow2")
        self.format_combo.addItem("raw", "raw")
        form.addRow("&Format:", self.format_combo)
        form.addRow(self.existing_radio)
        self.volume_combo = QComboBox()
        self.volume_combo.setObjectName("volumeCombo")
        used = {d.source_path for d in session.edited.disks}
        for vol in data.volumes:
            if vol.is_iso or vol.path in used:
                continue
            self.volume_combo.addItem(f"{vol.pool}/{vol.name} ({size_bytes(vol.capacity)})",
                                      vol.path)
        form.addRow("&Volume:", self.volume_combo)
        self.bus_combo = QComboBox()
        self.bus_combo.setObjectName("busCombo")
        caps = data.domain
        for bus in BUSES:
            offer = caps.disk_bus(bus) if caps is not None else None
            offer_item(self.bus_combo, bus, bus, offer.reason if offer is not None and
                       not offer else "")
        self.bus_combo.currentIndexChanged.connect(self._update)
        self.mark = MarkLabel()
        form.addRow("&Bus:", self.bus_combo)
        form.addRow("", self.mark)
        self.cache_combo = QComboBox()
        self.cache_combo.setObjectName("cacheCombo")
        for mode in CACHE_MODES:
            self.cache_combo.addItem(mode, mode)
        form.addRow("&Cache:", self.cache_combo)
        layout.addLayout(form)
        self.problem_label = QLabel()
        self.problem_label.setObjectName("addDiskProblem")
        self.problem_label.setStyleSheet(colours.style(colours.ERROR))
        self.problem_label.setWordWrap(True)
        layout.addWidget(self.problem_label)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        for signal in (self.new_radio.toggled, self.pool_combo.currentIndexChanged,
                       self.size_spin.valueChanged, self.volume_combo.currentIndexChanged):
            signal.connect(self._update)
        self._update()

    def problems(self) -> list[str]:
        if self.new_radio.isChecked():
            pool = next((p for p in self.session.data.pools
                         if p.name == self.pool_combo.currentData()), None)
            if pool is None:
                return ["Choose a storage pool for the new volume."]
            size = int(self.size_spin.value() * GIB)
            if self.format_combo.currentData() == "raw" and size > pool.available:
                return [f"Pool {pool.name} has {size_bytes(pool.available)} free; a raw "
                        f"volume of {size_bytes(size)} does not fit."]
            return []
        if self.volume_combo.currentData() is None:
            return ["No volume is free to attach."]
        return []

    def _update(self) -> None:
        new = self.new_radio.isChecked()
        for widget in (self.pool_combo, self.size_spin, self.format_combo):
            widget.setEnabled(new)
        self.volume_combo.setEnabled(not new)
        self.mark.set_when(disk_add_when(self.session, self.bus_combo.currentData() or ""))
        found = self.problems()
        self.problem_label.setText("\n".join(found))
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not found)

    def choice(self) -> DiskChoice:
        bus, cache = self.bus_combo.currentData(), self.cache_combo.currentData()
        if self.new_radio.isChecked():
            pool = next(p for p in self.session.data.pools
                        if p.name == self.pool_combo.currentData())
            fmt = self.format_combo.currentData()
            return DiskChoice(bus, cache, NewVolume(pool.name, self._volume_name(fmt),
                                                    int(self.size_spin.value() * GIB), fmt),
                              pool.path)
        path = self.volume_combo.currentData()
        fmt = "qcow2" if str(path).endswith(".qcow2") else "raw"
        return DiskChoice(bus, cache, existing_path=path, existing_format=fmt)

    def _volume_name(self, fmt: str) -> str:
        taken = {v.name for v in self.session.data.volumes}
        taken |= {v.name for v in self.session.new_volumes.values()}
        base = self.session.vm_name
        for n in range(1, 1000):
            name = f"{base}-{n}.{fmt}" if n > 1 else f"{base}.{fmt}"
            if name not in taken:
                return name
        raise ValueError("no free volume name")


def ask_new_disk(session: EditSession, parent: QWidget | None) -> DiskChoice | None:
    dialog = AddDiskDialog(session, parent)
    return dialog.choice() if dialog.exec() == QDialog.DialogCode.Accepted else None
