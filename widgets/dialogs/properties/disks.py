"""Disks: add (a new volume or an existing one), remove (and perhaps delete the volume),
grow (never shrink without a second, explicit yes), cache, read-only and shareable."""
from __future__ import annotations

from PySide6.QtCore import QSignalBlocker
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDoubleSpinBox,
                               QFormLayout, QHBoxLayout, QPushButton, QStyle, QTableWidget,
                               QTableWidgetItem, QWidget)

from connectors.libvirt.domxml import Disk

from app.properties.session import CACHE_MODES
from app.properties.timing import disk_remove_when
from app.properties.words import GIB, MIB, size_bytes
from widgets.dialogs.properties.base import MarkLabel, Page, note, select_data

COLUMNS = ("Disk", "Bus", "Source", "Size", "Cache", "Read-only", "Shareable")


class DisksPage(Page):
    title = "Disks"
    icon = QStyle.StandardPixmap.SP_DriveHDIcon

    def __init__(self, session, prompts, parent=None) -> None:
        super().__init__(session, prompts, parent)
        self._disks: list[Disk] = []
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("disksTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(False)
        self.table.horizontalHeader().setSectionResizeMode(
            2, self.table.horizontalHeader().ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._selected)
        self.outer.addWidget(self.table, 1)
        buttons = QHBoxLayout()
        self.add_button = QPushButton("&Add Disk…")
        self.add_button.setObjectName("addDiskButton")
        self.add_button.clicked.connect(self._add)
        self.remove_button = QPushButton("&Remove…")
        self.remove_button.setObjectName("removeDiskButton")
        self.remove_button.clicked.connect(self._remove)
        self.remove_mark = MarkLabel()
        self.remove_mark.setProperty("custom", True)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addWidget(self.remove_mark)
        buttons.addStretch(1)
        self.outer.addLayout(buttons)
        form = QFormLayout()
        size_holder = QWidget()
        size_line = QHBoxLayout(size_holder)
        size_line.setContentsMargins(0, 0, 0, 0)
        self.size_spin = QDoubleSpinBox()
        self.size_spin.setObjectName("diskSizeSpin")
        self.size_spin.setDecimals(2)
        self.size_spin.setRange(0.01, 1024 * 1024)
        self.unit_combo = QComboBox()
        self.unit_combo.setObjectName("diskSizeUnit")
        self.unit_combo.addItem("MiB", MIB)
        self.unit_combo.addItem("GiB", GIB)
        self.unit_combo.activated.connect(self._unit_changed)
        self.resize_button = QPushButton("Resi&ze")
        self.resize_button.setObjectName("resizeButton")
        self.resize_button.clicked.connect(self._resize)
        size_line.addWidget(self.size_spin, 1)
        size_line.addWidget(self.unit_combo)
        size_line.addWidget(self.resize_button)
        self.row(form, "Si&ze:", size_holder, "disk_resize")
        self.cache_combo = QComboBox()
        self.cache_combo.setObjectName("diskCacheCombo")
        for mode in CACHE_MODES:
            self.cache_combo.addItem(mode, mode)
        self.cache_combo.activated.connect(self._flags_edited)
        self.row(form, "&Cache:", self.cache_combo, "disk_flags")
        self.readonly_check = QCheckBox("Read-only")
        self.readonly_check.setObjectName("readonlyCheck")
        self.shareable_check = QCheckBox("Shareable (other VMs may use it at the same time)")
        self.shareable_check.setObjectName("shareableCheck")
        for check in (self.readonly_check, self.shareable_check):
            check.toggled.connect(self._flags_edited)
        self.row(form, "", self.readonly_check, "disk_flags")
        self.row(form, "", self.shareable_check, None)
        self.outer.addLayout(form)
        self.outer.addWidget(note("CD/DVD drives are on their own page."))
        self.refresh()

    # ---- showing ----

    def refresh(self) -> None:
        current = self._current()
        self._disks = [d for d in self.session.edited.disks if d.device in ("disk", "lun")]
        with QSignalBlocker(self.table):
            self.table.setRowCount(len(self._disks))
            for row, disk in enumerate(self._disks):
                values = (disk.target_dev or "", disk.bus or "", self._source(disk),
                          self._size_text(disk), disk.cache or "default",
                          "yes" if disk.readonly else "", "yes" if disk.shareable else "")
                for column, value in enumerate(values):
                    self.table.setItem(row, column, QTableWidgetItem(value))
            self.table.resizeColumnsToContents()
            rows = [i for i, d in enumerate(self._disks)
                    if current is not None and d.element is current.element]
            self.table.selectRow(rows[0] if rows else 0)
        self._selected()

    def _source(self, disk: Disk) -> str:
        volume = self.session.new_volume(disk)
        if volume is not None:
            return f"new volume {volume.pool}/{volume.name}"
        return disk.source_path or ""

    def _capacity(self, disk: Disk) -> int | None:
        volume = self.session.new_volume(disk)
        if volume is not None:
            return volume.capacity
        size = self.session.disk_size(disk.target_dev or "")
        return size.capacity if size is not None else None

    def _size_text(self, disk: Disk) -> str:
        target = disk.target_dev or ""
        capacity = self._capacity(disk)
        if target in self.session.resizes:
            return f"{size_bytes(self.session.resizes[target])} (was " \
                   f"{size_bytes(capacity or 0)})"
        return size_bytes(capacity) if capacity is not None else "unknown"

    def _current(self) -> Disk | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() \
            else []
        if rows and rows[0].row() < len(self._disks):
            return self._disks[rows[0].row()]
        return None

    def _selected(self) -> None:
        disk = self._current()
        has = disk is not None
        for widget in (self.remove_button, self.cache_combo, self.readonly_check,
                       self.shareable_check):
            widget.setEnabled(has)
        if disk is None:
            for sizing in (self.size_spin, self.unit_combo, self.resize_button):
                sizing.setEnabled(False)
            self.remove_mark.set_when(None)
            return
        existing = self.session.origin(disk) is not None
        capacity = self._capacity(disk)
        resizable = existing and capacity is not None
        for sizing in (self.size_spin, self.unit_combo, self.resize_button):
            sizing.setEnabled(resizable)
        self.remove_mark.set_when(disk_remove_when(self.session, disk))
        target = disk.target_dev or ""
        self._show_size(self.session.resizes.get(target, capacity or 0))
        if existing and capacity is None:
            self.size_spin.setToolTip("Not a volume of a storage pool: HVConsole cannot "
                                      "resize it.")
        select_data(self.cache_combo, disk.cache or "default")
        with QSignalBlocker(self.readonly_check):
            self.readonly_check.setChecked(disk.readonly)
        with QSignalBlocker(self.shareable_check):
            self.shareable_check.setChecked(disk.shareable)

    # ---- edits ----

    def _add(self) -> None:
        choice = self.prompts.choose_new_disk(self.session)
        if choice is None:
            return
        if choice.new_volume is not None:
            disk = self.session.add_new_disk(choice.new_volume, choice.pool_path,
                                             bus=choice.bus, cache=choice.cache)
        else:
            disk = self.session.add_existing_disk(choice.existing_path or "",
                                                  bus=choice.bus, cache=choice.cache,
                                                  fmt=choice.existing_format)
        self.refresh()
        self.table.selectRow(next(i for i, d in enumerate(self._disks)
                                  if d.element is disk.element))

    def _remove(self) -> None:
        disk = self._current()
        if disk is None:
            return
        original = self.session.origin(disk)
        size = self.session.disk_size(disk.target_dev or "") if original else None
        volume = disk.source_path if size is not None and size.pool else None
        ok, delete = self.prompts.confirm_removal(f"disk {disk.target_dev}", volume)
        if not ok:
            return
        self.session.remove_device(disk, delete_volume=volume if delete else None)
        self.refresh()

    def _resize(self) -> None:
        disk = self._current()
        if disk is None:
            return
        target = disk.target_dev or ""
        capacity = self._capacity(disk) or 0
        wanted = int(round(self.size_spin.value() * self._unit()))
        if abs(wanted - capacity) < 1024 * 1024:
            wanted = capacity
        if wanted < capacity and not self.prompts.confirm_shrink(target, capacity, wanted):
            self._show_size(self.session.resizes.get(target, capacity))
            return
        self.session.resize(target, wanted, shrink_confirmed=wanted < capacity)
        self.refresh()

    def _unit(self) -> int:
        return int(self.unit_combo.currentData())

    def _show_size(self, size: int) -> None:
        """In GiB from 1 GiB up, else in MiB."""
        with QSignalBlocker(self.unit_combo):
            self.unit_combo.setCurrentIndex(1 if size >= GIB else 0)
        with QSignalBlocker(self.size_spin):
            self.size_spin.setValue(size / self._unit())

    def _unit_changed(self) -> None:
        other = GIB if self._unit() == MIB else MIB
        with QSignalBlocker(self.size_spin):
            self.size_spin.setValue(self.size_spin.value() * other / self._unit())

    def _flags_edited(self) -> None:
        disk = self._current()
        if disk is None:
            return
        cache = self.cache_combo.currentData()
        if (disk.cache or "default") != cache:
            disk.cache = None if cache == "default" else cache
        if disk.readonly != self.readonly_check.isChecked():
            disk.readonly = self.readonly_check.isChecked()
        if disk.shareable != self.shareable_check.isChecked():
            disk.shareable = self.shareable_check.isChecked()
        self.edited()
        self.refresh()

    def problems(self) -> list[str]:
        found = []
        for target, wanted in self.session.resizes.items():
            size = self.session.disk_size(target)
            if size is not None and wanted < size.capacity and \
                    target not in self.session.shrink_confirmed:
                found.append(f"Shrinking {target} needs your explicit confirmation.")
        return found
