"""Boot: the order of the devices the VM boots from, the boot menu, the firmware (only
while the VM is shut off) and direct kernel boot."""
from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLineEdit,
                               QListWidget, QListWidgetItem, QPushButton, QStyle,
                               QVBoxLayout, QWidget)

from connectors.libvirt.domxml import Device, Disk, Interface

from app.properties.describe import device_label, upper_first
from widgets.dialogs.properties.base import Page, offer_item, select_data

FIRMWARE_RUNNING = "The firmware changes only while the VM is shut off."
KIND_OF = {"hd": ("disk",), "cdrom": ("cdrom",), "network": ("interface",),
           "fd": ("floppy",)}


def _kind(dev: Device) -> str:
    if isinstance(dev, Disk):
        return dev.device
    return dev.kind


class BootPage(Page):
    title = "Boot"
    icon = QStyle.StandardPixmap.SP_MediaPlay

    def __init__(self, session, prompts, parent=None) -> None:
        super().__init__(session, prompts, parent)
        self._devices: list[Device] = []
        holder = QWidget()
        line = QHBoxLayout(holder)
        line.setContentsMargins(0, 0, 0, 0)
        self.order_list = QListWidget()
        self.order_list.setObjectName("bootOrderList")
        self.order_list.itemChanged.connect(lambda _item: self._order_edited())
        line.addWidget(self.order_list, 1)
        buttons = QVBoxLayout()
        self.up_button = QPushButton("&Up")
        self.down_button = QPushButton("Do&wn")
        self.up_button.clicked.connect(lambda: self._move(-1))
        self.down_button.clicked.connect(lambda: self._move(1))
        buttons.addWidget(self.up_button)
        buttons.addWidget(self.down_button)
        buttons.addStretch(1)
        line.addLayout(buttons)
        form = QFormLayout()
        self.row(form, "Boot &order:", holder, "boot")
        self.menu_check = QCheckBox("Show the boot menu at start")
        self.menu_check.setObjectName("bootMenuCheck")
        self.menu_check.toggled.connect(self._menu_edited)
        self.row(form, "", self.menu_check, "boot")
        self.firmware_combo = QComboBox()
        self.firmware_combo.setObjectName("firmwareCombo")
        caps = session.data.domain
        offer_item(self.firmware_combo, "BIOS", "bios")
        uefi = caps.uefi() if caps is not None else None
        offer_item(self.firmware_combo, "UEFI", "efi",
                   uefi.reason if uefi is not None and not uefi else "")
        secure = caps.secure_boot() if caps is not None else None
        offer_item(self.firmware_combo, "UEFI with Secure Boot", "efi-secure",
                   secure.reason if secure is not None and not secure else "")
        self.firmware_combo.activated.connect(self._firmware_edited)
        if session.running:
            self.firmware_combo.setEnabled(False)
            self.firmware_combo.setToolTip(FIRMWARE_RUNNING)
        self.row(form, "&Firmware:", self.firmware_combo, "firmware")
        self.kernel_check = QCheckBox("Boot a kernel directly (no boot loader)")
        self.kernel_check.setObjectName("kernelCheck")
        self.kernel_check.toggled.connect(self._kernel_edited)
        self.row(form, "", self.kernel_check, "kernel")
        self.kernel_edit, self.initrd_edit, self.cmdline_edit = (QLineEdit(), QLineEdit(),
                                                                 QLineEdit())
        for label, edit, name in (("&Kernel:", self.kernel_edit, "kernelEdit"),
                                  ("&Initrd:", self.initrd_edit, "initrdEdit"),
                                  ("Command &line:", self.cmdline_edit, "cmdlineEdit")):
            edit.setObjectName(name)
            edit.textEdited.connect(lambda _t: self._kernel_edited())
            form.addRow(label, edit)
        self.outer.addLayout(form)
        self.outer.addStretch(1)
        self.refresh()

    def refresh(self) -> None:
        dom = self.session.edited
        os_node = dom.os
        ordered = dom.boot_order()
        bootable = [d for d in dom.devices if isinstance(d, (Disk, Interface))]
        if not ordered and os_node.boot_devices:
            for kind in os_node.boot_devices:
                ordered += [d for d in bootable if _kind(d) in KIND_OF.get(kind, ())]
        rest: list[Device] = [d for d in bootable
                              if all(d.element is not o.element for o in ordered)]
        self._devices = ordered + rest
        with QSignalBlocker(self.order_list):
            self.order_list.clear()
            for dev in self._devices:
                item = QListWidgetItem(upper_first(device_label(dev)))
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked
                                   if any(dev.element is o.element for o in ordered)
                                   else Qt.CheckState.Unchecked)
                self.order_list.addItem(item)
        with QSignalBlocker(self.menu_check):
            self.menu_check.setChecked(bool(os_node.bootmenu))
        firmware = os_node.firmware or "bios"
        if firmware == "efi" and os_node.secure_boot:
            firmware = "efi-secure"
        select_data(self.firmware_combo, firmware)
        with QSignalBlocker(self.kernel_check):
            self.kernel_check.setChecked(os_node.direct_kernel_boot)
        for edit, value in ((self.kernel_edit, os_node.kernel),
                            (self.initrd_edit, os_node.initrd),
                            (self.cmdline_edit, os_node.cmdline)):
            with QSignalBlocker(edit):
                edit.setText(value or "")
                edit.setEnabled(os_node.direct_kernel_boot)
        self.show_problems()

    def problems(self) -> list[str]:
        if self.kernel_check.isChecked() and not self.kernel_edit.text().strip():
            return ["Direct kernel boot needs the kernel's path on the host."]
        return []

    # ---- edits ----

    def _move(self, step: int) -> None:
        row = self.order_list.currentRow()
        other = row + step
        if row < 0 or not 0 <= other < self.order_list.count():
            return
        with QSignalBlocker(self.order_list):
            item = self.order_list.takeItem(row)
            self.order_list.insertItem(other, item)
            self.order_list.setCurrentRow(other)
        self._devices.insert(other, self._devices.pop(row))
        self._order_edited()

    def _order_edited(self) -> None:
        chosen = [dev for i, dev in enumerate(self._devices)
                  if self.order_list.item(i).checkState() == Qt.CheckState.Checked]
        self.session.edited.set_boot_order(chosen)
        self.edited()

    def _menu_edited(self, on: bool) -> None:
        self.session.edited.os.bootmenu = True if on else None
        if not on:
            self.session.edited.os.bootmenu_timeout = None
        self.edited()

    def _firmware_edited(self) -> None:
        choice = self.firmware_combo.currentData()
        if choice == "bios":
            self.session.edited.set_firmware(None)
        else:
            self.session.edited.set_firmware(
                "efi", secure_boot=True if choice == "efi-secure" else None)
        self.edited()

    def _kernel_edited(self) -> None:
        on = self.kernel_check.isChecked()
        os_node = self.session.edited.os
        for edit in (self.kernel_edit, self.initrd_edit, self.cmdline_edit):
            edit.setEnabled(on)
        os_node.kernel = self.kernel_edit.text().strip() or None if on else None
        os_node.initrd = self.initrd_edit.text().strip() or None if on else None
        os_node.cmdline = self.cmdline_edit.text() or None if on else None
        self.edited()
