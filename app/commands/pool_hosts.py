"""Commands on the member hosts of XenServer / XCP-ng pools, and Start on Server.

XAPI says what a host allows now (``ServerInfo.allowed_operations``: reboot, shutdown,
evacuate); maintenance mode is XAPI's: the host disabled, then evacuated (its running
VMs moved to the other members), and enabled again on exit.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from app.actions.base import Action
from app.actions.pool_hosts import PoolServerAction, StartOnServerAction
from connectors.libvirt.model import ConnState, ServerInfo, VMInfo, VMState

from .base import Command, Verdict

if TYPE_CHECKING:
    from app.inventory import Node
    from app.tasks import Task


def is_server(node: Node) -> bool:
    return isinstance(node.obj, ServerInfo)


class ServerCommand(Command):
    what = ""                   # the XapiPool.server_action verb
    operation = ""              # the allowed_operations entry it needs ("" none)
    nothing = "select a host of a pool"

    def about(self, node: Node) -> bool:
        return is_server(node)

    def refusal(self, node: Node) -> str:
        server = node.obj
        assert isinstance(server, ServerInfo)
        if self.ctx.conn_state(node.conn_id) is not ConnState.CONNECTED:
            return "its pool is not connected"
        if not server.live:
            return "it is unreachable"
        if self.operation and self.operation not in server.allowed_operations:
            return f"the pool does not allow {self.operation} on it now"
        return self.state_refusal(server)

    def state_refusal(self, server: ServerInfo) -> str:
        return ""

    def actions(self, verdict: Verdict) -> list[Action]:
        return [PoolServerAction(self.ctx, n.conn_id, n.obj, self.what)
                for n in verdict.runnable if isinstance(n.obj, ServerInfo)]


class RebootServer(ServerCommand):
    text = "Re&boot Host"
    icon_name = "action-reboot"
    tooltip = "Reboot the host (it is disabled first; its VMs must be moved or stopped)"
    what = operation = "reboot"

    def confirmation(self, verdict: Verdict) -> str:
        names = ", ".join(n.name for n in verdict.runnable)
        return f"Reboot {names}? Running VMs on it must have been moved or shut down."


class ShutDownServer(ServerCommand):
    text = "S&hut Down Host"
    icon_name = "action-shutdown"
    tooltip = "Power the host off (it is disabled first; its VMs must be moved or stopped)"
    what = operation = "shutdown"

    def confirmation(self, verdict: Verdict) -> str:
        names = ", ".join(n.name for n in verdict.runnable)
        return f"Shut down {names}? It stays off until someone powers it on."


class EnterServerMaintenance(ServerCommand):
    text = "Enter &Maintenance Mode"
    icon_name = "action-maintenance"
    tooltip = "Disable the host and move its running VMs to the other hosts of the pool"
    what = "enter_maintenance"
    operation = "evacuate"

    def state_refusal(self, server: ServerInfo) -> str:
        return "" if server.enabled else "it is in maintenance mode already"


class ExitServerMaintenance(ServerCommand):
    text = "E&xit Maintenance Mode"
    icon_name = "action-maintenance-exit"
    tooltip = "Enable the host again: VMs may start there"
    what = "exit_maintenance"

    def state_refusal(self, server: ServerInfo) -> str:
        return "it is not in maintenance mode" if server.enabled else ""


class StartOnServer(Command):
    """Start ▸ on a chosen member: one command, the host given with the selection."""

    text = "Start on &Server"
    icon_name = "action-start"
    tooltip = "Start the VM on the pool host you choose"
    nothing = "select halted VMs of a pool"

    def about(self, node: Node) -> bool:
        return isinstance(node.obj, VMInfo) and self.ctx.manager.pool(node.conn_id) \
            is not None

    def refusal(self, node: Node) -> str:
        vm = node.obj
        assert isinstance(vm, VMInfo)
        if self.ctx.conn_state(node.conn_id) is not ConnState.CONNECTED:
            return "its pool is not connected"
        if vm.state is not VMState.SHUTOFF:
            return f"{vm.state.value}; it must be shut off"
        if vm.allowed_operations is not None and "start_on" not in vm.allowed_operations \
                and "start" not in vm.allowed_operations:
            return "the pool does not allow start on it now"
        return ""

    def servers(self, selection: list[Node]) -> list[ServerInfo]:
        """The members the selected VMs' pool offers (enabled and live first)."""
        conn_ids = {n.conn_id for n in selection}
        if len(conn_ids) != 1:
            return []
        pool = self.ctx.manager.pool(next(iter(conn_ids)))
        return [] if pool is None else pool.servers()

    def start_on(self, nodes: list[Node], server: ServerInfo) -> list[Task]:
        verdict = self.evaluate(nodes)
        if not verdict.enabled or not server.enabled or not server.live:
            return []
        return self.ctx.tasks.run_actions(
            StartOnServerAction(self.ctx, n.conn_id, n.obj, server)
            for n in verdict.runnable if isinstance(n.obj, VMInfo))

    def actions(self, verdict: Verdict) -> list[Action]:
        return []       # the host is chosen from the submenu: start_on()
