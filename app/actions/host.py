"""Actions on a server connection: disconnect, reconnect, remove, forget its password."""
from __future__ import annotations

from typing import TYPE_CHECKING, Awaitable, Callable

from .base import Action, ActionContext

if TYPE_CHECKING:
    from app.tasks import Task


class ServerAct(Action):
    verb = ""

    def __init__(self, ctx: ActionContext, conn_id: str) -> None:
        self.ctx = ctx
        self.conn_id = conn_id
        label = ctx.host_label(conn_id)
        self.title = f"{self.verb} {label}"
        self.target = label


class DisconnectServer(ServerAct):
    verb = "Disconnecting from"

    async def run(self, task: Task) -> str | None:
        await self.ctx.manager.disconnect_server(self.conn_id)
        return None


class ReconnectServer(ServerAct):
    verb = "Connecting to"

    async def run(self, task: Task) -> str | None:
        await self.ctx.manager.reconnect(self.conn_id)
        return None


class RemoveServer(ServerAct):
    verb = "Removing"

    async def run(self, task: Task) -> str | None:
        await self.ctx.manager.remove(self.conn_id)
        return None


class ForgetSavedPassword(ServerAct):
    """Deletes what the keyring holds for the server (``forget`` is app.remote_access's
    RemoteAccess.forget_password); ``done(conn_id)`` is told afterwards."""

    verb = "Forgetting the saved password of"

    def __init__(self, ctx: ActionContext, conn_id: str,
                 forget: Callable[[str], Awaitable[int]],
                 done: Callable[[str], None] | None = None) -> None:
        super().__init__(ctx, conn_id)
        self.forget = forget
        self.done = done

    async def run(self, task: Task) -> str | None:
        removed = await self.forget(self.conn_id)
        if self.done is not None:
            self.done(self.conn_id)
        return "saved password forgotten" if removed else "nothing was saved"
