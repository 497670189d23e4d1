"""Runs the desktop application once its window is on the screen (widgets/startup.py):
the qasync loop, the app objects, the window filled, the connections opened.

Which connections open at start:
- ``--connect URI`` (repeatable): exactly those, not saved;
- otherwise the saved servers;
- with none saved: the embedded demo lab, plus ``qemu:///system`` when a local libvirtd's
  socket exists, as virt-manager does. That one is not saved; if it fails it stays in the
  tree, not connected, with the reason and Reconnect (a libvirtd that is slow to answer
  on first start must not make the local host vanish without a word).

``--screenshot FILE`` waits until every connection's attempt has ended (host-key check
and all) and the inventory has been quiet for a moment, then saves the window and exits.
The exit status says whether the window shows what was asked: non-zero, with one line on
stderr per problem, when a connection did not end connected or ``--show-domain`` names a
VM that never appeared (the PNG is written anyway, to show what went wrong). Such a run
asks nobody anything (``RemotePrompts(unattended=True)``): a password comes from the
keyring or not at all, a XAPI certificate is pinned in the URI or not trusted, and the
problem line says which was missing instead of the picture showing a dialog. With
``--show-domain-editor NAME`` the picture is of that VM's Properties dialog instead.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtWidgets import QApplication

from app.commands import CommandSet
from app.connection_manager import ConnectionManager
from app import settings_file
from app.connection_settings import ConnectionPreferences
from app.events_log import EventsLog
from app.gc_policy import collect_on_qt_thread, freeze_big_inventories
from app.heap_trim import trim_after_big_snapshots
from app.inventory import InventoryModel
from app.perf.alerts import AlertEngine, AlertsModel
from app.perf.history import HistoryStore
from app.perf.monitor import PerfMonitor
from app.perf.usage import UsageColumns
from app.preferences import Preferences
from app.server_alerts import ServerAlerts
from app.startup_hosts import LOCAL_URI, forget_early, local_socket_exists
from app.remote_access import RemoteAccess
from app.tasks import TaskManager
from widgets.dialogs.prompter import DialogPrompter
from widgets.main_window import MainWindow
from widgets.milestones import report_milestone, reporting
from widgets.remote_prompts import RemotePrompts

if TYPE_CHECKING:
    from widgets.event_loop import AsyncQtLoop

log = logging.getLogger(__name__)

SETTLE_QUIET_S = 0.3
SETTLE_MAX_S = 60.0     # a host-key check (15 s) and an open (30 s call timeout) fit
SHUTDOWN_TIMEOUT_S = 3.0


def run_session(app: QApplication, args: argparse.Namespace, frame: MainWindow | None = None,
                loop: AsyncQtLoop | None = None) -> int:
    """Runs the application until its window closes; the process's exit status.
    ``frame``: the window already on the screen (widgets/startup.py), to be filled;
    ``loop``: the asyncio loop on Qt's, if made already (early opens are bound to it)."""
    if loop is None:
        from widgets.event_loop import AsyncQtLoop
        loop = AsyncQtLoop(app)
    asyncio.set_event_loop(loop)
    session = Session(args, frame)
    try:
        with loop:
            return loop.run_until_complete(session.main())
    except KeyboardInterrupt:
        return 130


