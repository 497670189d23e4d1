"""Saved searches in the navigation pane, under the servers (XenCenter's "Saved
Searches"): a click opens one in the Search tab; F2 or the context menu renames it; Delete
deletes it after asking; the menu also exports and imports them as a file.

The list is the store's (app/search/saved.py) and is redrawn from it on every change, so
what is shown is always what is on disk.
"""
from __future__ import annotations

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QMenu, QMessageBox, QTreeWidget,
                               QTreeWidgetItem, QWidget)

from app.search.saved import SavedSearch, SavedSearches

ROOT_TITLE = "Saved Searches"
NAME_ROLE = Qt.ItemDataRole.UserRole + 1


class SavedSearchesView(QTreeWidget):
    """``opened(SavedSearch)``; ``failed(title, message)`` for a refused rename/delete."""

    opened = Signal(object)
    failed = Signal(str, str)

    def __init__(self, store: SavedSearches, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.setObjectName("savedSearches")
        self.setHeaderHidden(True)
        self.setColumnCount(1)
        self.setUniformRowHeights(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.EditKeyPressed)
        self.root = QTreeWidgetItem(self, [ROOT_TITLE])
        self.root.setFlags(Qt.ItemFlag.ItemIsEnabled)
        self.rename_action = QAction("&Rename Search", self)
        self.rename_action.setShortcut(QKeySequence(Qt.Key.Key_F2))
        self.rename_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.rename_action.triggered.connect(self._edit_current)
        self.delete_action = QAction("&Delete Search…", self)
        self.delete_action.setShortcut(QKeySequence(Qt.Key.Key_Delete))
        self.delete_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.delete_action.triggered.connect(self._confirm_delete)
        self.addActions([self.rename_action, self.delete_action])
        self.extra_actions: list[QAction] = []      # export/import, placed by the owner
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)
        self.itemActivated.connect(self._open_item)
        self.itemClicked.connect(self._open_item)
        self.itemChanged.connect(self._renamed)
        store.changed.connect(self.reload)
        self.reload()

    def reload(self) -> None:
        current = self.current_name()
        self.blockSignals(True)
        try:
            self.root.takeChildren()
            for search in self.store:
                item = QTreeWidgetItem(self.root, [search.name])
                item.setData(0, NAME_ROLE, search.name)
                item.setToolTip(0, search.query or "(every VM)")
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                              | Qt.ItemFlag.ItemIsEditable | Qt.ItemFlag.ItemNeverHasChildren)
                if search.name == current:
                    item.setSelected(True)
                    self.setCurrentItem(item)
            self.root.setText(0, f"{ROOT_TITLE} ({len(self.store)})")
            self.root.setExpanded(True)
        finally:
            self.blockSignals(False)

    def _items(self) -> list[QTreeWidgetItem]:
        children = (self.root.child(i) for i in range(self.root.childCount()))
        return [item for item in children if item is not None]

    def names(self) -> list[str]:
        return [item.text(0) for item in self._items()]

    def current_name(self) -> str | None:
        item = self.currentItem()
        return None if item is None or item is self.root else item.data(0, NAME_ROLE)

    def select(self, name: str) -> None:
        for item in self._items():
            if item.data(0, NAME_ROLE) == name:
                self.setCurrentItem(item)

    def _open_item(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        name = item.data(0, NAME_ROLE)
        search = self.store.get(name) if name else None
        if search is not None:
            self.opened.emit(search)

    def open_named(self, name: str) -> SavedSearch | None:
        search = self.store.get(name)
        if search is not None:
            self.select(search.name)
            self.opened.emit(search)
        return search

    # ---- rename and delete ----

    def _edit_current(self) -> None:
        item = self.currentItem()
        if item is not None and item is not self.root:
            self.editItem(item, 0)

    def _renamed(self, item: QTreeWidgetItem, _column: int) -> None:
        old = item.data(0, NAME_ROLE)
        new = item.text(0).strip()
        if not old or new == old:
            return
        try:
            self.store.rename(old, new)
        except (ValueError, OSError) as exc:
            self.reload()
            self.failed.emit("Rename Search", str(exc))
            return
        self.select(new)

    def _confirm_delete(self) -> None:
        name = self.current_name()
        if name is None:
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Delete Search",
                          f"Delete the saved search “{name}”? The VMs it finds are not "
                          "touched.", QMessageBox.StandardButton.Yes
                          | QMessageBox.StandardButton.Cancel, self)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        yes = QMessageBox.StandardButton.Yes

        def clicked(button) -> None:
            if box.standardButton(button) == yes:
                self.delete(name)
        box.buttonClicked.connect(clicked)
        box.open()
        self.delete_box = box

    def delete(self, name: str) -> None:
        try:
            self.store.delete(name)
        except OSError as exc:
            self.failed.emit("Delete Search", str(exc))

    def _menu(self, pos: QPoint) -> None:
        item = self.itemAt(pos)
        menu = QMenu(self)
        if item is not None and item is not self.root:
            self.setCurrentItem(item)
            menu.addAction("&Open", lambda: self._open_item(item))
            menu.addAction(self.rename_action)
            menu.addAction(self.delete_action)
            menu.addSeparator()
        for action in self.extra_actions:
            menu.addAction(action)
        self.last_menu = menu
        menu.popup(self.viewport().mapToGlobal(pos))
