"""Help menu: the user's guide (the README this copy came with) and the keyboard
shortcuts, read from the window's own actions so the list cannot drift from what the keys
do."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHeaderView, QTreeWidget,
                               QTreeWidgetItem, QVBoxLayout, QWidget)

README = Path(__file__).resolve().parents[1] / "README.md"

# Keys that are not the shortcut of an action: where they work and what they do.
OTHER_KEYS = (
    ("Enter or double-click on a VM", "Open its Console tab"),
    ("Escape in the filter box", "Clear the filter (again: back to the tree)"),
    ("Click in a console", "Send mouse and keyboard to the guest"),
    ("Ctrl+Alt in a console", "Release mouse and keyboard"),
    ("Ctrl+Alt+Home in a console", "Give the keyboard back to the window (the tree)"),
    ("Up, Down, Enter, Escape in the palette", "Choose, run, close"),
    ("Ctrl+Page Down, Ctrl+Page Up in the tabs", "Next, previous tab"),
)


def readme_url() -> QUrl | None:
    """The README of this installation, None when it was not installed with it."""
    return QUrl.fromLocalFile(str(README)) if README.is_file() else None


def open_readme() -> bool:
    url = readme_url()
    return url is not None and QDesktopServices.openUrl(url)


def shortcut_rows(actions: list[QAction]) -> list[tuple[str, str]]:
    """(what, keys) for every action with a shortcut, in menu order, once each."""
    rows, seen = [], set()
    for action in actions:
        keys = action.shortcut()
        if keys.isEmpty() or action in seen:
            continue
        seen.add(action)
        what = action.text().replace("&", "").rstrip(".…")
        text = keys.toString(QKeySequence.SequenceFormat.NativeText)
        if action.shortcutContext() == Qt.ShortcutContext.WidgetShortcut:
            text += " (in the tree)"     # the window's only widget-bound shortcuts
        rows.append((what, text))
    return rows


class ShortcutsDialog(QDialog):
    def __init__(self, actions: list[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard Shortcuts")
        self.list = QTreeWidget()
        self.list.setHeaderLabels(["Action", "Keys"])
        self.list.setRootIsDecorated(False)
        for what, keys in shortcut_rows(actions):
            self.list.addTopLevelItem(QTreeWidgetItem([what, keys]))
        for keys, what in OTHER_KEYS:
            self.list.addTopLevelItem(QTreeWidgetItem([what, keys]))
        self.list.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list)
        layout.addWidget(buttons)
        self.resize(520, 480)

    def rows(self) -> list[tuple[str, str]]:
        items = (self.list.topLevelItem(i) for i in range(self.list.topLevelItemCount()))
        return [(item.text(0), item.text(1)) for item in items if item is not None]


def show_shortcuts(actions: list[QAction], parent: QWidget) -> ShortcutsDialog:
    dialog = ShortcutsDialog(actions, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog
