"""Commands the user gives from menus, toolbar and context menus (see base.py)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from PySide6.QtCore import QObject

from app.contracts import Connections, Inventory

from .base import (Command, Context, DeleteChoice, DeleteTarget, Prompter, Verdict,
                   load_icon)
from .create import CloneVM, NewVM
from .host import AddServer, DisconnectHost, ForgetPassword, ReconnectHost, RemoveHost
from .migrate import EnterMaintenance, ExitMaintenance, MigrateVM
from .organize import OrganizeVMs
from .pool_hosts import (EnterServerMaintenance, ExitServerMaintenance, RebootServer,
                         ShutDownServer, StartOnServer)
from .properties import ShowProperties
from .storage import (AutostartNetwork, AutostartPool, DeleteNetwork, DeletePool,
                      NewNetwork, NewPool, RefreshPool, StartNetwork, StartPool, StopNetwork,
                      StopPool)
from .vm import (DeleteVM, ForceRebootVM, ForceShutDownVM, PauseVM, RebootVM, ResumeVM,
                 ShutDownVM, StartVM, SuspendVM)

if TYPE_CHECKING:
    from app.inventory import Node
    from app.tasks import TaskManager

__all__ = ["Command", "CommandSet", "DeleteChoice", "DeleteTarget", "Prompter", "Verdict",
           "load_icon",
           "AddServer", "DisconnectHost", "ForgetPassword", "ReconnectHost", "RemoveHost",
           "DeleteVM", "ForceRebootVM", "ForceShutDownVM", "PauseVM", "RebootVM", "ResumeVM",
           "ShowProperties", "ShutDownVM", "StartVM", "SuspendVM", "NewVM", "CloneVM",
           "MigrateVM", "EnterMaintenance", "ExitMaintenance", "OrganizeVMs"]


class CommandSet(QObject):
    """Every command once, re-evaluated whenever the selection or anything it shows changes.

    ``vm_commands`` and ``host_commands`` are in menu order; None marks a separator.
    """

    def __init__(self, manager: Connections, inventory: Inventory, tasks: TaskManager,
                 prompter: Prompter, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ctx = Context(manager, inventory, tasks, prompter)
        c = self.ctx
        self.start = StartVM(c, self)
        self.shutdown = ShutDownVM(c, self)
        self.reboot = RebootVM(c, self)
        self.force_shutdown = ForceShutDownVM(c, self)
        self.force_reboot = ForceRebootVM(c, self)
        self.pause = PauseVM(c, self)
        self.resume = ResumeVM(c, self)
        self.suspend = SuspendVM(c, self)
        self.delete = DeleteVM(c, self)
        self.add_server = AddServer(c, self)
        self.disconnect_host = DisconnectHost(c, self)
        self.reconnect_host = ReconnectHost(c, self)
        self.remove_host = RemoveHost(c, self)
        self.forget_password = ForgetPassword(c, self)
        self.properties = ShowProperties(c, self)
        self.organize = OrganizeVMs(c, self)
        self.new_vm = NewVM(c, self)
        self.clone = CloneVM(c, self)
        self.migrate = MigrateVM(c, self)
        self.enter_maintenance = EnterMaintenance(c, self)
        self.exit_maintenance = ExitMaintenance(c, self)
        # XenServer / XCP-ng pools (app/commands/pool_hosts.py)
        self.start_on = StartOnServer(c, self)
        self.reboot_server = RebootServer(c, self)
        self.shutdown_server = ShutDownServer(c, self)
        self.enter_server_maintenance = EnterServerMaintenance(c, self)
        self.exit_server_maintenance = ExitServerMaintenance(c, self)
        self.server_commands: list[Command | None] = [
            self.enter_server_maintenance, self.exit_server_maintenance, None,
            self.reboot_server, self.shutdown_server]
        self.vm_commands: list[Command | None] = [
            self.start, self.shutdown, self.reboot, None,
            self.suspend, self.pause, self.resume, None,
            self.force_shutdown, self.force_reboot, None, self.clone, self.migrate, None,
            self.delete, None, self.organize, self.properties]
        self.host_commands: list[Command | None] = [
            self.add_server, None, self.reconnect_host, self.disconnect_host, None,
            self.enter_maintenance, self.exit_maintenance, None,
            self.remove_host, self.forget_password]
        # Storage pools and virtual networks (app/commands/storage.py).
        self.new_pool = NewPool(c, self)
        self.start_pool = StartPool(c, self)
        self.stop_pool = StopPool(c, self)
        self.refresh_pool = RefreshPool(c, self)
        self.autostart_pool = AutostartPool(c, self)
        self.delete_pool = DeletePool(c, self)
        self.new_network = NewNetwork(c, self)
        self.start_network = StartNetwork(c, self)
        self.stop_network = StopNetwork(c, self)
        self.autostart_network = AutostartNetwork(c, self)
        self.delete_network = DeleteNetwork(c, self)
        self.pool_commands: list[Command | None] = [
            self.start_pool, self.stop_pool, self.refresh_pool, None, self.autostart_pool,
            None, self.new_pool, self.delete_pool]
        self.network_commands: list[Command | None] = [
            self.start_network, self.stop_network, None, self.autostart_network, None,
            self.new_network, self.delete_network]
        self._selection: list[Node] = []
        inventory.batchApplied.connect(self.refresh)
        manager.stateChanged.connect(self.refresh)

    def _current(self, node: Node) -> Node:
        """The inventory's latest node for a selected one, so a state change that arrives
        while the selection stays put still re-evaluates against fresh records (a
        vanished node keeps its last picture)."""
        return self.ctx.inventory.node(node.conn_id, node.key) or node

    def all(self) -> list[Command]:
        return [c for c in self.vm_commands + self.host_commands + self.pool_commands
                + self.network_commands + self.server_commands if c is not None] + [
                    self.new_vm, self.start_on]

    @property
    def selection(self) -> list[Node]:
        return list(self._selection)

    def set_selection(self, nodes: Sequence[Node]) -> None:
        self._selection = list(nodes)
        self.refresh()

    def refresh(self, *_args) -> None:
        self._selection = [self._current(n) for n in self._selection]
        for command in self.all():
            command.update(self._selection)
