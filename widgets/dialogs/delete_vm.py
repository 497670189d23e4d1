"""Asks before deleting VMs, says what happens to each, and whether their disks go too.

Each VM is listed with its server (VMs of several servers may be selected at once), its
state, and what deleting does to it: a running VM is forced off first, which loses what
the guest had not saved, so the dialog says so on its row and above the list. The disks
follow the "Also delete" box as the user ticks it. Cancel is the default button.
"""
from __future__ import annotations

from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QHeaderView, QLabel,
                               QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from app import colours
from app.commands import DeleteChoice, DeleteTarget
from connectors.libvirt.model import DiskInfo, VMInfo

COLUMNS = ("VM", "Server", "State", "What happens")
VM, SERVER, STATE, WHAT = range(4)


def what_happens(vm: VMInfo) -> str:
    """What deleting does to the VM itself (the connector's delete_vm, in words)."""
    if vm.state.is_active:
        return "will be forced off, then deleted" if vm.persistent else \
            "will be forced off (a transient VM is then gone)"
    if vm.managed_save:
        return "its saved memory is discarded, then it is deleted"
    return "will be deleted"


def _deletable(disk: DiskInfo) -> bool:
    """The disks the connector deletes with "Also delete" ticked."""
    return disk.device == "disk" and not disk.readonly and bool(disk.source)


def _disk_fate(disk: DiskInfo, delete_storage: bool) -> str:
    source = disk.source or "no image"
    if not delete_storage:
        return f"kept: {source}"
    if not _deletable(disk):
        return f"kept ({'read-only' if disk.readonly else 'nothing to delete'}): {source}"
    return f"deleted if in a storage pool: {source}"


def intro_text(targets: list[DeleteTarget]) -> str:
    servers = {t.server for t in targets}
    if len(targets) == 1:
        return (f"Delete the VM {targets[0].vm.name} on {targets[0].server}? Its definition "
                "is removed from the server.")
    if len(servers) == 1:
        return (f"Delete these {len(targets)} VMs on {next(iter(servers))}? Their "
                "definitions are removed from the server.")
    return (f"Delete these {len(targets)} VMs on {len(servers)} servers? Their "
            "definitions are removed from their servers.")


def warning_text(targets: list[DeleteTarget]) -> str:
    """What deleting running VMs costs; "" when none is running."""
    running = [t.vm for t in targets if t.vm.state.is_active]
    if len(running) == 1:
        return (f"{running[0].name} is {running[0].state.value}: it will be forced off "
                "first, like pulling the power cord, and what the guest has not saved is "
                "lost.")
    if running:
        states = " or ".join(sorted({vm.state.value for vm in running}))
        return (f"{len(running)} of them are {states}: they will be forced off first, "
                "like pulling the power cord, and what the guests have not saved is lost.")
    return ""


class DeleteVMDialog(QDialog):
    def __init__(self, targets: list[DeleteTarget], parent: QWidget | None = None):
        super().__init__(parent)
        self.targets = list(targets)
        one = len(self.targets) == 1
        title = "Delete VM" if one else f"Delete {len(self.targets)} VMs"
        self.setWindowTitle(title)
        layout = QVBoxLayout(self)
        self.intro = QLabel(intro_text(self.targets))
        self.intro.setObjectName("deleteIntro")
        self.intro.setWordWrap(True)
        layout.addWidget(self.intro)
        self.warning = QLabel(warning_text(self.targets))
        self.warning.setObjectName("deleteWarning")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(colours.style(colours.ERROR) + " font-weight: bold;")
        self.warning.setVisible(bool(self.warning.text()))
        layout.addWidget(self.warning)

        self.list = QTreeWidget()
        self.list.setHeaderLabels(list(COLUMNS))
        self.list.setRootIsDecorated(True)
        self.list.setUniformRowHeights(True)
        self._disk_rows: list[tuple[QTreeWidgetItem, DiskInfo]] = []
        for target in self.targets:
            vm = target.vm
            item = QTreeWidgetItem([vm.name, target.server, vm.state.label, what_happens(vm)])
            for disk in vm.disks:
                if disk.device not in ("disk", "lun"):
                    continue        # CD images belong to no one VM
                child = QTreeWidgetItem([disk.target, "", "", ""])
                item.addChild(child)
                self._disk_rows.append((child, disk))
            self.list.addTopLevelItem(item)
        self.list.expandAll()
        header = self.list.header()
        for column in (VM, SERVER, STATE):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        layout.addWidget(self.list)

        whose = "this VM's" if one else "these VMs'"
        self.storage = QCheckBox(f"Also delete {whose} disk images (cannot be undone)")
        self.storage.setToolTip("Images in a libvirt storage pool are deleted; a file "
                                "outside any pool is left in place and named in the "
                                "Events log")
        self.storage.toggled.connect(self._show_disk_fates)
        layout.addWidget(self.storage)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.delete_button = buttons.addButton(title, QDialogButtonBox.ButtonRole.DestructiveRole)
        self.delete_button.setAutoDefault(False)
        self.cancel_button = buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.delete_button.clicked.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        # Default only once inside the dialog (else the dialog picks its own default).
        self.delete_button.setDefault(False)
        self.cancel_button.setDefault(True)
        self.cancel_button.setFocus()
        self._show_disk_fates()
        self.resize(640, 340)

    def choice(self) -> DeleteChoice:
        return DeleteChoice(delete_storage=self.storage.isChecked())

    def rows(self) -> list[list[str]]:
        """What the list shows, row by row (VMs, each followed by its disks)."""
        out = []
        for i in range(self.list.topLevelItemCount()):
            item = self.list.topLevelItem(i)
            if item is None:
                continue
            out.append([item.text(c) for c in range(len(COLUMNS))])
            children = (item.child(j) for j in range(item.childCount()))
            out += [[child.text(c) for c in range(len(COLUMNS))]
                    for child in children if child is not None]
        return out

    def _show_disk_fates(self) -> None:
        delete = self.storage.isChecked()
        for item, disk in self._disk_rows:
            item.setText(WHAT, _disk_fate(disk, delete))


def ask_delete(targets: list[DeleteTarget], parent: QWidget | None = None
               ) -> DeleteChoice | None:
    dialog = DeleteVMDialog(targets, parent)
    return dialog.choice() if dialog.exec() == QDialog.DialogCode.Accepted else None
