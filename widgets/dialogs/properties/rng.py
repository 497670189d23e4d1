"""RNG: a virtio random number generator fed from the host's entropy."""
from __future__ import annotations

from PySide6.QtCore import QSignalBlocker
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QStyle

from connectors.libvirt import domxml
from connectors.libvirt.domxml import Rng

from widgets.dialogs.properties.base import Page, note, select_data

SOURCES = ("/dev/urandom", "/dev/random")


class RngPage(Page):
    title = "RNG"
    icon = QStyle.StandardPixmap.SP_BrowserReload

    def __init__(self, session, prompts, parent=None) -> None:
        super().__init__(session, prompts, parent)
        form = QFormLayout()
        self.present_check = QCheckBox("A random number generator (virtio-rng)")
        self.present_check.setObjectName("rngCheck")
        self.present_check.toggled.connect(self._edited)
        self.row(form, "", self.present_check, "rng")
        self.source_combo = QComboBox()
        self.source_combo.setObjectName("rngSourceCombo")
        for source in SOURCES:
            self.source_combo.addItem(source, source)
        self.source_combo.activated.connect(self._edited)
        self.row(form, "&Host source:", self.source_combo, None)
        self.outer.addLayout(form)
        self.outer.addWidget(note("Guests without one wait for entropy at boot (SSH keys, "
                                  "TLS). A running VM gets it at once."))
        self.outer.addStretch(1)
        self.refresh()

    def _rng(self) -> Rng | None:
        found = self.session.edited.devices_of(Rng)
        return found[0] if found else None

    def refresh(self) -> None:
        rng = self._rng()
        with QSignalBlocker(self.present_check):
            self.present_check.setChecked(rng is not None)
        select_data(self.source_combo, (rng.source or "/dev/urandom") if rng else
                    "/dev/urandom")
        self.source_combo.setEnabled(rng is not None and rng.backend_model == "random")
        self.show_problems()

    def _edited(self) -> None:
        rng = self._rng()
        source = self.source_combo.currentData()
        if not self.present_check.isChecked():
            if rng is not None:
                self.session.remove_device(rng)
        elif rng is None:
            self.session.add_device(domxml.new_rng(source))
        elif rng.backend_model == "random" and rng.source != source:
            rng.source = source
            self.edited()
        self.refresh()
