"""The Storage tab: a pool's capacity as a bar, its volumes and what can be done to them.

Select a pool in the tree, or a server (then pick one of its pools above the page).
Each volume row says which VM uses it; Delete and Wipe are disabled for those, with the
VM named in the tooltip. Pool commands (start, stop, refresh, autostart, delete) are the
shared ones of app/commands; volume work runs as tasks through app.storage.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDialog, QFileDialog, QFormLayout,
                               QHBoxLayout, QHeaderView, QLabel, QProgressBar,
                               QTableView, QToolBar, QVBoxLayout, QWidget)

from app.formatting import human_bytes
from app.inventory import NodeKind
from app.storage import PoolVolumes, StorageActions
from connectors.libvirt.model import PoolInfo
from connectors.libvirt.storage_xml import POOL_TYPES, VOLUME_POOLS, VolumeInfo
from widgets.dialogs.prompter import confirm_box
from widgets.dialogs.volume import GrowVolumeDialog, NewVolumeDialog
from widgets.keyboard_navigation import show_keys_in_tooltip

Confirm = Callable[[str, str, str], bool]     # (title, text, verb) -> go ahead
ChooseFile = Callable[[str, bool], str]     # (title, saving) -> path, "" when cancelled


def _confirm(parent: QWidget) -> Confirm:
    """The window's own question box: the verb on the button that goes ahead, Cancel the
    default."""
    def ask(title: str, text: str, verb: str) -> bool:
        box = confirm_box(parent, title, text, verb)
        box.exec()
        return box.clickedButton() is box.go_button
    return ask


def _choose_file(parent: QWidget) -> ChooseFile:
    def choose(title: str, saving: bool) -> str:
        if saving:
            return QFileDialog.getSaveFileName(parent, title)[0]
        return QFileDialog.getOpenFileName(
            parent, title, "", "Disk images and ISOs (*.iso *.img *.qcow2 *.raw);;"
                               "All files (*)")[0]
    return choose


class CapacityBar(QProgressBar):
    """Allocation of capacity, with the free space in words on the bar."""

    def __init__(self) -> None:
        super().__init__()
        self.setRange(0, 1000)
        self.setTextVisible(True)
        self.setMinimumHeight(22)

    def show_pool(self, pool: PoolInfo | None) -> None:
        if pool is None or not pool.active or pool.capacity <= 0:
            self.setValue(0)
            self.setFormat("No figures while the pool is stopped" if pool else "")
            return
        self.setValue(int(1000 * pool.allocation / pool.capacity))
        self.setFormat(f"{human_bytes(pool.allocation)} used of "
                       f"{human_bytes(pool.capacity)} — {human_bytes(pool.available)} free")


class StorageTab(QWidget):
    """``poolChosen(conn_id, key)`` when the user picks a pool in the page's own list:
    the window selects it in the tree, so the pool commands follow."""

    poolChosen = Signal(str, str)

    def __init__(self, manager: Any, inventory: Any, commands: Any, tasks: Any,
                 parent: QWidget | None = None, *, confirm: Confirm | None = None,
                 choose_file: ChooseFile | None = None) -> None:
        super().__init__(parent)
        self.manager, self.inventory, self.commands = manager, inventory, commands
        self.actions_ = StorageActions(commands.ctx)
        self.volumes = PoolVolumes(manager, inventory, self)
        self.confirm = confirm or _confirm(self)
        self.choose_file = choose_file or _choose_file(self)
        self.conn_id: str | None = None

        self.picker = QComboBox()
        self.picker.setObjectName("poolPicker")
        self.picker.activated.connect(self._picked)
        self.title = QLabel()
        font = self.title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.2)
        self.title.setFont(font)
        self.facts = QFormLayout()
        self.type_label, self.source_label, self.state_label = QLabel(), QLabel(), QLabel()
        for label in (self.type_label, self.source_label, self.state_label):
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.facts.addRow("Type:", self.type_label)
        self.facts.addRow("Location:", self.source_label)
        self.facts.addRow("State:", self.state_label)
        self.bar = CapacityBar()

        self.toolbar = QToolBar()
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for command in commands.pool_commands:
            if command is None:
                self.toolbar.addSeparator()
            elif command is not commands.new_pool:
                self.toolbar.addAction(command.action)
        self.volume_bar = QToolBar()
        self.volume_bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        # Keys that work while the keyboard is in this tab (its table, its buttons).
        self.new_volume_action = self._action("&New Volume…", self.new_volume, "Ins")
        self.upload_action = self._action("&Upload…", self.upload, "Ctrl+Shift+U")
        self.download_action = self._action("Do&wnload…", self.download, "Ctrl+Shift+W")
        self.grow_action = self._action("&Grow…", self.grow, "Ctrl+Shift+G")
        self.wipe_action = self._action("&Wipe…", self.wipe, "Ctrl+Shift+I")
        self.delete_volume_action = self._action("&Delete Volume…", self.delete_volume,
                                                 "Shift+Del")

        self.table = QTableView()
        self.table.setObjectName("volumesTable")
        self.table.setModel(self.volumes.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(
            4, QHeaderView.ResizeMode.ResizeToContents)
        self.table.selectionModel().selectionChanged.connect(self._update_actions)
        self.message = QLabel()
        self.message.setObjectName("storageMessage")
        self.message.setWordWrap(True)

        top = QHBoxLayout()
        top.addWidget(QLabel("Pool:"))
        top.addWidget(self.picker, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.title)
        layout.addLayout(self.facts)
        layout.addWidget(self.bar)
        layout.addWidget(self.toolbar)
        layout.addWidget(QLabel("Volumes"))
        layout.addWidget(self.volume_bar)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message)

        self.volumes.loaded.connect(self._loaded)
        self.volumes.failed.connect(self.message.setText)
        inventory.batchApplied.connect(self._on_batch)
        self.show_pool(None, None)

    def _action(self, text: str, slot: Callable[[], object], keys: str) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(keys))
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)
        self.volume_bar.addAction(action)
        self.addAction(action)
        return action

    # ---- what is shown ----

    def set_selection(self, nodes: list) -> None:
        if len(nodes) != 1:
            self.show_pool(None, None)
            return
        node = nodes[0]
        if node.kind is NodeKind.POOL:
            self.show_pool(node.conn_id, node.key)
        elif node.kind is NodeKind.HOST or node.kind is NodeKind.GROUP:
            pools = self._pools(node.conn_id)
            self.show_pool(node.conn_id, pools[0].key if pools else None)
        else:
            self.show_pool(node.conn_id, None)

    def show_pool(self, conn_id: str | None, key: str | None) -> None:
        self.conn_id = conn_id
        self.volumes.show(conn_id, key)
        self._fill_picker()
        self._describe()

    def _pools(self, conn_id: str | None) -> list[PoolInfo]:
        host = self.manager.host(conn_id) if conn_id is not None else None
        return list(host.pools()) if host is not None else []

    def _fill_picker(self) -> None:
        self.picker.blockSignals(True)
        self.picker.clear()
        for pool in self._pools(self.conn_id):
            self.picker.addItem(f"{pool.name} ({pool.pool_type}, {pool.state_label.lower()})",
                                pool.key)
        index = self.picker.findData(self.volumes.pool_key)
        self.picker.setCurrentIndex(index)
        self.picker.setEnabled(self.picker.count() > 0)
        self.picker.blockSignals(False)

    def _picked(self, index: int) -> None:
        key = self.picker.itemData(index)
        if self.conn_id is not None and key:
            self.show_pool(self.conn_id, key)
            self.poolChosen.emit(self.conn_id, key)

    def _describe(self) -> None:
        pool = self.volumes.pool()
        if pool is None:
            self.title.setText("No storage pool selected")
            for label in (self.type_label, self.source_label, self.state_label):
                label.setText("")
            self.message.setText("Select a storage pool in the tree, or a server and then "
                                 "one of its pools." if self.conn_id is None or
                                 not self._pools(self.conn_id) else "")
        else:
            self.title.setText(pool.name)
            self.type_label.setText(POOL_TYPES.get(pool.pool_type, pool.pool_type))
            self.source_label.setText(pool.path or "—")
            self.state_label.setText(pool.state_label + (", starts with the host"
                                                         if pool.autostart else ""))
            self.message.setText("" if pool.active else
                                 "This pool is stopped: start it to see and use its volumes.")
        self.bar.show_pool(pool)
        self._update_actions()

    def _loaded(self) -> None:
        pool = self.volumes.pool()
        count = self.volumes.model.rowCount()
        if pool is not None and pool.active:
            self.message.setText(f"{count} volume{'s' if count != 1 else ''}")
        self._update_actions()

    def _on_batch(self, keys: set) -> None:
        if self.conn_id is not None and any(c == self.conn_id for c, _k in keys):
            self._fill_picker()
            self._describe()

    # ---- volume actions ----

    def selected_volume(self) -> VolumeInfo | None:
        rows = self.table.selectionModel().selectedRows()
        return self.volumes.model.volume(rows[0].row()) if rows else None

    def _update_actions(self, *_args: object) -> None:
        pool = self.volumes.pool()
        active = pool is not None and pool.active
        vol = self.selected_volume() if active else None
        makes = active and pool is not None and pool.pool_type in VOLUME_POOLS
        self._enable(self.new_volume_action, makes,
                     "start the pool first" if not active else
                     "volumes of this pool are made on its server, not here")
        self._enable(self.upload_action, makes, "start the pool first" if not active else
                     "this pool holds no files")
        no_vol = "select a volume"
        self._enable(self.download_action, vol is not None, no_vol)
        self._enable(self.grow_action, vol is not None, no_vol)
        in_use = f"used by {', '.join(vol.users)}" if vol is not None and vol.users else ""
        for action in (self.wipe_action, self.delete_volume_action):
            self._enable(action, vol is not None and not vol.users, in_use or no_vol)

    @staticmethod
    def _enable(action: QAction, enabled: bool, reason: str) -> None:
        action.setEnabled(enabled)
        text = action.text().replace("&", "").rstrip("…")
        show_keys_in_tooltip(action, text if enabled else f"{text}: {reason}")

    def new_volume(self) -> NewVolumeDialog | None:
        pool, conn_id = self.volumes.pool(), self.conn_id
        if pool is None or conn_id is None:
            return None
        dialog = NewVolumeDialog(pool, self)
        dialog.accepted.connect(lambda: self._reload_after(
            self.actions_.create_volume(conn_id, pool, dialog.spec())))
        return self._open(dialog)

    def grow(self) -> GrowVolumeDialog | None:
        pool, vol, conn_id = self.volumes.pool(), self.selected_volume(), self.conn_id
        if pool is None or vol is None or conn_id is None:
            return None
        dialog = GrowVolumeDialog(pool, vol, self)
        dialog.accepted.connect(lambda: self._reload_after(
            self.actions_.grow_volume(conn_id, pool, vol.name, dialog.capacity())))
        return self._open(dialog)

    @staticmethod
    def _open(dialog: QDialog) -> Any:
        """Window-modal, without a nested event loop: the app keeps running meanwhile."""
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def wipe(self) -> None:
        pool, vol = self.volumes.pool(), self.selected_volume()
        if pool is None or vol is None or self.conn_id is None:
            return
        if self.confirm(f"Wipe {vol.name}", f"Overwrite all {human_bytes(vol.capacity)} of "
                        f"{vol.name} with zeros?\n\nIts data is destroyed; the volume "
                        "itself stays. This cannot be undone.", "Wipe"):
            self._reload_after(self.actions_.wipe_volume(self.conn_id, pool, vol.name))

    def delete_volume(self) -> None:
        pool, vol = self.volumes.pool(), self.selected_volume()
        if pool is None or vol is None or self.conn_id is None:
            return
        if self.confirm(f"Delete {vol.name}", f"Delete the volume {vol.name} "
                        f"({human_bytes(vol.allocation)} on disk) from {pool.name}?\n\n"
                        "Its data is destroyed. This cannot be undone.", "Delete Volume"):
            self._reload_after(self.actions_.delete_volume(self.conn_id, pool, vol.name))

    def upload(self) -> None:
        pool = self.volumes.pool()
        if pool is None or self.conn_id is None:
            return
        local = self.choose_file(f"Upload a file to {pool.name}", False)
        if local:
            self._reload_after(self.actions_.upload(self.conn_id, pool,
                                                    os.path.basename(local), local))

    def download(self) -> None:
        pool, vol = self.volumes.pool(), self.selected_volume()
        if pool is None or vol is None or self.conn_id is None:
            return
        local = self.choose_file(f"Save {vol.name} as", True)
        if local:
            self.actions_.download(self.conn_id, pool, vol.name, local)

    def _reload_after(self, task: Any) -> None:
        task.finished.connect(self.volumes.reload)
