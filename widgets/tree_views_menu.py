"""The View menu's ways of grouping the tree: by server, folder, tag, state, or the value
of a custom field (app/inventory/view_switcher.py does the switching and remembers it)."""
from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu

from app.inventory.view_switcher import ViewSwitcher
from app.inventory.views import View, ViewKind

_FIXED = ((ViewKind.SERVER, "By &Server", "Ctrl+Alt+1"),
          (ViewKind.FOLDER, "By &Folder", "Ctrl+Alt+2"),
          (ViewKind.TAG, "By &Tag", "Ctrl+Alt+3"),
          (ViewKind.STATE, "By S&tate", "Ctrl+Alt+4"))


class TreeViewsMenu(QObject):
    """Fills ``menu`` (before ``before``) with one checkable entry per view and a
    "By Custom Field" submenu listing the fields in use."""

    def __init__(self, switcher: ViewSwitcher, menu: QMenu, before: QAction | None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.switcher = switcher
        self.group = QActionGroup(self)
        self.group.setExclusive(True)
        self.actions: dict[str, QAction] = {}
        for kind, text, keys in _FIXED:
            action = QAction(text, self)
            action.setCheckable(True)
            action.setShortcut(QKeySequence(keys))
            action.triggered.connect(lambda _on=False, k=kind: switcher.set_view(View(k)))
            self.group.addAction(action)
            self.actions[kind.value] = action
            menu.insertAction(before, action) if before else menu.addAction(action)
        self.fields_menu = QMenu("By Custom &Field", menu)
        self.fields_menu.aboutToShow.connect(self._fill_fields)
        if before:
            menu.insertMenu(before, self.fields_menu)
            menu.insertSeparator(before)
        else:
            menu.addMenu(self.fields_menu)
        switcher.viewChanged.connect(self._checked)
        self._checked(switcher.view)

    def _fill_fields(self) -> None:
        self.fields_menu.clear()
        names = self.switcher.field_names()
        if not names:
            empty = self.fields_menu.addAction("No custom fields yet (VM › Organize…)")
            empty.setEnabled(False)
            return
        for name in names:
            action = self.fields_menu.addAction(name)
            action.setCheckable(True)
            view = View(ViewKind.FIELD, name)
            action.setChecked(self.switcher.view == view)
            action.triggered.connect(lambda _on=False, v=view: self.switcher.set_view(v))
            self.group.addAction(action)
            self.actions[view.key] = action

    def _checked(self, view: View) -> None:
        action = self.actions.get(view.key)
        if action is not None:
            action.setChecked(True)
        elif view.kind is ViewKind.FIELD:
            for fixed in self.group.actions():
                fixed.setChecked(False)
