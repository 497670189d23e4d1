"""Migrate… and maintenance mode in the window: the commands' dialogs, the tree's
drag and drop, and the Tasks tab that shows the migrations under way.

The window composes; this module is the composition of the migration pieces (the
launcher makes one after the window): the Migrate command opens the Migrate dialog with
the selected VMs, a drop of VMs on a host in the tree opens it with that host chosen,
and the dialog's requests become tasks of app.migration; the maintenance commands open
their dialogs and start app.maintenance's tasks.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Qt

from app.maintenance import MaintenanceMode
from app.migration import MigrationService
from widgets.dialogs.maintenance import EnterMaintenanceDialog, ask_exit
from widgets.dialogs.migrate import MigrateDialog
from widgets.tabs.tasks import TasksTab


class MigrationUI(QObject):
    def __init__(self, window, migrations: MigrationService,
                 maintenance: MaintenanceMode) -> None:
        super().__init__(window)
        self.window = window
        self.migrations = migrations
        self.maintenance = maintenance
        commands = window.commands
        commands.ctx.maintenance = maintenance
        commands.migrate.set_handler(self.open_migrate, migrations)
        commands.enter_maintenance.set_handler(self.open_enter)
        commands.exit_maintenance.set_handler(self.open_exit)
        maintenance.changed.connect(commands.refresh)
        window.tree.enable_vm_drag(self._accepts, commands.migrate.drop)
        self.tasks_tab = TasksTab(window.tasks)
        window.tabs.addTab(self.tasks_tab, "Tasks")
        self.dialog: QObject | None = None

    def _accepts(self, nodes: list, dest: str) -> bool:
        return any(n.conn_id != dest and
                   not self.migrations.why_not_destination(n.conn_id, dest)
                   for n in self.window.commands.migrate.evaluate(nodes).runnable)

    def open_migrate(self, nodes: list, dest: str | None) -> MigrateDialog:
        dialog = MigrateDialog(self.migrations, [(n.conn_id, n.obj) for n in nodes], dest,
                               self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self._start(dialog))
        dialog.open()
        self.dialog = dialog
        return dialog

    def _start(self, dialog: MigrateDialog) -> None:
        dialog.remember()
        for request in dialog.requests():
            self.migrations.start(request)

    def open_enter(self, conn_id: str) -> EnterMaintenanceDialog:
        dialog = EnterMaintenanceDialog(self.maintenance, conn_id, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def accepted() -> None:
            if dialog.plan is not None:
                self.maintenance.enter(dialog.plan, dialog.shut_down.isChecked())

        dialog.accepted.connect(accepted)
        dialog.open()
        self.dialog = dialog
        return dialog

    def open_exit(self, conn_id: str) -> None:
        answer = ask_exit(self.maintenance, conn_id, self.window)
        if answer is not None:
            self.maintenance.exit(conn_id, bring_back=answer)
