"""HVConsole's main window: the tree of servers and VMs on the left, tabs on the right.

The window composes; it decides nothing about hypervisors. Commands (enabled state, text,
icons, confirmation, running) live in app/commands; the window only places their QActions
in the menus, the toolbar and the tree's context menu, and tells them what is selected.
"""
from __future__ import annotations

import asyncio
import logging

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QLineEdit, QMainWindow, QMessageBox, QSplitter, QTabWidget,
                               QToolBar, QVBoxLayout, QWidget)

from app.inventory import InventoryFilterProxy, NodeKind
from app.tasks import TaskState
from widgets.about import show_about
from widgets.dialogs.add_server import AddServerDialog
from widgets.status_bar import MainStatusBar
from widgets.tabs.events import EventsTab
from widgets.tabs.general import GeneralTab
from widgets.tree import InventoryTree

log = logging.getLogger(__name__)

DEFAULT_SIZE = (1280, 800)


class MainWindow(QMainWindow):
    """Emits ``closing`` once, when the user closes the window (the launcher shuts down)."""

    closing = Signal()
    serverAdded = Signal(str, bool)   # uri, "Remember password" ticked in Add Server

    def __init__(self, manager, inventory, events_log, tasks, commands, prompter=None,
                 parent: QWidget | None = None, *, monitor=None, alert_engine=None,
                 preferences=None) -> None:
        super().__init__(parent)
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
        self.setWindowTitle("HVConsole")
        self.setObjectName("mainWindow")
        self.resize(*DEFAULT_SIZE)

        self.proxy = InventoryFilterProxy(self)
        self.proxy.setSourceModel(inventory)
        self._build_actions()
        self._build_central()
        self._build_menus()
        self._build_toolbar()
        self.status = MainStatusBar(self)
        self.setStatusBar(self.status)
        self._connect_alerts()

        self._summary_timer = QTimer(self, singleShot=True, interval=100)
        self._summary_timer.timeout.connect(self._update_summary)
        self.tree.selectionChangedNodes.connect(self._selection_changed)
        self.tree.set_menu_builder(self._context_actions)
        for signal_name in ("connectionAdded", "connectionRemoved", "stateChanged"):
            getattr(manager, signal_name).connect(self._schedule_summary)
        inventory.batchApplied.connect(self._schedule_summary)
        self._connect_tasks()
        self._restore_geometry()
        self._update_summary()
        self._selection_changed([])
        # The tree, not the filter box, has the keyboard when the window opens (as in
        # XenCenter and virt-manager): arrows move through the VMs at once, and Ctrl+F
        # reaches the filter. A focused filter box would also blink its caret twice a
        # second, repainting the window's left side all day.
        self.tree.setFocus(Qt.FocusReason.OtherFocusReason)

    # ---- building ----

    def _build_actions(self) -> None:
        self.commands.add_server.set_handler(self.show_add_server)
        self.add_server_action = self.commands.add_server.action
        from widgets.dialogs.new_vm.opening import open_clone, open_new_vm
        self.commands.new_vm.set_handler(lambda conn_id: open_new_vm(self, conn_id))
        self.commands.clone.set_handler(lambda node: open_clone(self, node))

        self.quit_action = QAction("&Quit", self)
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        self.quit_action.triggered.connect(self.close)

        self.focus_filter_action = QAction("&Filter", self)
        self.focus_filter_action.setShortcut(QKeySequence.StandardKey.Find)
        self.focus_filter_action.triggered.connect(self.focus_filter)

        self.about_action = QAction("&About HVConsole", self)
        self.about_action.triggered.connect(lambda: show_about(self))

    def _build_central(self) -> None:
        self.filter_edit = QLineEdit()
        self.filter_edit.setObjectName("filterBox")
        self.filter_edit.setPlaceholderText("Filter by name or state…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self._filter_changed)
        self.tree = InventoryTree(self.proxy)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(4, 4, 0, 4)
        left_layout.setSpacing(4)
        left_layout.addWidget(self.filter_edit)
        left_layout.addWidget(self.tree)

        self.general_tab = GeneralTab(self.inventory, self.manager, memory=self.monitor)
        self.events_tab = EventsTab(self.events_log)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.general_tab, "General")
        self.tabs.addTab(self.events_tab, "Events")
        from widgets.tabs.console import ConsoleTab
        self.console_tab = ConsoleTab(self.manager, self.inventory, self.commands.start.action)
        self.tabs.insertTab(1, self.console_tab, "Console")
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

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([380, DEFAULT_SIZE[0] - 380])
        self.splitter.setChildrenCollapsible(False)
        self.setCentralWidget(self.splitter)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.quit_action)

        if self.preferences is not None:
            edit_menu = bar.addMenu("&Edit")
            self.preferences_action = edit_menu.addAction("&Preferences…")
            self.preferences_action.setShortcut(QKeySequence.StandardKey.Preferences)
            self.preferences_action.triggered.connect(self._open_preferences)

        server_menu = bar.addMenu("&Server")
        _fill(server_menu, _actions(self.commands.host_commands))
        self.server_menu = server_menu
        self.vm_menu = bar.addMenu("&VM")
        _fill(self.vm_menu, self._vm_actions())

        view_menu = bar.addMenu("Vie&w")
        self.view_menu = view_menu
        view_menu.addAction(self.focus_filter_action)

        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.about_action)

    def _build_toolbar(self) -> None:
        toolbar = QToolBar("Main toolbar", self)
        toolbar.setObjectName("mainToolbar")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.setMovable(False)
        toolbar.addAction(self.add_server_action)
        toolbar.addAction(self.commands.new_vm.action)
        toolbar.addSeparator()
        c = self.commands
        _fill(toolbar, _actions([c.start, c.shutdown, c.reboot, c.force_shutdown, None,
                                 c.pause, c.resume, c.suspend, None, c.delete]))
        self.addToolBar(toolbar)
        self.toolbar = toolbar
        toggle = toolbar.toggleViewAction()
        toggle.setText("&Toolbar")
        self.view_menu.insertAction(self.focus_filter_action, toggle)
        self.view_menu.insertSeparator(self.focus_filter_action)

    # ---- behaviour ----

    def focus_filter(self) -> None:
        self.filter_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter_edit.selectAll()

    def _filter_changed(self, text: str) -> None:
        self.proxy.set_filter_text(text)
        if text:
            self.tree.expandAll()

    def _selection_changed(self, nodes: list) -> None:
        self.commands.set_selection(nodes)
        self.general_tab.set_selection(nodes)
        self.console_tab.set_selection(nodes)
        if self.performance_tab is not None:
            self.performance_tab.set_selection(nodes)

    def _vm_actions(self) -> list:
        """The VM menu and a VM's context menu: the commands, then the console's own."""
        return [self.commands.new_vm.action, None] + _actions(self.commands.vm_commands) + [
            None, self.console_tab.forget_password_action]

    def _context_actions(self, nodes: list) -> list:
        kinds = {node.kind for node in nodes}
        if kinds == {NodeKind.VM}:
            return self._vm_actions()
        if kinds == {NodeKind.HOST}:
            commands = list(self.commands.host_commands)
            while commands and commands[0] in (self.commands.add_server, None):
                commands.pop(0)
            return [self.commands.new_vm.action, None] + _actions(commands)
        return []

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
        self.tabs.setCurrentWidget(self.alerts_tab)

    def _edit_alert_rules(self) -> None:
        self.show_preferences("Alerts")

    def _open_preferences(self) -> None:
        self.show_preferences()

    def _alerts_firing(self, count: int) -> None:
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
        box = QMessageBox(QMessageBox.Icon.Warning, title, message,
                          QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return box

    # ---- status bar ----

    def _schedule_summary(self, *_args) -> None:
        self._summary_timer.start()

    def _update_summary(self) -> None:
        summary = self.inventory.summary() if hasattr(self.inventory, "summary") else None
        if summary is None:
            summary = self._count_from_model()
        self.status.set_summary(*summary)

    def _count_from_model(self) -> tuple[int, int, int, bool]:
        from app.inventory import NODE_ROLE
        from connectors.libvirt.model import ConnState
        servers = connected = vms = 0
        demo = False
        model = self.inventory
        for row in range(model.rowCount()):
            index = model.index(row, 0)
            node = index.data(NODE_ROLE)
            servers += 1
            host = self.manager.host(node.conn_id)
            if host is not None and host.state == ConnState.CONNECTED:
                connected += 1
                demo = demo or bool(host.info and host.info.is_demo)
            vms += sum(1 for r in range(model.rowCount(index))
                       if model.index(r, 0, index).data(NODE_ROLE).kind == NodeKind.VM)
        return servers, connected, vms, demo

    def _connect_tasks(self) -> None:
        self.tasks.taskStarted.connect(self._task_started)
        self.tasks.taskFinished.connect(self._task_finished)

    def _running_titles(self) -> list[str]:
        return [task.title for task in self.tasks.active()]

    def _task_started(self, task) -> None:
        self.status.set_running(self._running_titles())

    def _task_finished(self, task) -> None:
        running = self._running_titles()
        self.status.set_running(running)
        failed = task.state is TaskState.FAILED
        if task.state is TaskState.SUCCEEDED:
            message = f"{task.title}: done"
        else:
            message = f"{task.title}: {task.error or task.state.label}"
        if not running:
            self.status.set_result(message, failed)
        if failed and self.prompter is not None:
            # Not from inside the task's coroutine: a message box there would run its
            # own event loop in the middle of an asyncio step.
            QTimer.singleShot(0, lambda: self.prompter.show_error(task.title, task.error))

    # ---- geometry ----

    def _settings(self) -> QSettings:
        return QSettings("hvconsole", "hvconsole")

    def _restore_geometry(self) -> None:
        settings = self._settings()
        geometry = settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        splitter = settings.value("window/splitter")
        if isinstance(splitter, QByteArray) and not splitter.isEmpty():
            self.splitter.restoreState(splitter)
        visible = settings.value("window/toolbar", True)
        self.toolbar.setVisible(visible not in (False, "false"))

    def save_geometry(self) -> None:
        settings = self._settings()
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/splitter", self.splitter.saveState())
        settings.setValue("window/toolbar", not self.toolbar.isHidden())
        settings.sync()

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self.save_geometry()
        self.closing.emit()
        super().closeEvent(event)


def _actions(commands: list) -> list:
    """Commands (None = separator) to their QActions, keeping the separators."""
    return [None if command is None else command.action for command in commands]


def _fill(widget, actions: list) -> None:
    for action in actions:
        if action is None:
            widget.addSeparator()
        else:
            widget.addAction(action)
