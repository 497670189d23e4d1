"""Serial consoles: the VM's serial ports and consoles; add a serial port on a pty
(``virsh console``), remove one."""
from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QListWidget, QPushButton, QStyle

from connectors.libvirt import domxml
from connectors.libvirt.domxml import CharDevice, Console, Serial

from app.properties import timing
from app.properties.describe import device_label, upper_first
from widgets.dialogs.properties.base import MarkLabel, Page, note


class SerialPage(Page):
    title = "Serial"
    icon = QStyle.StandardPixmap.SP_FileDialogDetailedView

    def __init__(self, session, prompts, parent=None) -> None:
        super().__init__(session, prompts, parent)
        self._ports: list[CharDevice] = []
        self.port_list = QListWidget()
        self.port_list.setObjectName("serialList")
        self.port_list.currentRowChanged.connect(lambda _r: self._selected())
        self.port_list.setMaximumHeight(150)
        self.outer.addWidget(self.port_list)
        buttons = QHBoxLayout()
        self.add_button = QPushButton("&Add Serial Port")
        self.add_button.setObjectName("addSerialButton")
        self.add_button.clicked.connect(self._add)
        self.remove_button = QPushButton("&Remove")
        self.remove_button.setObjectName("removeSerialButton")
        self.remove_button.clicked.connect(self._remove)
        self.plug_mark = mark = MarkLabel()
        mark.setProperty("custom", True)
        mark.set_when(timing.when(session, "serial"))
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addWidget(mark)
        buttons.addStretch(1)
        self.outer.addLayout(buttons)
        self.outer.addWidget(note("A serial port on a pty is what “virsh console” reaches; "
                                  "the console device shows the first serial port."))
        self.refresh()

    def refresh(self) -> None:
        dom = self.session.edited
        self._ports = [d for d in dom.devices if isinstance(d, (Serial, Console))]
        self.port_list.clear()
        for port in self._ports:
            where = f": {port.source_path}" if port.source_path else ""
            self.port_list.addItem(upper_first(device_label(port)) + where)
        self._selected()

    def _selected(self) -> None:
        self.remove_button.setEnabled(0 <= self.port_list.currentRow() < len(self._ports))

    def _add(self) -> None:
        taken = {p.target_port for p in self.session.edited.devices_of(Serial)}
        port = next(n for n in range(0, 32) if n not in taken)
        self.session.add_device(domxml.new_serial("pty", port=port))
        self.refresh()
        self.port_list.setCurrentRow(self.port_list.count() - 1)

    def _remove(self) -> None:
        row = self.port_list.currentRow()
        if not 0 <= row < len(self._ports):
            return
        port = self._ports[row]
        ok, _ = self.prompts.confirm_removal(device_label(port), None)
        if ok:
            self.session.remove_device(port)
            self.refresh()
