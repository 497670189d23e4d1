"""Where the main window and its splitter sit, remembered across runs — with the tree's
columns (widths, order, hidden ones), the split between the tree and the saved searches,
and the tab that was showing.

The splitter between tree and tabs is placed once the window has its real size (placed
before, Qt shrank both sides when the window came up smaller, and the tree jumped back
the first time a tab was shown); the tabs declare a fixed minimum width, so which tab
shows never moves it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QSettings

from app import settings_file

# Only for annotations: the frame restores its geometry before its first paint, and each
# Qt class a module imports is built (with its enums) on that import.
if TYPE_CHECKING:
    from PySide6.QtWidgets import QMainWindow, QSplitter, QTabWidget, QToolBar, QTreeView

TREE_MIN_WIDTH = 220
TABS_MIN_WIDTH = 560    # below it the Performance tab's toolbar is cut
NAME_CHARS = 16         # the tree starts wide enough for names this long


def _settings() -> QSettings:
    return QSettings("hvconsole", "hvconsole")


def restore_window_geometry(window: QMainWindow, settings: QSettings | None = None) -> None:
    """The window's saved size and place (the frame has it before its first paint, so it
    does not jump when it is filled)."""
    geometry = (settings or _settings()).value("window/geometry")
    if isinstance(geometry, QByteArray) and not geometry.isEmpty():
        window.restoreGeometry(geometry)


class WindowGeometry:
    def __init__(self, window: QMainWindow, splitter: QSplitter, tree: QTreeView,
                 toolbar: QToolBar, *, tabs: QTabWidget | None = None,
                 panes: QSplitter | None = None) -> None:
        self._window = window
        self._splitter = splitter
        self._tree = tree
        self._toolbar = toolbar
        self._tabs = tabs
        self._panes = panes
        self._saved_tree_width = 0
        self.placed = False

    def restore(self) -> None:
        settings = _settings()
        restore_window_geometry(self._window, settings)
        try:
            self._saved_tree_width = int(str(settings.value("window/tree_width", 0) or 0))
        except (TypeError, ValueError):
            self._saved_tree_width = 0
        visible = settings.value("window/toolbar", True)
        self._toolbar.setVisible(visible not in (False, "false"))
        header = settings.value("window/tree_header")
        if isinstance(header, QByteArray) and not header.isEmpty():
            self._tree.header().restoreState(header)
        panes = settings.value("window/panes")
        if self._panes is not None and isinstance(panes, QByteArray) and not panes.isEmpty():
            self._panes.restoreState(panes)
        tab = str(settings.value("window/tab", "") or "")
        if self._tabs is not None and tab:
            for index in range(self._tabs.count()):
                if tab_id(self._tabs, index) == tab:
                    self._tabs.setCurrentIndex(index)
                    break

    def save(self) -> None:
        settings = _settings()
        settings.setValue("window/geometry", self._window.saveGeometry())
        if self.placed:
            settings.setValue("window/tree_width", self.tree_width())
        settings.setValue("window/toolbar", not self._toolbar.isHidden())
        settings.setValue("window/tree_header", self._tree.header().saveState())
        if self._panes is not None:
            settings.setValue("window/panes", self._panes.saveState())
        if self._tabs is not None and self._tabs.currentIndex() >= 0:
            settings.setValue("window/tab", tab_id(self._tabs, self._tabs.currentIndex()))
        settings_file.sync(settings)

    def tree_width(self) -> int:
        return self._splitter.sizes()[0]

    def natural_tree_width(self) -> int:
        """Room for names of NAME_CHARS characters on VM rows beside the other columns."""
        tree = self._tree
        header = tree.header()
        others = sum(header.sectionSize(c) for c in range(1, header.count())
                     if not header.isSectionHidden(c))
        from PySide6.QtWidgets import QStyle
        icon = tree.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize)
        name = 2 * tree.indentation() + icon + 16 + \
            tree.fontMetrics().averageCharWidth() * NAME_CHARS
        holder = tree.parentWidget()
        layout = holder.layout() if holder is not None else None
        sides = 0
        if layout is not None:
            margins = layout.contentsMargins()
            sides = margins.left() + margins.right()
        return (name + others + 2 * tree.frameWidth() + sides
                + tree.verticalScrollBar().sizeHint().width())

    def place_splitter(self) -> None:
        """Once, when the window first has its size: the remembered width, else the
        natural one, never so wide that the tabs get less than their minimum."""
        if self.placed:
            return
        self.placed = True
        splitter = self._splitter
        total = splitter.width() - splitter.handleWidth()
        wanted = self._saved_tree_width or self.natural_tree_width()
        left = max(TREE_MIN_WIDTH, min(wanted, total - TABS_MIN_WIDTH))
        splitter.setSizes([left, max(TABS_MIN_WIDTH, total - left)])


def tab_id(tabs: QTabWidget, index: int) -> str:
    """A tab as remembered: its page's class ("ConsoleTab"), which neither a count in
    the title ("Alerts (2)") nor a new tab inserted before it changes."""
    page = tabs.widget(index)
    return type(page).__name__ if page is not None else ""
