"""Commands on server connections: disconnect, reconnect, remove, add."""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable, Sequence

from connectors.libvirt.model import ConnState

from .base import Command, call_soon, is_host

log = logging.getLogger(__name__)


class HostCommand(Command):
    states: frozenset = frozenset()
    verb = ""
    needs_words = ""

    def host_nodes(self, selection: Sequence) -> list:
        return [n for n in selection if is_host(n)]

    def runnable(self, selection: Sequence) -> list:
        return [n for n in self.host_nodes(selection)
                if self.ctx.conn_state(n.conn_id) in self.states]

    def can_run(self, selection: Sequence) -> bool:
        return bool(self.runnable(selection))

    def disabled_reason(self, selection: Sequence) -> str:
        nodes = self.host_nodes(selection)
        if not nodes:
            return "select a server"
        state = self.ctx.conn_state(nodes[0].conn_id)
        label = state.value if state is not None else "gone"
        return f"{self.ctx.host_label(nodes[0].conn_id)} is {label}" + (
            f"; it must be {self.needs_words}" if self.needs_words else "")

    def start(self, selection: Sequence) -> list:
        return [self.ctx.tasks.run(f"{self.verb} {self.ctx.host_label(n.conn_id)}",
                                   self.ctx.host_label(n.conn_id),
                                   self._make(n.conn_id))
                for n in self.runnable(selection)]

    def _make(self, conn_id):
        return lambda: self.on_host(conn_id)

    async def on_host(self, conn_id) -> None:
        raise NotImplementedError

    async def execute(self, selection: Sequence) -> None:
        for node in self.runnable(selection):
            await self.on_host(node.conn_id)


class DisconnectHost(HostCommand):
    text = "&Disconnect"
    icon_name = "action-disconnect"
    tooltip = "Close the connection to the server"
    states = frozenset({ConnState.CONNECTED, ConnState.RECONNECTING, ConnState.CONNECTING})
    needs_words = "connected"
    verb = "Disconnecting from"

    async def on_host(self, conn_id) -> None:
        await call_soon(self.ctx.manager.disconnect, conn_id)


class ReconnectHost(HostCommand):
    text = "Re&connect"
    icon_name = "action-connect"
    tooltip = "Connect to the server again"
    states = frozenset({ConnState.DISCONNECTED})
    needs_words = "disconnected"
    verb = "Connecting to"

    async def on_host(self, conn_id) -> None:
        await call_soon(self.ctx.manager.reconnect, conn_id)


class RemoveHost(HostCommand):
    text = "Re&move Server…"
    icon_name = "action-remove-server"
    tooltip = "Disconnect and forget the server"
    states = frozenset(ConnState)
    verb = "Removing"

    def confirmation(self, selection):
        names = ", ".join(self.ctx.host_label(n.conn_id) for n in self.runnable(selection))
        return (f"Remove {names} from HVConsole?\n\nThe VMs keep running on the server; "
                "only this console forgets it.")

    async def on_host(self, conn_id) -> None:
        await call_soon(self.ctx.manager.remove, conn_id)


class AddServer(Command):
    """The window owns the dialog; this command only gives it a place in menu and toolbar."""

    text = "&Add Server…"
    icon_name = "action-add-server"
    tooltip = "Connect to a KVM or Xen host"

    _handler: Callable[[], object] | None = None

    def set_handler(self, handler: Callable[[], object] | None) -> None:
        self._handler = handler
        self.update(self.selection)

    def can_run(self, selection) -> bool:
        return self._handler is not None

    def disabled_reason(self, selection) -> str:
        return "not available here"

    def trigger(self) -> None:
        if self._handler is not None:
            self._handler()

    async def execute(self, selection) -> None:
        if self._handler is not None:
            await call_soon(self._handler)


class ForgetPassword(HostCommand):
    """Deletes the server's remembered credentials from the keyring; the window hands in
    the function that does it (app.remote_access.RemoteAccess.forget_password) and the one
    that says whether anything is saved (``has_saved_password``).

    Enabled only when something is saved for a selected server: the keyring is asked
    (in a thread) each time the selected servers change, not on every refresh."""

    text = "&Forget Saved Password"
    icon_name = "action-forget-password"
    tooltip = "Delete the password remembered for this server from the keyring"
    states = frozenset(ConnState)
    verb = "Forgetting the saved password of"

    _forget: Callable[[str], object] | None = None
    _has_saved: Callable[[str], Awaitable[bool]] | None = None

    def set_handler(self, forget: Callable[[str], object] | None,
                    has_saved: Callable[[str], Awaitable[bool]] | None = None) -> None:
        self._forget = forget
        self._has_saved = has_saved
        self._saved: dict[str, bool | None] = {}
        self._asked_for: tuple = ()
        self.update(self.selection)

    def update(self, selection: Sequence) -> None:
        hosts = tuple(n.conn_id for n in self.host_nodes(selection))
        if self._has_saved is not None and hosts != self._asked_for:
            self._asked_for = hosts
            for conn_id in hosts:
                self._look_up(conn_id)
        super().update(selection)

    def _look_up(self, conn_id: str) -> None:
        self._saved[conn_id] = None          # being asked
        lookup = self._has_saved

        async def ask() -> None:
            try:
                found = bool(await lookup(conn_id))
            except Exception:  # noqa: BLE001 - a keyring that fails: cannot tell
                log.debug("asking the keyring about %s failed", conn_id, exc_info=True)
                found = True
            self._saved[conn_id] = found
            Command.update(self, self.selection)
        asyncio.ensure_future(ask())

    def _known_saved(self, conn_id: str) -> bool:
        return self._has_saved is None or bool(self._saved.get(conn_id))

    def can_run(self, selection: Sequence) -> bool:
        return self._forget is not None and any(
            self._known_saved(n.conn_id) for n in self.runnable(selection))

    def disabled_reason(self, selection: Sequence) -> str:
        if self._forget is None:
            return "no keyring is set up here"
        nodes = self.host_nodes(selection)
        if not nodes:
            return "select a server"
        if any(self._saved.get(n.conn_id) is None for n in nodes):
            return "checking the keyring…"
        names = ", ".join(self.ctx.host_label(n.conn_id) for n in nodes)
        return f"nothing is saved for {names}"

    async def on_host(self, conn_id) -> None:
        if self._forget is not None:
            await call_soon(self._forget, conn_id)
            if self._has_saved is not None:
                self._saved[conn_id] = False
                Command.update(self, self.selection)
