"""Commands on server connections: disconnect, reconnect, remove, add, forget password."""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Awaitable, Callable, ClassVar, Sequence

from app.actions import DisconnectServer, ForgetSavedPassword, ReconnectServer, RemoveServer
from app.actions.base import Action
from app.actions.host import ServerAct
from connectors.libvirt.model import ConnState

from .base import Command, OpensDialog, Verdict, is_host

if TYPE_CHECKING:
    from app.inventory import Node
    from app.tasks import Task

log = logging.getLogger(__name__)


class HostCommand(Command):
    states: frozenset[ConnState] = frozenset()
    required_state = ""       # "disconnected": "connected; it must be disconnected"
    nothing = "select a server"
    action_class: ClassVar[type[ServerAct] | None] = None

    def about(self, node: Node) -> bool:
        return is_host(node)

    def refusal(self, node: Node) -> str:
        state = self.ctx.conn_state(node.conn_id)
        if state in self.states:
            return ""
        label = state.value if state is not None else "gone"
        return label + (f"; it must be {self.required_state}" if self.required_state
                         else "")

    def actions(self, verdict: Verdict) -> list[Action]:
        make = self.action_class
        assert make is not None
        return [make(self.ctx, n.conn_id) for n in verdict.runnable]


class DisconnectHost(HostCommand):
    text = "&Disconnect"
    icon_name = "action-disconnect"
    shortcut = "Ctrl+Shift+D"
    tooltip = "Close the connection to the server"
    states = frozenset({ConnState.CONNECTED, ConnState.RECONNECTING, ConnState.CONNECTING})
    required_state = "connected"
    action_class = DisconnectServer


class ReconnectHost(HostCommand):
    text = "Re&connect"
    icon_name = "action-connect"
    shortcut = "Ctrl+Shift+L"
    tooltip = "Connect to the server again"
    states = frozenset({ConnState.DISCONNECTED})
    required_state = "disconnected"
    action_class = ReconnectServer


class RemoveHost(HostCommand):
    text = "Re&move Server…"
    icon_name = "action-remove-server"
    shortcut = "Ctrl+Shift+Del"
    tooltip = "Disconnect and forget the server"
    states = frozenset(ConnState)
    action_class = RemoveServer

    def confirmation(self, verdict: Verdict) -> str:
        names = ", ".join(self.ctx.host_label(n.conn_id) for n in verdict.runnable)
        return (f"Remove {names} from HVConsole?\n\nThe VMs keep running on the server; "
                "only this console forgets it.")


class AddServer(OpensDialog[Callable[[], object]]):
    """The window owns the dialog; this command only gives it a place in menu and toolbar."""

    text = "&Add Server…"
    icon_name = "action-add-server"
    shortcut = "Ctrl+Shift+A"
    tooltip = "Connect to a KVM or Xen host"

    def decide(self, selection: Sequence[Node]) -> Verdict:
        # Not about the selection: it always applies (the dialog asks for the server).
        return Verdict(free=True)

    def start(self, verdict: Verdict) -> list[Task]:
        if self._handler is not None:
            self._handler()
        return []


class ForgetPassword(HostCommand):
    """Deletes the server's remembered credentials from the keyring; the window hands in
    the function that does it (app.remote_access.RemoteAccess.forget_password) and the one
    that says whether anything is saved (``has_saved_password``).

    Enabled only when something is saved for a selected server: the keyring is asked
    (in a thread) each time the selected servers change, not on every refresh."""

    text = "&Forget Saved Password"
    icon_name = "action-forget-password"
    shortcut = "Ctrl+Shift+K"
    tooltip = "Delete the password remembered for this server from the keyring"
    states = frozenset(ConnState)

    _forget: Callable[[str], Awaitable[int]] | None = None
    _has_saved: Callable[[str], Awaitable[bool]] | None = None

    def set_handler(self, forget: Callable[[str], Awaitable[int]] | None,
                    has_saved: Callable[[str], Awaitable[bool]] | None = None) -> None:
        self._forget = forget
        self._has_saved = has_saved
        self._saved: dict[str, bool | None] = {}
        self._asked_for: tuple[str, ...] = ()
        self.update(self.selection)

    def update(self, selection) -> None:
        hosts = tuple(n.conn_id for n in selection if is_host(n))
        if self._has_saved is not None and hosts != self._asked_for:
            self._asked_for = hosts
            for conn_id in hosts:
                self._look_up(conn_id)
        super().update(selection)

    def _look_up(self, conn_id: str) -> None:
        self._saved[conn_id] = None          # being asked
        lookup = self._has_saved
        assert lookup is not None

        async def ask() -> None:
            try:
                found = bool(await lookup(conn_id))
            except Exception:  # noqa: BLE001 - a keyring that fails: cannot tell
                log.debug("asking the keyring about %s failed", conn_id, exc_info=True)
                found = True
            self._saved[conn_id] = found
            Command.update(self, self.selection)
        asyncio.ensure_future(ask())

    def evaluate(self, selection) -> Verdict:
        if self._forget is None:
            return Verdict(nothing="no keyring is set up here")
        return super().evaluate(selection)

    def refusal(self, node: Node) -> str:
        if self._has_saved is None:
            return ""
        saved = self._saved.get(node.conn_id)
        if saved is None:
            return "checking the keyring…"
        return "" if saved else "nothing is saved"

    def actions(self, verdict: Verdict) -> list[Action]:
        forget = self._forget
        assert forget is not None
        return [ForgetSavedPassword(self.ctx, n.conn_id, forget, self._forgotten)
                for n in verdict.runnable]

    def _forgotten(self, conn_id: str) -> None:
        if self._has_saved is not None:
            self._saved[conn_id] = False
            Command.update(self, self.selection)
