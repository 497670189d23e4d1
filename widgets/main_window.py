"""HVConsole's main window: the tree of servers and VMs on the left, tabs on the right.

The window composes; it decides nothing about hypervisors. Commands (enabled state, text,
icons, confirmation, running) live in app/commands; the window only places their QActions
in the menus, the toolbar and the tree's context menu, and tells them what is selected.

What runs is reported by widgets/task_reporting.py; where the window and its splitter
sit, by widgets/window_geometry.py.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QWidget

from widgets.window_geometry import (TABS_MIN_WIDTH, TREE_MIN_WIDTH, WindowGeometry,
                                     restore_window_geometry)

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMessageBox

log = logging.getLogger(__name__)

DEFAULT_SIZE = (1280, 800)
# The menu bar's menus, in order: in the frame at once, filled by attach().
MENU_TITLES = ("&File", "&Edit", "&Server", "&VM", "S&torage", "&Network", "Vie&w", "&Help")


class MainWindow(QMainWindow):
    """Emits ``closing`` once, when the user closes the window (the launcher shuts down).

    Built in two steps, so that the window is on the screen before the rest of the program
    has loaded (widgets/startup.py): ``MainWindow()`` alone is the frame (title, the saved
    size and place, the menu bar's titles, "Starting…"), which needs nothing but Qt to
    import and paint; ``attach(...)`` then fills that same window with the tree, the
    tabs, the toolbar and the menus' actions. Given the app objects, the constructor does
    both at once.
    """

    closing = Signal()
    serverAdded = Signal(str, bool)   # uri, "Remember password" ticked in Add Server

    def __init__(self, manager=None, inventory=None, events_log=None, tasks=None,
                 commands=None, prompter=None, parent: QWidget | None = None, *,
                 monitor=None, alert_engine=None, preferences=None) -> None:
        super().__init__(parent)
        self.attached = False
        self.setWindowTitle("HVConsole")
        self.setObjectName("mainWindow")
        self.resize(*DEFAULT_SIZE)
        bar = self.menuBar()
        (self.file_menu, self.edit_menu, self.server_menu, self.vm_menu, self.storage_menu,
         self.network_menu, self.view_menu, self.help_menu) = [
            bar.addMenu(title) for title in MENU_TITLES]
        if manager is None:
            restore_window_geometry(self)
            self.statusBar().showMessage("Starting…")
        else:
            self.attach(manager, inventory, events_log, tasks, commands, prompter,
                        monitor=monitor, alert_engine=alert_engine, preferences=preferences)

    def attach(self, manager, inventory, events_log, tasks, commands, prompter=None, *,
               monitor=None, alert_engine=None, preferences=None) -> None:
        """Fills the frame: everything the window shows and does (once)."""
        from app.inventory import InventoryFilterProxy
        from widgets.keyboard_navigation import ensure_keys_in_tooltips
        from widgets.status_bar import MainStatusBar
        from widgets.task_reporting import TaskReporter

        self.attached = True
        # Performance (optional: tests of other parts build the window without them).
        self.monitor = monitor
        self.alert_engine = alert_engine
        self.preferences = preferences
        self.manager = manager
        self.inventory = inventory
        self.events_log = events_log
        self.tasks = tasks
        self.commands = commands
        self.prompter = prompter

        self.proxy = InventoryFilterProxy(self)
        self.proxy.setSourceModel(inventory)
        self._build_actions()
        self._build_central()
        self._build_keyboard()
        self._build_menus()
        self._build_toolbar()
        ensure_keys_in_tooltips([a for _where, actions in self._menu_actions()
                                 for a in actions])
        self.status = MainStatusBar(self)
        self.setStatusBar(self.status)
        self._connect_alerts()

        self._summary_timer = QTimer(self, singleShot=True, interval=100)
        self._summary_timer.timeout.connect(self._update_summary)
        self.tree.selectionChangedNodes.connect(self._selection_changed)
        self.tree.set_menu_builder(self._context_actions)
        manager.connectionAdded.connect(self._schedule_summary)
        manager.connectionRemoved.connect(self._schedule_summary)
        manager.stateChanged.connect(self._schedule_summary)
        inventory.batchApplied.connect(self._schedule_summary)
        self.task_reporter = TaskReporter(tasks, self.status, prompter, self)
        self.geometry_keeper = WindowGeometry(self, self.splitter, self.tree, self.toolbar,
                                              tabs=self.tabs, panes=self.navigation)
        self.geometry_keeper.restore()
        self._update_summary()
        self._selection_changed([])
        # The tree, not the filter box, has the keyboard when the window opens (as in
        # XenCenter and virt-manager): arrows move through the VMs at once, and Ctrl+F
        # reaches the filter. A focused filter box would also blink its caret twice a
        # second, repainting the window's left side all day.
        self.tree.setFocus(Qt.FocusReason.OtherFocusReason)
        if self.isVisible():
            # Filled after it was shown: showEvent came before there was a splitter.
            QTimer.singleShot(0, self, self.geometry_keeper.place_splitter)

    # ---- building ----

    def _build_actions(self) -> None:
        from widgets import help as guide
        from widgets.about import show_about
        from widgets.keyboard_navigation import keyed_action, show_keys_in_tooltip

        self.commands.add_server.set_handler(self.show_add_server)
        self.add_server_action = self.commands.add_server.action
        self.commands.new_vm.set_handler(self._open_new_vm)
        self.commands.clone.set_handler(self._open_clone)

        self.quit_action = keyed_action("&Quit", "Ctrl+Q", self, self.close)
        # Ctrl+F is Search (widgets/search); the tree's name filter is one Shift away.
        self.focus_filter_action = keyed_action("&Filter", "Ctrl+Shift+F", self,
                                                self.focus_filter,
                                                "Filter the tree by name or state")
        self.about_action = keyed_action("&About HVConsole", "Ctrl+F1", self,
                                         lambda: show_about(self))
        self.readme_action = keyed_action("HVConsole &Guide (README)", "F1", self,
                                          guide.open_readme)
        if guide.readme_url() is None:
            self.readme_action.setEnabled(False)
            self.readme_action.setToolTip("The README was not installed with this copy")
        self.shortcuts_action = keyed_action("&Keyboard Shortcuts", "Ctrl+/", self,
                                             self.show_shortcuts)

        # For any selected objects (networks and pools have no commands of their own yet).
        self.copy_name_action = QAction("&Copy Name", self)
        self.copy_name_action.setShortcut(QKeySequence.StandardKey.Copy)
        self.copy_name_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.copy_name_action.triggered.connect(self.copy_names)
        show_keys_in_tooltip(self.copy_name_action, "Copy the selected names")

        # Delete (the key) deletes the selected VMs, through the same confirmation, but
        # only in the tree: elsewhere the key belongs to a text field or a guest.
        self.commands.delete.action.setShortcut(QKeySequence(Qt.Key.Key_Delete))
        self.commands.delete.action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.commands.delete.update(self.commands.delete.selection)

    # The wizards' modules load when first asked for, not while the window is filled.
    def _open_new_vm(self, conn_id):
        from widgets.dialogs.new_vm.opening import open_new_vm
        return open_new_vm(self, conn_id)

    def _open_clone(self, node):
        from widgets.dialogs.new_vm.opening import open_clone
        return open_clone(self, node)

    def _build_central(self) -> None:
        # Qt's classes too are imported where used: each is built with its enums when
        # first imported, and the frame is painted before any of these is needed.
        from PySide6.QtWidgets import QLineEdit, QSplitter, QTabWidget, QVBoxLayout

        self.filter_edit = QLineEdit()
        self.filter_edit.setObjectName("filterBox")
        self.filter_edit.setPlaceholderText("Filter by name or state…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self._filter_changed)
        self.clear_filter_action = QAction("Clear Filter", self.filter_edit)
        self.clear_filter_action.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.clear_filter_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.clear_filter_action.triggered.connect(self.clear_filter)
        self.filter_edit.addAction(self.clear_filter_action)
        from widgets.tree import InventoryTree
        self.tree = InventoryTree(self.proxy)
        self.tree.addAction(self.commands.delete.action)
        self.tree.addAction(self.copy_name_action)
        self.tree.nodeActivated.connect(self._node_activated)

        left = QWidget()
        left.setMinimumWidth(TREE_MIN_WIDTH)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(4, 4, 0, 4)
        left_layout.setSpacing(4)
        left_layout.addWidget(self.filter_edit)
        from widgets.search import SearchUi
        self.search = SearchUi(self, self.closing, self.inventory, self.monitor,
                               self.tree.select_node, self.show_warning)
        self.search.tab.set_commands(list(self.commands.vm_commands), self._search_node,
                                     self.commands.ctx.node_name)
        # Saved searches under the servers, as XenCenter lists them in its navigation pane.
        self.navigation = QSplitter(Qt.Orientation.Vertical)
        self.navigation.setObjectName("navigationSplitter")
        self.navigation.addWidget(self.tree)
        self.navigation.addWidget(self.search.saved_view)
        self.navigation.setStretchFactor(0, 4)
        self.navigation.setStretchFactor(1, 1)
        self.navigation.setChildrenCollapsible(False)
        left_layout.addWidget(self.navigation)

        from widgets.tabs.events import EventsTab
        from widgets.tabs.general import GeneralTab
        self.general_tab = GeneralTab(self.inventory, self.manager, memory=self.monitor)
        self.events_tab = EventsTab(self.events_log)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.general_tab, "General")
        self.tabs.addTab(self.events_tab, "Events")
        from widgets.tabs.console import ConsoleTab
        self.console_tab = ConsoleTab(self.manager, self.inventory, self.commands.start.action)
        self.tabs.insertTab(1, self.console_tab, "Console")
        self._build_admin_tabs()
        self.performance_tab = self.alerts_tab = None
        if self.monitor is not None:
            from widgets.tabs.performance import PerformanceTab
            from widgets.usage_delegate import install_usage_columns
            self.performance_tab = PerformanceTab(self.monitor)
            self.performance_tab.vmActivated.connect(self.tree.select_node)
            self.tabs.insertTab(1, self.performance_tab, "Performance")
            install_usage_columns(self.tree)
        if self.alert_engine is not None and self.alert_engine.model is not None:
            from widgets.tabs.alerts import AlertsTab
            self.alerts_tab = AlertsTab(self.alert_engine.model, self.alert_engine)
            self.tabs.addTab(self.alerts_tab, "Alerts")

        self.search.place_tab(self.tabs)

        # An explicit minimum: the pages' own minimums (the Performance tab's toolbar is
        # built when first shown) would move the splitter whenever the tab changes.
        self.tabs.setMinimumWidth(TABS_MIN_WIDTH)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self.setCentralWidget(self.splitter)

    def _build_keyboard(self) -> None:
        """The palette (Ctrl+K; Ctrl+Shift+P for commands only) and the keys that move
        between the panes and tabs (widgets/keyboard_navigation.py)."""
        from app.palette import (ActionsProvider, InventoryProvider, PaletteCatalog,
                                 SavedSearchesProvider)
        from widgets.command_palette import CommandPalette
        from widgets.keyboard_navigation import KeyboardNavigation, show_keys_in_tooltip
        self.palette_catalog = PaletteCatalog()
        self.palette_catalog.add_provider(ActionsProvider(self._menu_actions))
        self.palette_catalog.add_provider(InventoryProvider(self.inventory,
                                                            self.select_in_tree))
        self.command_palette = CommandPalette(self.palette_catalog, self)
        self.palette_catalog.add_provider(SavedSearchesProvider(self.search.store,
                                                                self.search.open_search))
        self.keyboard = KeyboardNavigation(
            [self.filter_edit, self.tree, self.search.saved_view], self.tree, self.tabs,
            self.command_palette.open_palette, self.command_palette.open_commands, self)
        self.show_general_action = self.keyboard.tab_actions[
            self.tabs.indexOf(self.general_tab)]
        self.console_tab.forget_password_action.setShortcut(QKeySequence("Ctrl+Shift+J"))
        show_keys_in_tooltip(self.console_tab.forget_password_action,
                             self.console_tab.forget_password_action.toolTip())

    def _menu_actions(self) -> list[tuple[str, list[QAction]]]:
        """Every menu's and submenu's actions, for the palette (asked when it opens)."""
        from widgets.keyboard_navigation import menu_actions
        return menu_actions(self.menus())

    def menus(self) -> list:
        return [self.file_menu, self.edit_menu, self.server_menu, self.vm_menu,
                self.storage_menu, self.network_menu, self.view_menu, self.help_menu]

    def select_in_tree(self, conn_id: str, key: str) -> bool:
        """Selects an object's row and gives the tree the keyboard; a filter that hides
        the row is cleared first (the palette found it by name, the filter may not)."""
        if not self.tree.select_node(conn_id, key) and self.filter_edit.text():
            self.filter_edit.clear()
            if not self.tree.select_node(conn_id, key):
                return False
        self.tree.setFocus(Qt.FocusReason.ShortcutFocusReason)
        return True

    def _build_admin_tabs(self) -> None:
        """Snapshots, Storage and Networking (pools, volumes, virtual networks and their
        leases), and the VM Properties dialogs."""
        from app.leases import LeaseWatcher
        from widgets.admin_wizards import AdminWizards
        from widgets.dialogs.properties.opener import PropertiesOpener
        from widgets.tabs.networking import NetworkingTab
        from widgets.tabs.snapshots import SnapshotsTab
        from widgets.tabs.storage import StorageTab
        self.snapshots_tab = SnapshotsTab(self.manager, self.tasks)
        self.tabs.insertTab(self.tabs.indexOf(self.events_tab), self.snapshots_tab, "Snapshots")
        self.properties = PropertiesOpener(self, self.events_log)
        self.commands.properties.set_handler(
            lambda node: self.properties.open(self.manager.host(node.conn_id), node.conn_id,
                                              node.key))
        self.leases = LeaseWatcher(self.manager, self)
        self.general_tab.set_leases(self.leases)
        self.storage_tab = StorageTab(self.manager, self.inventory, self.commands, self.tasks)
        self.networking_tab = NetworkingTab(self.manager, self.inventory, self.commands,
                                            self.tasks, self.leases)
        self.tabs.addTab(self.storage_tab, "Storage")
        self.tabs.addTab(self.networking_tab, "Networking")
        self.storage_tab.poolChosen.connect(self.tree.select_node)
        self.networking_tab.networkChosen.connect(self.tree.select_node)
        self.wizards = AdminWizards(self, self.manager, self.commands.ctx)
        self.commands.new_pool.set_handler(self.wizards.new_pool)
        self.commands.new_network.set_handler(self.wizards.new_network)

    def _build_menus(self) -> None:
        """Fills the frame's menus (MENU_TITLES)."""
        from widgets.keyboard_navigation import show_keys_in_tooltip
        from widgets.tree_menus import actions_of, vm_actions

        file_menu = self.file_menu
        file_menu.addAction(self.add_server_action)
        file_menu.addSeparator()
        file_menu.addAction(self.search.import_action)
        file_menu.addAction(self.search.export_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

        edit_menu = self.edit_menu
        edit_menu.addAction(self.copy_name_action)
        self.preferences_action = None
        if self.preferences is not None:
            edit_menu.addSeparator()
            self.preferences_action = edit_menu.addAction("&Preferences…")
            # Qt's standard key is empty on GNOME; Ctrl+, is what GNOME and KDE apps use.
            self.preferences_action.setShortcut(QKeySequence("Ctrl+,"))
            self.preferences_action.triggered.connect(self._open_preferences)
            show_keys_in_tooltip(self.preferences_action)

        _fill(self.server_menu, actions_of(self.commands.host_commands))
        _fill(self.vm_menu, vm_actions(self.commands, self.console_tab.forget_password_action))
        _fill(self.storage_menu, actions_of(self.commands.pool_commands))
        _fill(self.network_menu, actions_of(self.commands.network_commands))

        view_menu = self.view_menu
        nav = self.keyboard
        _fill(view_menu, [nav.palette_action, nav.commands_action, None, nav.tree_action,
                          nav.next_pane_action, nav.previous_pane_action, None,
                          *nav.tab_actions, None])
        view_menu.addAction(self.focus_filter_action)
        view_menu.addAction(self.search.search_action)
        view_menu.addAction(self.search.save_action)

        help_menu = self.help_menu
        help_menu.addAction(self.readme_action)
        help_menu.addAction(self.shortcuts_action)
        help_menu.addSeparator()
        help_menu.addAction(self.about_action)

    def _build_toolbar(self) -> None:
        from widgets.keyboard_navigation import show_keys_in_tooltip
        from widgets.tree_menus import actions_of

        from PySide6.QtWidgets import QToolBar
        toolbar = QToolBar("Main toolbar", self)
        toolbar.setObjectName("mainToolbar")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.setMovable(False)
        toolbar.addAction(self.add_server_action)
        toolbar.addAction(self.commands.new_vm.action)
        toolbar.addSeparator()
        c = self.commands
        _fill(toolbar, actions_of([c.start, c.shutdown, c.reboot, c.force_shutdown, None,
                                 c.pause, c.resume, c.suspend, None, c.delete]))
        self.addToolBar(toolbar)
        self.toolbar = toolbar
        toggle = toolbar.toggleViewAction()
        toggle.setText("&Toolbar")
        toggle.setShortcut(QKeySequence("Ctrl+Shift+T"))
        show_keys_in_tooltip(toggle, "Show or hide the toolbar")
        self.view_menu.insertAction(self.focus_filter_action, toggle)
        self.view_menu.insertSeparator(self.focus_filter_action)
        self._build_tree_views(toggle)

    def _build_tree_views(self, before) -> None:
        """View › By Server / Folder / Tag / State / Custom Field, and VM › Organize…"""
        from app.inventory.view_switcher import ViewSwitcher
        from widgets.dialogs.organize import open_organize
        from widgets.tree_views_menu import TreeViewsMenu
        self.view_switcher = ViewSwitcher(self.inventory, self.proxy, self.preferences, self)
        self.tree_views_menu = TreeViewsMenu(self.view_switcher, self.view_menu, before, self)
        self.view_switcher.viewChanged.connect(lambda _v: self.tree.expand_hosts())
        self.tree.expand_hosts()
        self.commands.organize.set_handler(lambda nodes: open_organize(self, nodes))
        self.commands.organize.field_definitions = self.view_switcher.field_defs

    # ---- behaviour ----

    def focus_filter(self) -> None:
        self.filter_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter_edit.selectAll()

    def clear_filter(self) -> None:
        """Escape in the filter box: empty it; when it is empty, back to the tree."""
        if self.filter_edit.text():
            self.filter_edit.clear()
        else:
            self.tree.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _filter_changed(self, text: str) -> None:
        self.tree.set_filter_text(text)

    def _node_activated(self, node) -> None:
        """Enter or a double-click: a VM's console (as virt-manager opens it), anything
        else's General page."""
        from app.inventory import NodeKind

        if node.kind is NodeKind.VM:
            self.tabs.setCurrentWidget(self.console_tab)
        else:
            self.tabs.setCurrentWidget(self.general_tab)

    def copy_names(self) -> str:
        names = [self._name_of(node) for node in self.tree.selected_nodes()]
        text = "\n".join(name for name in names if name)
        if text:
            from PySide6.QtGui import QGuiApplication
            QGuiApplication.clipboard().setText(text)
        return text

    def _name_of(self, node) -> str:
        from app.inventory import NodeKind

        if node.kind is NodeKind.HOST:
            return self.inventory.host_name(node.conn_id)
        if node.kind is NodeKind.GROUP:
            return ""
        return node.obj.name

    def show_shortcuts(self):
        from widgets import help as guide
        actions = [a for menu in self.menus() for a in menu.actions()]
        return guide.show_shortcuts(actions, self)

    def _selection_changed(self, nodes: list) -> None:
        self.commands.set_selection(nodes)
        self.general_tab.set_selection(nodes)
        self.console_tab.set_selection(nodes)
        self.storage_tab.set_selection(nodes)
        self.networking_tab.set_selection(nodes)
        self.snapshots_tab.set_selection(nodes)
        if self.performance_tab is not None:
            self.performance_tab.set_selection(nodes)

    def _search_node(self, key: tuple[str, str]):
        """A search result's row in the tree: what a command on the results runs on."""
        return self.inventory.node(*key)

    def _context_actions(self, nodes: list) -> list:
        """The tree's right-click menu for ``nodes`` (widgets/tree_menus.py)."""
        from widgets.tree_menus import TreeMenuExtras, context_actions
        extras = TreeMenuExtras(self.console_tab.forget_password_action,
                                self.show_general_action, self.copy_name_action)
        return context_actions(self.commands, extras, nodes, self)

    def _connect_alerts(self) -> None:
        """Firing alerts are counted on the Alerts tab's title and in the status bar."""
        if self.alerts_tab is None:
            return
        model = self.alert_engine.model
        # Bound methods, not lambdas holding the window: a reference cycle through the
        # window may be freed by Python's cycle collector on a worker thread.
        model.firingChanged.connect(self._alerts_firing)
        self.status.alertsClicked.connect(self._show_alerts)
        self.alerts_tab.editRulesRequested.connect(self._edit_alert_rules)
        self._alerts_firing(model.firing_count())

    def _show_alerts(self) -> None:
        if self.alerts_tab is not None:
            self.tabs.setCurrentWidget(self.alerts_tab)

    def _edit_alert_rules(self) -> None:
        self.show_preferences("Alerts")

    def _open_preferences(self) -> None:
        self.show_preferences()

    def _alerts_firing(self, count: int) -> None:
        if self.alerts_tab is None:
            return
        index = self.tabs.indexOf(self.alerts_tab)
        self.tabs.setTabText(index, f"Alerts ({count})" if count else "Alerts")
        self.status.set_alerts_firing(count)

    def show_preferences(self, page: str | None = None):
        from widgets.dialogs.preferences import PreferencesDialog
        targets = []
        for conn_id in self.manager.conn_ids():
            host = self.manager.host(conn_id)
            targets.append((f"Server {self.manager.label(conn_id)}", f"host:{host.uri}"))
            targets += [(f"VM {vm.name}", f"vm:{vm.key}") for vm in host.vms()[:500]]
        dialog = PreferencesDialog(self.preferences, {"targets": targets}, self)
        if page is not None:
            dialog.show_page(page)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def show_add_server(self) -> None:
        from widgets.dialogs.add_server import AddServerDialog

        dialog = AddServerDialog(self)

        def refused(exc: ValueError) -> None:
            dialog.show_error(str(exc))
            dialog.open()

        def accepted() -> None:
            self.serverAdded.emit(dialog.uri(), dialog.remember_password())
            try:
                result = self.manager.open(dialog.uri())
            except ValueError as exc:
                refused(exc)
                return
            import asyncio  # after the first paint: widgets/startup.py
            if asyncio.iscoroutine(result):
                asyncio.ensure_future(self._finish_open(result, dialog, refused))
            else:
                dialog.deleteLater()

        dialog.accepted.connect(accepted)
        dialog.rejected.connect(dialog.deleteLater)
        dialog.open()
        self._add_server_dialog = dialog

    @staticmethod
    async def _finish_open(pending, dialog, refused) -> None:
        try:
            await pending
        except ValueError as exc:
            refused(exc)
        else:
            dialog.deleteLater()

    def show_domain(self, name: str) -> bool:
        node = self.tree.find_vm_by_name(name)
        if node is None:
            return False
        return self.tree.select_node(node.conn_id, node.key)

    def show_warning(self, title: str, message: str) -> QMessageBox:
        """A non-blocking warning: the user reads it while the window keeps working."""
        from PySide6.QtWidgets import QMessageBox
        box = QMessageBox(QMessageBox.Icon.Warning, title, message,
                          QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return box

    # ---- status bar ----

    def _schedule_summary(self, *_args) -> None:
        self._summary_timer.start()

    def _update_summary(self) -> None:
        self.status.set_summary(*self.inventory.summary())

    # ---- geometry (widgets/window_geometry.py) ----

    def save_geometry(self) -> None:
        if self.attached:   # a frame closed before it was filled has nothing to keep
            self.geometry_keeper.save()

    def tree_width(self) -> int:
        return self.geometry_keeper.tree_width()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if self.attached and not self.geometry_keeper.placed:
            # After this show's layout pass, when the splitter has its real width.
            QTimer.singleShot(0, self, self.geometry_keeper.place_splitter)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self.save_geometry()
        self.closing.emit()
        super().closeEvent(event)


def _fill(widget, actions: list) -> None:
    for action in actions:
        if action is None:
            widget.addSeparator()
        else:
            widget.addAction(action)
