"""Actions of XenServer / XCP-ng pools: a member host rebooted, shut down, put into or
out of maintenance, a VM started on a chosen member. Each runs as XAPI tasks whose own
progress the Events row shows (connectors.xapi.pool.XapiPool)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.libvirt.model import ServerInfo, VMInfo
from connectors.xapi.pool import XapiPool

from .base import Action, ActionContext

if TYPE_CHECKING:
    from app.tasks import Task

SERVER_VERBS = {"reboot": "Rebooting", "shutdown": "Shutting down",
                "enter_maintenance": "Entering maintenance mode on",
                "exit_maintenance": "Exiting maintenance mode on"}
SERVER_OUTCOMES = {"reboot": "reboot started", "shutdown": "shut down",
                   "enter_maintenance": "in maintenance: its VMs were moved",
                   "exit_maintenance": "VMs may start there again"}


def pool_of(ctx: ActionContext, conn_id: str) -> XapiPool:
    pool = ctx.manager.pool(conn_id)
    if pool is None:
        raise LookupError("the pool's connection is gone")
    return pool


class PoolServerAction(Action):
    def __init__(self, ctx: ActionContext, conn_id: str, server: ServerInfo,
                 what: str) -> None:
        self.ctx, self.conn_id, self.server, self.what = ctx, conn_id, server, what
        self.title = f"{SERVER_VERBS[what]} {server.name}"
        self.target = f"{ctx.host_label(conn_id)} » {server.name}"

    async def run(self, task: Task) -> str | None:
        await pool_of(self.ctx, self.conn_id).server_action(
            self.server.key, self.what,
            progress=lambda done: task.set_progress(round(done * 100)))
        return SERVER_OUTCOMES[self.what]


class StartOnServerAction(Action):
    def __init__(self, ctx: ActionContext, conn_id: str, vm: VMInfo,
                 server: ServerInfo) -> None:
        self.ctx, self.conn_id, self.vm, self.server = ctx, conn_id, vm, server
        self.title = f"Starting VM {vm.name} on {server.name}"
        self.target = f"{ctx.host_label(conn_id)} » {vm.name}"

    async def run(self, task: Task) -> str | None:
        await pool_of(self.ctx, self.conn_id).start_on(
            self.vm.key, self.server.key,
            progress=lambda done: task.set_progress(round(done * 100)))
        return None
