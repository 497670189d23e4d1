"""Commands on storage pools and virtual networks: start, stop, autostart, refresh,
delete, and "New Pool…"/"New Network…" whose wizards the window owns.

Like the VM commands, each runs one task per selected object it applies to; a delete
asks first, in words that say what is destroyed.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from app.formatting import human_bytes
from connectors.libvirt.model import ConnState, NetworkInfo, PoolInfo

from .base import Command, kind_name


class ChoicePrompter(Protocol):
    def choose(self, title: str, text: str, options: list[str]) -> int | None: ...


class ObjectCommand(Command):
    """A command on pools (``kind`` "POOL") or networks ("NETWORK")."""

    kind = ""
    noun = ""               # "pool", "network"
    verb = ""               # "Starting": the task reads "Starting pool images"
    needs_words = ""

    def nodes(self, selection: Sequence) -> list:
        return [n for n in selection if kind_name(n) == self.kind and n.obj is not None]

    def applies(self, obj: Any) -> bool:
        return True

    def _why_not(self, node: Any) -> str:
        if self.ctx.conn_state(node.conn_id) is not ConnState.CONNECTED:
            return f"the host of {node.obj.name} is not connected"
        if not self.applies(node.obj):
            return f"{node.obj.name} is {node.obj.state_label.lower()}" + (
                f"; it must be {self.needs_words}" if self.needs_words else "")
        return ""

    def runnable(self, selection: Sequence) -> list:
        return [n for n in self.nodes(selection) if not self._why_not(n)]

    def can_run(self, selection: Sequence) -> bool:
        return bool(self.runnable(selection))

    def disabled_reason(self, selection: Sequence) -> str:
        nodes = self.nodes(selection)
        if not nodes:
            return f"select a {self.noun}"
        return self._why_not(nodes[0])

    def target(self, node: Any) -> str:
        return f"{self.ctx.host_label(node.conn_id)} » {node.obj.name}"

    def start(self, selection: Sequence) -> list:
        return [self.ctx.tasks.run(f"{self.verb} {self.noun} {node.obj.name}",
                                   self.target(node), self._make(node))
                for node in self.runnable(selection)]

    def _make(self, node: Any) -> Callable[[], Any]:
        return lambda: self.on_object(node)

    async def on_object(self, node: Any) -> None:
        raise NotImplementedError

    async def execute(self, selection: Sequence) -> None:
        for node in self.runnable(selection):
            await self.on_object(node)

    def host(self, node: Any) -> Any:
        host = self.ctx.host(node.conn_id)
        if host is None:
            raise LookupError(f"the connection of {node.obj.name} is gone")
        return host


# ---- pools ----

class PoolCommand(ObjectCommand):
    kind = "POOL"
    noun = "pool"
    op = ""

    async def on_object(self, node: Any) -> None:
        await self.host(node).storage.pool_op(node.obj.key, self.op)


class StartPool(PoolCommand):
    text = "&Start Pool"
    icon_name = "action-start"
    tooltip = "Start the storage pool (mount it, activate it)"
    verb, op, needs_words = "Starting", "start", "stopped"

    def applies(self, obj: PoolInfo) -> bool:
        return not obj.active


class StopPool(PoolCommand):
    text = "S&top Pool"
    icon_name = "action-shutdown"
    tooltip = "Stop the storage pool; its volumes stay where they are"
    verb, op, needs_words = "Stopping", "stop", "active"

    def applies(self, obj: PoolInfo) -> bool:
        return obj.active

    def confirmation(self, selection: Sequence) -> str | None:
        users: list[str] = []
        for node in self.runnable(selection):
            host = self.ctx.host(node.conn_id)
            if host is not None and node.obj.path:
                users += host.storage.usage().vms_under(node.obj.path)
        if not users:
            return None
        return (f"Stop {', '.join(n.obj.name for n in self.runnable(selection))}?\n\n"
                f"{', '.join(sorted(set(users)))} have disks in it: they cannot start "
                "until the pool is started again.")


class RefreshPool(PoolCommand):
    text = "&Refresh Pool"
    icon_name = "action-reboot"
    tooltip = "Look again at what the pool holds (files copied in by hand, sizes)"
    verb, op, needs_words = "Refreshing", "refresh", "active"

    def applies(self, obj: PoolInfo) -> bool:
        return obj.active


class AutostartPool(PoolCommand):
    """Checked when the (first) selected pool starts with the host; a click flips it."""

    text = "Start &Automatically"
    icon_name = "action-autostart"
    tooltip = "Start the pool whenever the host's libvirt starts"
    verb = "Changing autostart of"

    def __init__(self, ctx: Any, parent: Any = None) -> None:
        super().__init__(ctx, parent)
        self.action.setCheckable(True)

    def applies(self, obj: Any) -> bool:
        return bool(obj.persistent)

    def _why_not(self, node: Any) -> str:
        reason = super()._why_not(node)
        if reason and self.ctx.conn_state(node.conn_id) is ConnState.CONNECTED:
            return f"{node.obj.name} is transient: it has no definition to start from"
        return reason

    def update(self, selection: Sequence) -> None:
        super().update(selection)
        nodes = self.nodes(selection)
        self.action.setChecked(bool(nodes) and bool(nodes[0].obj.autostart))

    def trigger(self) -> None:
        super().trigger()
        self.update(self.selection)   # the click flipped the check; the record decides

    async def on_object(self, node: Any) -> None:
        op = "no-autostart" if node.obj.autostart else "autostart"
        host = self.host(node)
        if self.kind == "POOL":
            await host.storage.pool_op(node.obj.key, op)
        else:
            await host.networking.network_op(node.obj.key, op)


POOL_DELETE_OPTIONS = ["Remove the definition only", "Delete the volumes and the pool"]


class DeletePool(PoolCommand):
    text = "&Delete Pool…"
    icon_name = "action-delete"
    tooltip = "Remove the pool from the host, optionally with everything in it"
    verb = "Deleting"

    def trigger(self) -> None:
        nodes = self.runnable(self.selection)
        if len(nodes) != 1:
            return
        node = nodes[0]
        pool: PoolInfo = node.obj
        where = pool.path or "its storage"
        text = (f"What should happen to the pool {pool.name} ({pool.pool_type})?\n\n"
                f"Remove the definition only: the host forgets the pool; its volumes "
                f"({human_bytes(pool.allocation)} in use) stay in {where} and can be "
                "added again with New Pool.\n\n"
                f"Delete the volumes and the pool: every volume in it and {where} are "
                "destroyed. This cannot be undone; it is refused while a VM uses one of "
                "its volumes.")
        prompter: ChoicePrompter = self.ctx.prompter
        choice = prompter.choose(f"Delete pool {pool.name}", text, POOL_DELETE_OPTIONS)
        if choice is None:
            return
        self.ctx.tasks.run(f"Deleting pool {pool.name}" + (" and its data" if choice else ""),
                           self.target(node), lambda: self.delete(node, bool(choice)))

    async def delete(self, node: Any, with_data: bool) -> None:
        await self.host(node).storage.delete_pool(node.obj.key, with_data)

    def can_run(self, selection: Sequence) -> bool:
        return len(self.runnable(selection)) == 1

    async def on_object(self, node: Any) -> None:
        await self.delete(node, False)


# ---- networks ----

class NetworkCommand(ObjectCommand):
    kind = "NETWORK"
    noun = "network"
    op = ""

    async def on_object(self, node: Any) -> None:
        await self.host(node).networking.network_op(node.obj.key, self.op)


class StartNetwork(NetworkCommand):
    text = "&Start Network"
    icon_name = "action-start"
    tooltip = "Start the virtual network (its bridge, DHCP and DNS)"
    verb, op, needs_words = "Starting", "start", "inactive"

    def applies(self, obj: NetworkInfo) -> bool:
        return not obj.active


class StopNetwork(NetworkCommand):
    text = "S&top Network"
    icon_name = "action-shutdown"
    tooltip = "Stop the virtual network: guests on it lose their link"
    verb, op, needs_words = "Stopping", "stop", "active"

    def applies(self, obj: NetworkInfo) -> bool:
        return obj.active

    def confirmation(self, selection: Sequence) -> str | None:
        users: list[str] = []
        for node in self.runnable(selection):
            host = self.ctx.host(node.conn_id)
            if host is not None:
                users += host.networking.users(node.obj.name, running_only=True)
        if not users:
            return None
        return (f"Stop {', '.join(n.obj.name for n in self.runnable(selection))}?\n\n"
                f"{', '.join(sorted(set(users)))} are running on it and lose their network "
                "until it is started again.")


class AutostartNetwork(AutostartPool):
    kind = "NETWORK"
    noun = "network"
    tooltip = "Start the network whenever the host's libvirt starts"


class DeleteNetwork(NetworkCommand):
    text = "&Delete Network…"
    icon_name = "action-delete"
    tooltip = "Stop the network and remove its definition"
    verb = "Deleting"

    def confirmation(self, selection: Sequence) -> str | None:
        names = ", ".join(n.obj.name for n in self.runnable(selection))
        return (f"Delete the network {names}?\n\nIts bridge, DHCP and DNS stop and the "
                "definition is removed; guests' addresses on it are forgotten. VMs that "
                "still use it are named and nothing is deleted.")

    async def on_object(self, node: Any) -> None:
        await self.host(node).networking.delete(node.obj.key)


# ---- the wizards ----

class HostWizardCommand(Command):
    """Opens a wizard for the host of the selected object; the window hands in the
    function that opens it (``set_handler(fn(conn_id))``)."""

    _handler: Callable[[str], object] | None = None

    def set_handler(self, handler: Callable[[str], object] | None) -> None:
        self._handler = handler
        self.update(self.selection)

    def conn_id(self, selection: Sequence) -> str | None:
        ids = {n.conn_id for n in selection}
        if len(ids) != 1:
            return None
        conn_id = next(iter(ids))
        return conn_id if self.ctx.conn_state(conn_id) is ConnState.CONNECTED else None

    def can_run(self, selection: Sequence) -> bool:
        return self._handler is not None and self.conn_id(selection) is not None

    def disabled_reason(self, selection: Sequence) -> str:
        if self._handler is None:
            return "not available here"
        return "select one connected server (or something on it)"

    def trigger(self) -> None:
        conn_id = self.conn_id(self.selection)
        if self._handler is not None and conn_id is not None:
            self._handler(conn_id)

    async def execute(self, selection: Sequence) -> None:
        self.trigger()


class NewPool(HostWizardCommand):
    text = "New Storage &Pool…"
    icon_name = "pool"
    tooltip = "Add a storage pool to the selected server"


class NewNetwork(HostWizardCommand):
    text = "New &Network…"
    icon_name = "network"
    tooltip = "Add a virtual network to the selected server"