class Session:
    """The app objects and the window for one run of the program (made by ``build()``)."""

    events_log: EventsLog
    inventory: InventoryModel
    manager: ConnectionManager
    tasks: TaskManager
    prompter: DialogPrompter
    commands: CommandSet
    preferences: Preferences
    monitor: PerfMonitor
    usage_columns: UsageColumns
    alert_engine: AlertEngine
    server_alerts: ServerAlerts
    window: MainWindow
    connection_preferences: ConnectionPreferences
    remote: RemoteAccess
    remote_prompts: RemotePrompts

    def __init__(self, args: argparse.Namespace, frame: MainWindow | None = None) -> None:
        self.args = args
        self._frame = frame     # built by build(), or shown already and filled by it
        self._built = False
        self._closed: asyncio.Future[None] | None = None
        self._last_batch = 0.0
        self.problems: list[str] = []   # why the window is not what was asked, for scripts

    def build(self) -> MainWindow:
        from widgets.dialogs.credentials import ask_credentials

        self._built = True
        self.events_log = EventsLog()
        self.inventory = InventoryModel()
        freeze_big_inventories(self.inventory)
        trim_after_big_snapshots(self.inventory)
        app = QCoreApplication.instance()
        if app is not None:
            collect_on_qt_thread(app)
        self.manager = ConnectionManager(self.inventory, self.events_log)
        self.tasks = TaskManager(self.events_log)
        self.prompter = DialogPrompter()
        self.commands = CommandSet(self.manager, self.inventory, self.tasks, self.prompter)
        self._build_performance()
        if self._frame is None:
            self.window = MainWindow()
        else:
            self.window = self._frame
        self.window.attach(self.manager, self.inventory, self.events_log, self.tasks,
                           self.commands, self.prompter, monitor=self.monitor,
                           alert_engine=self.alert_engine, preferences=self.preferences)
        self.prompter.parent = self.window
        if self.window.alerts_tab is not None:
            self.server_alerts.alertRaised.connect(self.window.alerts_tab.notify)
        self.manager.set_auth_handler(
            lambda uri, requests: ask_credentials(self.window, uri, requests))
        self._build_remote_access()
        self._build_migration()
        self.inventory.batchApplied.connect(self._batch_applied)
        return self.window

    def _build_performance(self) -> None:
        """Preferences, the on-disk history, one sampler per connected host, the tree's
        usage columns and the alerts (the rules' and the pools' own)."""
        self.preferences = Preferences()
        self._stop_settings_reports = settings_file.report_failures_to(
            lambda message: self.events_log.add("error", "application", "settings", message))
        self.monitor = PerfMonitor(self.manager, self.events_log, self.preferences,
                                   HistoryStore().start())
        self.monitor.follow_pools()
        self.usage_columns = UsageColumns(self.monitor, self.inventory)
        alerts = AlertsModel()
        self.alert_engine = AlertEngine(self.monitor, alerts, self.events_log,
                                        self.preferences)
        self.server_alerts = ServerAlerts(self.manager, alerts, self.tasks)

    def _build_migration(self) -> None:
        """Migrate…, drag and drop between hosts, maintenance mode, the Tasks tab."""
        from app.host_settings import HostSettings
        from app.maintenance import MaintenanceMode
        from app.migration import MigrationService
        from widgets.dialogs import migration_page  # noqa: F401 - registers the page
        from widgets.migration_ui import MigrationUI

        self.host_settings = HostSettings()
        self.migrations = MigrationService(self.manager, self.tasks, self.preferences,
                                           self.host_settings)
        self.maintenance = MaintenanceMode(self.manager, self.migrations,
                                           self.host_settings, self.tasks, self.inventory)
        self.migration_ui = MigrationUI(self.window, self.migrations, self.maintenance)

    def _build_remote_access(self) -> None:
        """SSH host keys, remembered passwords and Forget Saved Password (app.remote_access)."""
        from widgets.dialogs import connections_page  # noqa: F401 - registers the page

        self.connection_preferences = ConnectionPreferences(self.manager, self.preferences)

        prompts = RemotePrompts(self.window,
                                unattended=bool(getattr(self.args, "screenshot", None)))
        self.remote = RemoteAccess(self.manager, self.events_log, prompts.credentials,
                                   prompts.host_key, unlock_vault=prompts.unlock_file)
        prompts.remote = self.remote
        self.manager.set_certificate_handler(prompts.certificate)
        self.remote_prompts = prompts
        self.commands.forget_password.set_handler(self.remote.forget_password,
                                                  self.remote.has_saved_password)
        self.window.serverAdded.connect(prompts.remember_by_default)
        self.window.console_tab.vault_source = lambda: self.remote.broker.vault
        from app.console_tls import tls_options
        from widgets.dialogs import console_page  # noqa: F401 - registers the page
        from widgets.dialogs import fields_page  # noqa: F401 - registers the page
        self.window.console_tab.tls_source = lambda: tls_options(self.preferences)

    def _window_closed(self) -> None:
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)

    async def main(self) -> int:
        loop = asyncio.get_running_loop()
        self._closed = loop.create_future()
        window = self.build()
        window.closing.connect(self._window_closed)
        window.show()
        report_milestone("window-filled")
        from widgets.quit_signals import close_on_signals
        close_on_signals(loop, window)
        self._report_config_warnings()
        opened = await self.open_connections()
        loop.create_task(self._connections_ended(opened))
        status = 0
        if self.args.show_domain:
            loop.create_task(self._show_domain(self.args.show_domain))
        editor = self.args.show_domain_editor
        if self.args.show_domain_creator:
            from widgets.domain_creator_cli import show_domain_creator
            status = await show_domain_creator(self, opened)
            window.close()
        elif editor and self.args.screenshot:
            status = await self.editor_screenshot(self.args.screenshot, opened, editor)
            window.close()
        elif self.args.screenshot:
            status = await self.take_screenshot(self.args.screenshot, opened)
            window.close()
        else:
            if editor:
                loop.create_task(self.show_editor(opened, editor))
            await self._closed
        await self.shutdown()
        return status

    # ---- connections ----

    async def open_connections(self) -> list:
        from app.connection_manager import demo_uri, is_demo_uri
        if self.args.connect:
            opened = []
            for uri in self.args.connect:
                try:
                    opened.append(self.manager.open(uri, save=False, demo=is_demo_uri(uri)))
                except ValueError as exc:
                    self.events_log.add("error", "connection", uri, str(exc))
                    self._problem(f"{uri}: {exc}")
            return opened
        saved = self.manager.restore_saved()
        if saved:
            return saved
        opened = []
        try:
            opened.append(self.manager.open(demo_uri(), save=False, demo=True))
        except FileNotFoundError as exc:
            self.events_log.add("error", "application", "demo", str(exc))
            self.window.show_warning("Demo inventory", str(exc))
            self._problem(str(exc))
        if await asyncio.to_thread(local_socket_exists):
            opened.append(self.manager.open(LOCAL_URI, save=False))
        return opened

    async def _connections_ended(self, conn_ids: list) -> None:
        """Once every first attempt ended: the early connections no host took are closed
        (app.startup_hosts), and a benchmark hears of it."""
        for conn_id in conn_ids:
            await self.manager.wait_attempt(conn_id, SETTLE_MAX_S)
        forget_early()
        if reporting():
            report_milestone("connections-ended")

    def _problem(self, sentence: str) -> None:
        """Said at once on stderr; with --screenshot it also makes the exit status 1."""
        self.problems.append(sentence)
        print(f"hvconsole: {sentence}", file=sys.stderr)

    # ---- one-shot jobs ----

    async def _show_domain(self, name: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_MAX_S
        while not self.window.show_domain(name):
            if loop.time() > deadline:
                self.events_log.add("warning", "application", "hvconsole",
                                    f"No VM named {name!r} was found to show.")
                return
            await asyncio.sleep(0.1)

    def _batch_applied(self, *_args) -> None:
        # The monotonic clock, not the loop's: a batch may still be applied by Qt after
        # the asyncio loop stopped (a window closing), where there is no loop to ask.
        self._last_batch = time.monotonic()

    async def settle(self, conn_ids: list) -> None:
        """Every connection's attempt ended, then the inventory quiet for a moment."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_MAX_S
        for conn_id in conn_ids:
            await self.manager.wait_attempt(conn_id, max(0.0, deadline - loop.time()))
        connected_at = time.monotonic()
        while loop.time() < deadline:
            if time.monotonic() - max(self._last_batch, connected_at) >= SETTLE_QUIET_S:
                break
            await asyncio.sleep(0.05)

    def connection_problems(self, conn_ids: list) -> list[str]:
        """One sentence per connection that did not end connected: the host and why."""
        from connectors.libvirt.model import ConnState
        problems = []
        for conn_id in conn_ids:
            host = self.manager.server(conn_id)     # a libvirt host or a XenAPI pool
            if host is None:
                continue
            state, reason = self.manager.state(conn_id)
            if state is ConnState.CONNECTED:
                continue
            unanswered = self.remote_prompts.unanswered_for(host.uri) \
                if hasattr(self, "remote_prompts") else ""
            if unanswered:
                why = unanswered
            elif state is ConnState.CONNECTING:
                why = f"still connecting after {SETTLE_MAX_S:g} s"
            else:
                why = reason or state.label.lower()
            problems.append(f"{self.manager.label(conn_id)} ({host.uri}): not connected: {why}")
        return problems

    async def take_screenshot(self, path: str, conn_ids: list) -> int:
        from widgets.main_window import DEFAULT_SIZE
        self.window.resize(*DEFAULT_SIZE)  # the same size on every machine, for docs
        await self.settle(conn_ids)
        problems = self.connection_problems(conn_ids)
        name = self.args.show_domain
        if name and not self.window.show_domain(name):
            problems.append(f"no VM named {name!r} is in the inventory")
        self.window.tree.expand_hosts()
        await asyncio.sleep(0.2)  # let the expanded rows and status bar paint
        pixmap = self.window.grab()
        if pixmap.isNull() or not pixmap.save(path, "PNG"):
            print(f"hvconsole: cannot write the screenshot to {path}", file=sys.stderr)
            return 2
        for problem in problems:
            self._problem(problem)
        return 1 if self.problems else 0

    async def show_editor(self, conn_ids: list, name: str):
        """The Properties dialog of the VM called ``name`` (None, with the reason said,
        when there is no such VM or its definition cannot be read)."""
        await self.settle(conn_ids)
        node = self.window.tree.find_vm_by_name(name)
        if node is None:
            self._problem(f"no VM named {name!r} is in the inventory")
            return None
        self.window.show_domain(name)
        host = self.manager.host(node.conn_id)
        if host is None:
            self._problem(f"the server of {name} is no longer listed")
            return None
        dialog = await self.window.properties.show(host, node.conn_id, node.key)
        if dialog is None:
            self._problem(f"the Properties of {name} could not be read")
        return dialog

    async def editor_screenshot(self, path: str, conn_ids: list, name: str) -> int:
        dialog = await self.show_editor(conn_ids, name)
        if dialog is None:
            return 1
        await asyncio.sleep(0.3)          # let the pages lay out and paint
        pixmap = dialog.grab()
        dialog.close()
        if pixmap.isNull() or not pixmap.save(path, "PNG"):
            print(f"hvconsole: cannot write the screenshot to {path}", file=sys.stderr)
            return 2
        return 1 if self.problems else 0

    # ---- leaving ----

    def _report_config_warnings(self) -> None:
        for warning in self.manager.load_saved():
            self.events_log.add("warning", "application", "settings", warning)
            self.window.show_warning("Settings", warning)

    async def shutdown(self) -> None:
        """Disconnects every host, giving up after a few seconds (a dead host must not
        keep the window from closing)."""
        if not self._built:
            return
        self._stop_settings_reports()
        if self.monitor is not None:
            try:  # samplers first (before their connections close), then the history
                await asyncio.wait_for(self.monitor.close(), SHUTDOWN_TIMEOUT_S)
            except Exception:  # noqa: BLE001
                log.warning("the performance history was not closed cleanly",
                            exc_info=True)
        try:
            await asyncio.wait_for(self.manager.close_all(), SHUTDOWN_TIMEOUT_S)
        except asyncio.TimeoutError:
            log.warning("some hosts did not disconnect within %s s", SHUTDOWN_TIMEOUT_S)
        except Exception:  # noqa: BLE001 - leaving must not end in a traceback
            log.debug("error while disconnecting at exit", exc_info=True)
        QTimer.singleShot(0, lambda: None)


