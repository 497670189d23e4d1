"""The command palette (Ctrl+K, Ctrl+Shift+P): type a few letters of a command, VM or
server, pick it with the arrows, Enter runs it.

A panel over the top of the window, as in editors that have one: a line edit and the
ranked list under it. It is a child of the window, not a popup window of its own: the
window stays the active one (its shortcuts keep working the moment the palette closes,
on every platform), and the panel hides when the keyboard goes elsewhere. The keys stay
in the line edit (Up, Down, Page Up/Down move the list; Enter runs; Escape closes), so
typing never has to move the focus. What is found and how it ranks is app/palette.py's.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QPalette
from PySide6.QtWidgets import (QAbstractItemView, QFrame, QHeaderView, QLineEdit,
                               QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from app.palette import COMMANDS_ONLY, PaletteCatalog, PaletteEntry

SHOWN = 50              # rows ranked and listed per key
WIDTH_SHARE = 0.6       # of the window's width


class CommandPalette(QFrame):
    """Emits ``ran`` with the entry after running it (the window logs nothing; tests
    listen)."""

    ran = Signal(object)

    def __init__(self, catalog: PaletteCatalog, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("commandPalette")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setFrameShadow(QFrame.Shadow.Raised)
        self.setAutoFillBackground(True)
        # Set off from the window under it in either scheme by the selection colour.
        self.setStyleSheet("#commandPalette { background: palette(window); "
                           "border: 1px solid palette(highlight); }")
        self.hide()
        self.catalog = catalog
        self._shown: list[PaletteEntry] = []
        self._return_to: QWidget | None = None
        self.edit = QLineEdit()
        self.edit.setObjectName("paletteQuery")
        self.edit.setPlaceholderText("Type a command, VM or server (> for commands only)")
        self.edit.textChanged.connect(self._query_changed)
        self.edit.installEventFilter(self)
        self.list = QTreeWidget()
        self.list.setObjectName("paletteResults")
        self.list.setColumnCount(3)
        self.list.setHeaderHidden(True)
        self.list.setRootIsDecorated(False)
        self.list.setUniformRowHeights(True)
        self.list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.list.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.list.itemActivated.connect(lambda *_: self.run_current())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.edit)
        layout.addWidget(self.list)

    # ---- opening ----

    def open_palette(self, text: str = "") -> None:
        """Collects the entries anew (the selection and states may have changed), places
        the popup at the top of the window and gives it the keyboard."""
        self.catalog.refresh()
        parent = self.parentWidget()
        assert parent is not None
        width = max(420, int(parent.width() * WIDTH_SHARE))
        height = min(440, max(240, parent.height() // 2))
        self.setGeometry((parent.width() - width) // 2, 48, width, height)
        self.edit.setText(text)
        self._query_changed(text)   # also when the text did not change
        self._return_to = parent.focusWidget()
        self.show()
        self.raise_()
        self.edit.setFocus(Qt.FocusReason.PopupFocusReason)

    def open_commands(self) -> None:
        self.open_palette(COMMANDS_ONLY)

    # ---- what is listed ----

    def shown(self) -> list[PaletteEntry]:
        return list(self._shown)

    def current(self) -> PaletteEntry | None:
        row = self._current_row()
        return self._shown[row] if 0 <= row < len(self._shown) else None

    def _query_changed(self, text: str) -> None:
        self._shown = self.catalog.search(text, SHOWN)
        self.list.clear()
        muted = self.palette().color(QPalette.ColorGroup.Disabled,
                                     QPalette.ColorRole.Text)
        first_enabled = None
        for row, entry in enumerate(self._shown):
            where = entry.detail if entry.kind in entry.detail else \
                f"{entry.kind} · {entry.detail}".rstrip(" ·")
            item = QTreeWidgetItem([entry.title, where, entry.keys])
            item.setTextAlignment(2, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if not entry.enabled:
                for column in range(3):
                    item.setForeground(column, muted)
                item.setToolTip(0, entry.why_not)
            elif first_enabled is None:
                first_enabled = row
            self.list.addTopLevelItem(item)
        if self._shown:
            self._set_current_row(first_enabled if first_enabled is not None else 0)

    # ---- keys ----

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if watched is self.edit and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            return self._key(event)
        if watched is self.edit and event.type() == QEvent.Type.FocusOut:
            # A click elsewhere, or the window losing the keyboard: the panel goes away.
            QTimer.singleShot(0, self, self._hide_unless_focused)
        return super().eventFilter(watched, event)

    def _key(self, event: QKeyEvent) -> bool:
        key = event.key()
        moves = {Qt.Key.Key_Down: 1, Qt.Key.Key_Up: -1, Qt.Key.Key_PageDown: 10,
                 Qt.Key.Key_PageUp: -10}
        if key in moves:
            self._move(moves[Qt.Key(key)])
            return True
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.run_current()
            return True
        if key == Qt.Key.Key_Escape:
            self.dismiss()
            return True
        return False

    def dismiss(self) -> None:
        """Hides the panel and gives the keyboard back to where it was."""
        self.hide()
        back = self._return_to
        self._return_to = None
        if back is not None and back.isVisible():
            back.setFocus(Qt.FocusReason.PopupFocusReason)

    def _hide_unless_focused(self) -> None:
        focused = self.window().focusWidget()
        if self.isVisible() and not (focused is not None and self.isAncestorOf(focused)):
            self._return_to = None
            self.hide()

    def _move(self, step: int) -> None:
        count = self.list.topLevelItemCount()
        if not count:
            return
        self._set_current_row(max(0, min(count - 1, self._current_row() + step)))

    def _current_row(self) -> int:
        item = self.list.currentItem()
        return -1 if item is None else self.list.indexOfTopLevelItem(item)

    def _set_current_row(self, row: int) -> None:
        item = self.list.topLevelItem(row)
        if item is not None:
            self.list.setCurrentItem(item)

    def run_current(self) -> bool:
        """Closes and runs the current entry; a disabled one keeps the palette open."""
        entry = self.current()
        if entry is None or not entry.enabled:
            return False
        self.dismiss()
        entry.run()
        self.ran.emit(entry)
        return True
