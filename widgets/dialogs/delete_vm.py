"""Asks before deleting VMs, and whether their disks go too (that part cannot be undone)."""
from __future__ import annotations

from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QLabel, QTreeWidget,
                               QTreeWidgetItem, QVBoxLayout, QWidget)

from app.commands import DeleteChoice


class DeleteVMDialog(QDialog):
    def __init__(self, vms: list, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Delete VM" if len(vms) == 1 else f"Delete {len(vms)} VMs")
        layout = QVBoxLayout(self)
        what = f"the VM {vms[0].name}" if len(vms) == 1 else f"these {len(vms)} VMs"
        intro = QLabel(f"Delete {what}? Their definitions are removed from the host.")
        intro.setWordWrap(True)
        layout.addWidget(intro)

        self.list = QTreeWidget()
        self.list.setHeaderLabels(["VM / disk", "Source"])
        self.list.setRootIsDecorated(True)
        for vm in vms:
            item = QTreeWidgetItem([vm.name, vm.state.label])
            for disk in vm.disks:
                if disk.device not in ("disk", "lun"):
                    continue
                item.addChild(QTreeWidgetItem([disk.target, disk.source or "(empty)"]))
            self.list.addTopLevelItem(item)
        self.list.expandAll()
        self.list.resizeColumnToContents(0)
        layout.addWidget(self.list)

        self.storage = QCheckBox(
            "Also delete the storage volumes of these VMs (cannot be undone)")
        layout.addWidget(self.storage)

        buttons = QDialogButtonBox(QDialogButtonBox.Cancel)
        self.delete_button = buttons.addButton("Delete", QDialogButtonBox.DestructiveRole)
        self.delete_button.setAutoDefault(False)
        self.delete_button.setDefault(False)
        cancel = buttons.button(QDialogButtonBox.Cancel)
        cancel.setDefault(True)
        cancel.setFocus()
        self.delete_button.clicked.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(520, 340)

    def choice(self) -> DeleteChoice:
        return DeleteChoice(delete_storage=self.storage.isChecked())


def ask_delete(vms: list, parent: QWidget | None = None) -> DeleteChoice | None:
    dialog = DeleteVMDialog(vms, parent)
    return dialog.choice() if dialog.exec() == QDialog.Accepted else None
