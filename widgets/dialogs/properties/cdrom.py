"""CD/DVD: which disc is in each drive; insert an ISO image from the host's storage
pools, or eject (forced when the guest has locked the tray: it is using the disc)."""
from __future__ import annotations

from PySide6.QtCore import QSignalBlocker
from PySide6.QtWidgets import (QComboBox, QFormLayout, QHBoxLayout, QLabel, QListWidget,
                               QPushButton, QStyle)

from connectors.libvirt.domxml import Disk

from widgets.dialogs.properties.base import Page, note

NO_ISOS = ("No ISO image is in the host's active storage pools: upload one to a pool "
           "(Storage) first.")


class CdromPage(Page):
    title = "CD/DVD"
    icon = QStyle.StandardPixmap.SP_DriveCDIcon

    def __init__(self, session, prompts, parent=None) -> None:
        super().__init__(session, prompts, parent)
        self._drives: list[Disk] = []
        self.drive_list = QListWidget()
        self.drive_list.setObjectName("driveList")
        self.drive_list.currentRowChanged.connect(lambda _row: self._selected())
        self.drive_list.setMaximumHeight(150)
        self.outer.addWidget(self.drive_list)
        form = QFormLayout()
        self.media_label = QLabel()
        self.media_label.setObjectName("mediaLabel")
        self.row(form, "In the drive:", self.media_label, "cd_media")
        self.iso_combo = QComboBox()
        self.iso_combo.setObjectName("isoCombo")
        for iso in session.data.isos:
            self.iso_combo.addItem(f"{iso.pool}/{iso.name}", iso.path)
        if not session.data.isos:
            self.iso_combo.setEnabled(False)
            self.iso_combo.setToolTip(NO_ISOS)
        form.addRow("&ISO image:", self.iso_combo)
        buttons = QHBoxLayout()
        self.insert_button = QPushButton("&Insert")
        self.insert_button.setObjectName("insertButton")
        self.insert_button.clicked.connect(self._insert)
        self.eject_button = QPushButton("&Eject")
        self.eject_button.setObjectName("ejectButton")
        self.eject_button.clicked.connect(self._eject)
        buttons.addWidget(self.insert_button)
        buttons.addWidget(self.eject_button)
        buttons.addStretch(1)
        form.addRow("", buttons)
        self.outer.addLayout(form)
        if not session.data.isos:
            self.outer.addWidget(note(NO_ISOS))
        if session.running:
            self.outer.addWidget(note(
                "A guest that is using the disc locks the drive's tray; Eject then takes "
                "the disc out anyway, and says so."))
        self.refresh()

    def refresh(self) -> None:
        row = max(self.drive_list.currentRow(), 0)
        self._drives = [d for d in self.session.edited.disks if d.is_removable]
        with QSignalBlocker(self.drive_list):
            self.drive_list.clear()
            for drive in self._drives:
                media = self.session.wanted_media(drive)
                self.drive_list.addItem(f"{drive.target_dev} ({drive.bus}): "
                                        f"{media or 'empty'}")
            if self._drives:
                self.drive_list.setCurrentRow(min(row, len(self._drives) - 1))
        self._selected()

    def _current(self) -> Disk | None:
        row = self.drive_list.currentRow()
        return self._drives[row] if 0 <= row < len(self._drives) else None

    def _selected(self) -> None:
        drive = self._current()
        media = self.session.wanted_media(drive) if drive is not None else None
        self.media_label.setText(media or ("empty" if drive is not None else
                                           "This VM has no CD/DVD drive."))
        self.insert_button.setEnabled(drive is not None and bool(self.session.data.isos))
        self.eject_button.setEnabled(media is not None)

    def _insert(self) -> None:
        drive = self._current()
        path = self.iso_combo.currentData()
        if drive is None or not path:
            return
        self.session.set_media(drive, path)
        self.refresh()

    def _eject(self) -> None:
        drive = self._current()
        if drive is None:
            return
        self.session.set_media(drive, None)
        self.refresh()
