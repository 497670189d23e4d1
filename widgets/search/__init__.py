"""Search in the main window: the Search tab, saved searches under the servers, and the
actions that reach them (Ctrl+F, Save Search, Export/Import Searches).

``SearchUi`` builds the app objects search needs (app/search: the live index, the CPU
figures, the results model, the saved searches store) for one window and wires the
widgets to each other and to the tree; the window only places what it is given.
"""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, SignalInstance
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMainWindow, QTabWidget

from app.inventory import InventoryModel
from app.perf.monitor import PerfMonitor
from app.search.live import LiveCpu, LiveSearchIndex
from app.search.results import SearchResults
from app.search.saved import SavedSearch, SavedSearches, SearchFileError
from widgets.search import remembered
from widgets.search.saved_view import SavedSearchesView
from widgets.search.tab import SearchTab

FILE_FILTER = "HVConsole searches (*.json);;All files (*)"


class SearchUi(QObject):
    """``window`` closing (its ``closing`` signal) remembers the tab; ``monitor``: the
    performance monitor (None: no CPU figures); ``select_vm(conn_id, key)`` shows a
    result in the tree; ``show_warning(title, text)`` tells the user something failed."""

    def __init__(self, window: QMainWindow, closing: SignalInstance, inventory: InventoryModel,
                 monitor: PerfMonitor | None, select_vm: Callable[[str, str], object],
                 show_warning: Callable[[str, str], object],
                 store_path: str | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.show_warning = show_warning
        self.live = LiveSearchIndex(inventory, self, active=False)
        self.results = SearchResults(self.live, LiveCpu(monitor), self,
                                     ticked=monitor.ticked if monitor is not None else None)
        self.store = SavedSearches(store_path, self)
        self.tab = SearchTab(self.results)
        self.tab.installEventFilter(self)
        self.results.set_active(False)
        self.saved_view = SavedSearchesView(self.store)
        self.tabs: QTabWidget | None = None

        self.search_action = QAction("&Search…", window)
        self.search_action.setShortcut(QKeySequence.StandardKey.Find)
        self.search_action.setToolTip("Find VMs by name, tag, folder, state, server, CPU, "
                                      "memory… (Ctrl+F)")
        self.search_action.triggered.connect(self.show_search)
        self.save_action = QAction("Sa&ve Search…", window)
        self.save_action.setShortcut(QKeySequence("Ctrl+Shift+S"))
        self.save_action.triggered.connect(self.ask_name)
        self.export_action = QAction("&Export Searches…", window)
        self.export_action.setShortcut(QKeySequence("Ctrl+Alt+S"))
        self.export_action.triggered.connect(self.ask_export)
        self.import_action = QAction("&Import Searches…", window)
        self.import_action.setShortcut(QKeySequence("Ctrl+O"))
        self.import_action.triggered.connect(self.ask_import)
        self.saved_view.extra_actions = [self.export_action, self.import_action]

        self.tab.saveRequested.connect(self.ask_name)
        self.tab.vmChosen.connect(select_vm)
        self.saved_view.opened.connect(self.open_search)
        self.saved_view.failed.connect(show_warning)
        if not remembered.restore(self.tab):
            self.results.set_query("")
        closing.connect(self.remember)
        for warning in self.store.warnings:
            show_warning("Saved Searches", warning)

    def remember(self) -> None:
        """The tab as the user left it, for the next start (widgets/search/remembered.py)."""
        remembered.save(self.tab)

    def place_tab(self, tabs: QTabWidget) -> None:
        self.tabs = tabs
        tabs.addTab(self.tab, "Search")

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt's name)
        """The results run while the Search tab is shown only."""
        if watched is self.tab and event.type() in (event.Type.Show, event.Type.Hide):
            shown = event.type() == event.Type.Show
            self.live.set_active(shown)
            self.results.set_active(shown)
        return False

    def show_search(self) -> None:
        if self.tabs is not None:
            self.tabs.setCurrentWidget(self.tab)
        self.tab.focus_query()

    def open_search(self, search: SavedSearch) -> None:
        if self.tabs is not None:
            self.tabs.setCurrentWidget(self.tab)
        self.tab.open_search(search)

    # ---- saving, exporting, importing ----

    def ask_name(self) -> None:
        dialog = QInputDialog(self.window)
        dialog.setWindowTitle("Save Search")
        dialog.setLabelText(f"Save “{self.results.query.text or 'every VM'}” as:")
        dialog.setTextValue(self.tab.opened_name)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.textValueSelected.connect(self.save_current)
        dialog.open()
        self.name_dialog = dialog

    def save_current(self, name: str) -> bool:
        """Saves what the tab shows under ``name`` (replacing the search opened, when
        saved under its own name again). False, with the reason shown, when refused."""
        replacing = self.tab.opened_name or None
        if replacing is not None and replacing.casefold() != name.strip().casefold():
            replacing = None
        try:
            self.store.save(self.tab.current_search(name), replacing=replacing)
        except (ValueError, OSError) as exc:
            self.show_warning("Save Search", str(exc))
            return False
        self.tab.opened_name = name.strip()
        self.saved_view.select(name.strip())
        return True

    def ask_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.window, "Export Searches",
                                              "hvconsole-searches.json", FILE_FILTER)
        if path:
            self.export_to(path)

    def export_to(self, path: str) -> int:
        try:
            return self.store.export_to(path)
        except OSError as exc:
            self.show_warning("Export Searches", f"{path} could not be written: "
                              f"{exc.strerror or exc}")
            return 0

    def ask_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Import Searches", "",
                                              FILE_FILTER)
        if path:
            self.import_from(path)

    def import_from(self, path: str) -> list[str]:
        try:
            added, skipped = self.store.import_from(path)
        except (SearchFileError, OSError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.show_warning("Import Searches", f"{path} was not imported: {why}.")
            return []
        if skipped:
            self.show_warning("Import Searches", "Imported " + (", ".join(
                f"“{n}”" for n in added) or "nothing") + ".\nSkipped:\n" + "\n".join(skipped))
        return added

