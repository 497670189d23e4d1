"""Page 2, Operating system: what osinfo-db detected, or a searchable list of every OS
it knows (plus "Generic"). The choice sets the next pages' defaults."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout

from app.new_vm.validation import os_problems
from connectors.libvirt.osinfo import GENERIC, GENERIC_LINUX

from .common import CheckedPage

ENTRY_ROLE = Qt.ItemDataRole.UserRole


class OsPage(CheckedPage):
    def __init__(self, wizard) -> None:
        super().__init__(wizard, "Operating system",
                         "The OS decides the defaults: memory, disk, virtio devices, "
                         "firmware.")
        self.detected = QLabel()
        self.detected.setObjectName("osDetected")
        self.detected.setWordWrap(True)
        self.search = QLineEdit()
        self.search.setObjectName("osSearch")
        self.search.setPlaceholderText("Search: debian 12, fedora, windows…")
        self.search.setClearButtonEnabled(True)
        self.list = QListWidget()
        self.list.setObjectName("osList")
        layout = QVBoxLayout(self)
        layout.addWidget(self.detected)
        layout.addWidget(self.search)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.problem)
        self.search.textChanged.connect(self._fill)
        self.list.currentItemChanged.connect(self._picked)

    def initializePage(self) -> None:  # noqa: N802 (Qt's name)
        plan = self.plan
        if plan.os_detected and plan.os is not None:
            self.detected.setText(f"Detected from the {self._medium()}: <b>{plan.os.name}</b>."
                                  " Pick another below if that is wrong.")
        else:
            self.detected.setText(f"The {self._medium()} does not say which OS it is: "
                                  "pick it, or Generic.")
        self.search.clear()
        self._fill()

    def _medium(self) -> str:
        return {"iso": "disc", "url": "install tree"}.get(self.plan.source.value, "source")

    def _entries(self) -> list:
        db = self.wiz.session.osdb
        text = self.search.text().strip()
        found = db.search(text) if db is not None and text else (db.all() if db else [])
        generic = [e for e in (GENERIC, GENERIC_LINUX)
                   if not text or text.lower() in e.name.lower()]
        return generic + found

    def _fill(self, *_args) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        current = self.plan.os
        for entry in self._entries():
            item = QListWidgetItem(entry.name)
            item.setData(ENTRY_ROLE, entry)
            if entry.eol_date:
                item.setToolTip(f"End of life {entry.eol_date}")
            self.list.addItem(item)
            if current is not None and entry.id == current.id:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        if self.list.currentItem() is not None:
            self.list.scrollToItem(self.list.currentItem(),
                                   QListWidget.ScrollHint.PositionAtCenter)
        self.changed()

    def _picked(self, item, _previous) -> None:
        if item is not None:
            entry = item.data(ENTRY_ROLE)
            if self.plan.os is None or entry.id != self.plan.os.id:
                self.plan.os, self.plan.os_detected = entry, False
        self.changed()

    def choose(self, short_id: str) -> bool:
        """Select an OS by its short id (tests and scripts)."""
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(ENTRY_ROLE).short_id == short_id:
                self.list.setCurrentItem(item)
                return True
        return False

    def problems(self) -> list[str]:
        return os_problems(self.plan, self.facts)
