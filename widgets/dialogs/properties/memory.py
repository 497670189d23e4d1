"""Memory: what the VM starts with (its most), what it has now, and the balloon that
moves memory between the two while it runs."""
from __future__ import annotations

from PySide6.QtCore import QSignalBlocker
from PySide6.QtWidgets import QCheckBox, QFormLayout, QSpinBox, QStyle

from connectors.libvirt import domxml

from widgets.dialogs.properties.base import Page, note

MIB = 1024


class MemoryPage(Page):
    title = "Memory"
    icon = QStyle.StandardPixmap.SP_DriveFDIcon

    def __init__(self, session, prompts, parent=None) -> None:
        super().__init__(session, prompts, parent)
        form = QFormLayout()
        self.memory_spin = self._spin("memorySpin")
        self.row(form, "Memory at &most (MiB):", self.memory_spin, "memory")
        self.current_spin = self._spin("currentMemorySpin")
        self.row(form, "&Current allocation (MiB):", self.current_spin, "current_memory")
        self.balloon_check = QCheckBox("Memory balloon (the guest can give memory back)")
        self.balloon_check.setObjectName("balloonCheck")
        self.balloon_check.toggled.connect(self._balloon_edited)
        self.row(form, "", self.balloon_check, "balloon")
        self.outer.addLayout(form)
        self.outer.addWidget(note(
            "A running VM's current allocation changes through the balloon, between a "
            "little and its memory at most; the most it can have changes at its next start."))
        self.outer.addStretch(1)
        self.refresh()

    def _spin(self, name: str) -> QSpinBox:
        spin = QSpinBox()
        spin.setObjectName(name)
        spin.setRange(1, 16 * 1024 * 1024)
        spin.setSingleStep(128)
        spin.valueChanged.connect(self._memory_edited)
        return spin

    def refresh(self) -> None:
        dom = self.session.edited
        for spin, kib in ((self.memory_spin, dom.memory_kib),
                          (self.current_spin, dom.current_memory_kib)):
            with QSignalBlocker(spin):
                spin.setValue((kib or 0) // MIB)
        with QSignalBlocker(self.balloon_check):
            balloon = self._balloon()
            self.balloon_check.setChecked(balloon is not None
                                          and (balloon.model or "") != "none")
        self.show_problems()

    def problems(self) -> list[str]:
        if self.current_spin.value() > self.memory_spin.value():
            return [f"The current allocation ({self.current_spin.value()} MiB) is more than "
                    f"the memory at most ({self.memory_spin.value()} MiB)."]
        return []

    def _balloon(self) -> domxml.Memballoon | None:
        found = self.session.edited.devices_of(domxml.Memballoon)
        return found[0] if found else None

    # ---- edits ----

    def _memory_edited(self) -> None:
        dom = self.session.edited
        most, now = self.memory_spin.value() * MIB, self.current_spin.value() * MIB
        if now <= most:
            # Untouched values keep their KiB precision (a definition in bytes or GB).
            if most // MIB == (self.session.original.memory_kib or 0) // MIB:
                most = self.session.original.memory_kib or most
            if now // MIB == (self.session.original.current_memory_kib or 0) // MIB:
                now = min(self.session.original.current_memory_kib or now, most)
            dom.set_memory(most, now)
        self.edited()

    def _balloon_edited(self, on: bool) -> None:
        balloon = self._balloon()
        if balloon is None:
            self.session.add_device(domxml.new_memballoon("virtio" if on else "none"))
            return
        balloon.model = "virtio" if on else "none"
        self.edited()
