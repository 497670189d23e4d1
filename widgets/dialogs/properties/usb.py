"""USB host devices: a device plugged into the host, given to the VM (listed from the
host's own node device list, so a remote host's devices show, not this computer's)."""
from __future__ import annotations

from PySide6.QtWidgets import (QHBoxLayout, QLabel, QListWidget, QListWidgetItem,
                               QPushButton, QStyle)

from connectors.libvirt import domxml
from connectors.libvirt.domxml import Hostdev

from app.properties import timing
from app.properties.describe import device_label, upper_first
from widgets.dialogs.properties.base import MarkLabel, Page, note

NO_USB = "The host lists no USB devices (libvirt's node devices of type usb_device)."


class UsbPage(Page):
    title = "USB"
    icon = QStyle.StandardPixmap.SP_DriveFDIcon

    def __init__(self, session, prompts, parent=None) -> None:
        super().__init__(session, prompts, parent)
        self._attached: list[Hostdev] = []
        self.outer.addWidget(QLabel("Given to this VM:"))
        self.attached_list = QListWidget()
        self.attached_list.setObjectName("attachedUsbList")
        self.outer.addWidget(self.attached_list, 1)
        buttons = QHBoxLayout()
        self.remove_button = QPushButton("&Remove")
        self.remove_button.setObjectName("removeUsbButton")
        self.remove_button.clicked.connect(self._remove)
        self.plug_mark = mark = MarkLabel()
        mark.setProperty("custom", True)
        mark.set_when(timing.when(session, "usb"))
        buttons.addWidget(self.remove_button)
        buttons.addWidget(mark)
        buttons.addStretch(1)
        self.outer.addLayout(buttons)
        self.outer.addWidget(QLabel("Plugged into the host:"))
        self.host_list = QListWidget()
        self.host_list.setObjectName("hostUsbList")
        for usb in session.data.usb:
            item = QListWidgetItem(usb.label)
            item.setData(256, usb)
            self.host_list.addItem(item)
        self.outer.addWidget(self.host_list, 1)
        self.attach_button = QPushButton("&Attach to this VM")
        self.attach_button.setObjectName("attachUsbButton")
        self.attach_button.clicked.connect(self._attach)
        self.outer.addWidget(self.attach_button)
        if not session.data.usb:
            self.attach_button.setEnabled(False)
            self.attach_button.setToolTip(NO_USB)
            self.outer.addWidget(note(NO_USB))
        self.refresh()

    def refresh(self) -> None:
        self._attached = [h for h in self.session.edited.hostdevs if h.type == "usb"]
        self.attached_list.clear()
        for dev in self._attached:
            self.attached_list.addItem(upper_first(device_label(dev)))
        self.remove_button.setEnabled(bool(self._attached))

    def problems(self) -> list[str]:
        ids = [h.usb_ids for h in self._attached if h.usb_ids]
        return [f"The USB device {v:04x}:{p:04x} is given to this VM twice."
                for (v, p) in {i for i in ids if ids.count(i) > 1}]

    def _attach(self) -> None:
        item = self.host_list.currentItem()
        if item is None:
            return
        usb = item.data(256)
        self.session.add_device(domxml.new_usb_hostdev(usb.vendor_id, usb.product_id))
        self.refresh()
        self.show_problems()

    def _remove(self) -> None:
        row = self.attached_list.currentRow()
        if not 0 <= row < len(self._attached):
            row = 0 if self._attached else -1
        if row < 0:
            return
        dev = self._attached[row]
        ok, _ = self.prompts.confirm_removal(device_label(dev), None)
        if ok:
            self.session.remove_device(dev)
            self.refresh()
