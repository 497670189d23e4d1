"""Commands on storage pools and virtual networks: start, stop, autostart, refresh,
delete, and "New Pool…"/"New Network…" whose wizards the window owns.

Like the VM commands they decide per selected object (``refusal``) and hand the work to
actions (app/actions/storage.py), one per object; a delete asks first, in words that
say what is destroyed.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence

from app.actions.base import Action
from app.actions.storage import DeleteNetworkAction, DeletePoolAction, NetworkOp, PoolOp
from app.formatting import human_bytes
from app.inventory import NodeKind
from connectors.libvirt.model import ConnState, NetworkInfo, PoolInfo

from .base import Command, Context, OpensDialog, Verdict

if TYPE_CHECKING:
    from PySide6.QtCore import QObject

    from app.inventory import Node
    from app.tasks import Task


class ChoicePrompter(Protocol):
    """The window's prompter also offers a choice between ways to go on (Delete Pool)."""

    def choose(self, title: str, text: str, options: list[str]) -> int | None: ...


def record(node: Node) -> PoolInfo | NetworkInfo:
    assert isinstance(node.obj, (PoolInfo, NetworkInfo))
    return node.obj


def pool_of(node: Node) -> PoolInfo:
    assert isinstance(node.obj, PoolInfo)
    return node.obj


class ObjectCommand(Command):
    """A command on pools (``kind`` POOL) or networks (NETWORK)."""

    kind = NodeKind.POOL
    required = ""               # "stopped": "active; it must be stopped"

    def about(self, node: Node) -> bool:
        return node.kind is self.kind and node.obj is not None

    def applies(self, obj: Any) -> bool:
        return True

    def refusal(self, node: Node) -> str:
        if self.ctx.conn_state(node.conn_id) is not ConnState.CONNECTED:
            return "its server is not connected"
        if not self.applies(node.obj):
            return record(node).state_label.lower() + (
                f"; it must be {self.required}" if self.required else "")
        return ""

    def actions(self, verdict: Verdict) -> list[Action]:
        return [self.action_for(node) for node in verdict.runnable]

    def action_for(self, node: Node) -> Action:
        raise NotImplementedError


# ---- pools ----

class PoolCommand(ObjectCommand):
    kind = NodeKind.POOL
    nothing = "select a storage pool"
    op = ""

    def action_for(self, node: Node) -> Action:
        return PoolOp(self.ctx, node.conn_id, node.key, record(node).name, self.op)


class StartPool(PoolCommand):
    text = "&Start Pool"
    icon_name = "action-start"
    shortcut = "Alt+Shift+S"
    tooltip = "Start the storage pool (mount it, activate it)"
    op, required = "start", "stopped"

    def applies(self, obj: PoolInfo) -> bool:
        return not obj.active


class StopPool(PoolCommand):
    text = "S&top Pool"
    icon_name = "action-shutdown"
    shortcut = "Alt+Shift+T"
    tooltip = "Stop the storage pool; its volumes stay where they are"
    op, required = "stop", "active"

    def applies(self, obj: PoolInfo) -> bool:
        return obj.active

    def confirmation(self, verdict: Verdict) -> str | None:
        users: set[str] = set()
        for node in verdict.runnable:
            host = self.ctx.manager.host(node.conn_id)
            path = pool_of(node).path
            if host is not None and path:
                users.update(host.storage.usage().vms_under(path))
        if not users:
            return None
        return (f"Stop {', '.join(record(n).name for n in verdict.runnable)}?\n\n"
                f"{', '.join(sorted(users))} have disks in it: they cannot start until the "
                "pool is started again.")


class RefreshPool(PoolCommand):
    text = "&Refresh Pool"
    icon_name = "action-reboot"
    shortcut = "F5"
    tooltip = "Look again at what the pool holds (files copied in by hand, sizes)"
    op, required = "refresh", "active"

    def applies(self, obj: PoolInfo) -> bool:
        return obj.active


class AutostartPool(PoolCommand):
    """Checked when the (first) selected object starts with the host; a click flips it."""

    text = "Start &Automatically"
    icon_name = "action-autostart"
    shortcut = "Alt+Shift+A"
    tooltip = "Start the pool whenever the host's libvirt starts"

    def __init__(self, ctx: Context, parent: QObject | None = None) -> None:
        super().__init__(ctx, parent)
        self.action.setCheckable(True)

    def refusal(self, node: Node) -> str:
        reason = super().refusal(node)
        if not reason and not record(node).persistent:
            return "transient: it has no definition to start from"
        return reason

    def update(self, selection: list[Node]) -> None:  # type: ignore[override]
        super().update(selection)
        nodes = [n for n in selection if self.about(n)]
        self.action.setChecked(bool(nodes) and record(nodes[0]).autostart)

    def trigger(self) -> None:
        super().trigger()
        self.update(self.selection)   # the click flipped the check; the record decides

    def action_for(self, node: Node) -> Action:
        obj = record(node)
        op = "no-autostart" if obj.autostart else "autostart"
        if self.kind is NodeKind.POOL:
            return PoolOp(self.ctx, node.conn_id, node.key, obj.name, op)
        return NetworkOp(self.ctx, node.conn_id, node.key, obj.name, op)


POOL_DELETE_OPTIONS = ["Remove the definition only", "Delete the volumes and the pool"]


class DeletePool(PoolCommand):
    """One pool at a time: the question is about that pool's data."""

    text = "&Delete Pool…"
    icon_name = "action-delete"
    shortcut = "Alt+Shift+Del"
    tooltip = "Remove the pool from the host, optionally with everything in it"

    def evaluate(self, selection: list[Node]) -> Verdict:  # type: ignore[override]
        verdict = super().evaluate(selection)
        if len(verdict.runnable) > 1:
            return Verdict(nothing="select one storage pool to delete")
        return verdict

    def start(self, verdict: Verdict) -> list[Task]:
        if len(verdict.runnable) != 1:
            return []
        node = verdict.runnable[0]
        pool = pool_of(node)
        where = pool.path or "its storage"
        text = (f"What should happen to the pool {pool.name} ({pool.pool_type})?\n\n"
                f"Remove the definition only: the host forgets the pool; its volumes "
                f"({human_bytes(pool.allocation)} in use) stay in {where} and can be "
                "added again with New Storage Pool.\n\n"
                f"Delete the volumes and the pool: every volume in it and {where} are "
                "destroyed. This cannot be undone; it is refused while a VM uses one of "
                "its volumes.")
        prompter: ChoicePrompter = self.ctx.prompter  # type: ignore[assignment]
        choice = prompter.choose(f"Delete pool {pool.name}", text, POOL_DELETE_OPTIONS)
        if choice is None:
            return []
        return self.ctx.tasks.run_actions([DeletePoolAction(
            self.ctx, node.conn_id, node.key, pool.name, with_data=bool(choice))])


# ---- networks ----

class NetworkCommand(ObjectCommand):
    kind = NodeKind.NETWORK
    nothing = "select a virtual network"
    op = ""

    def action_for(self, node: Node) -> Action:
        return NetworkOp(self.ctx, node.conn_id, node.key, record(node).name, self.op)


class StartNetwork(NetworkCommand):
    text = "&Start Network"
    icon_name = "action-start"
    shortcut = "Alt+Shift+G"
    tooltip = "Start the virtual network (its bridge, DHCP and DNS)"
    op, required = "start", "inactive"

    def applies(self, obj: NetworkInfo) -> bool:
        return not obj.active


class StopNetwork(NetworkCommand):
    text = "S&top Network"
    icon_name = "action-shutdown"
    shortcut = "Alt+Shift+H"
    tooltip = "Stop the virtual network: guests on it lose their link"
    op, required = "stop", "active"

    def applies(self, obj: NetworkInfo) -> bool:
        return obj.active

    def confirmation(self, verdict: Verdict) -> str | None:
        users: set[str] = set()
        for node in verdict.runnable:
            host = self.ctx.manager.host(node.conn_id)
            if host is not None:
                users.update(host.networking.users(record(node).name, running_only=True))
        if not users:
            return None
        return (f"Stop {', '.join(record(n).name for n in verdict.runnable)}?\n\n"
                f"{', '.join(sorted(users))} are running on it and lose their network "
                "until it is started again.")


class AutostartNetwork(AutostartPool):
    kind = NodeKind.NETWORK
    shortcut = "Alt+Shift+U"
    nothing = "select a virtual network"
    tooltip = "Start the network whenever the host's libvirt starts"


class DeleteNetwork(NetworkCommand):
    text = "&Delete Network…"
    icon_name = "action-delete"
    shortcut = "Alt+Shift+X"
    tooltip = "Stop the network and remove its definition"

    def confirmation(self, verdict: Verdict) -> str | None:
        names = ", ".join(record(n).name for n in verdict.runnable)
        return (f"Delete the network {names}?\n\nIts bridge, DHCP and DNS stop and the "
                "definition is removed; guests' addresses on it are forgotten. VMs that "
                "still use it are named and nothing is deleted.")

    def action_for(self, node: Node) -> Action:
        return DeleteNetworkAction(self.ctx, node.conn_id, node.key, record(node).name)


# ---- the wizards ----

class HostWizardCommand(OpensDialog[Callable[[str], object]]):
    """Opens a wizard for the server of the selected object; the window hands in the
    function that opens it (``set_handler(fn(conn_id))``)."""

    nothing = "select one connected server (or something on it)"

    def conn_id(self, selection: list[Node]) -> str | None:
        ids = {n.conn_id for n in selection}
        if len(ids) != 1:
            return None
        conn_id = next(iter(ids))
        return conn_id if self.ctx.conn_state(conn_id) is ConnState.CONNECTED else None

    def decide(self, selection: Sequence[Node]) -> Verdict:
        if self.conn_id(list(selection)) is None:
            return Verdict(nothing=self.nothing)
        return Verdict(free=True)

    def start(self, verdict: Verdict) -> list[Task]:
        conn_id = self.conn_id(self.selection)
        if self._handler is not None and conn_id is not None:
            self._handler(conn_id)
        return []


class NewPool(HostWizardCommand):
    text = "New Storage &Pool…"
    icon_name = "pool"
    shortcut = "Alt+Shift+P"
    tooltip = "Add a storage pool to the selected server"


class NewNetwork(HostWizardCommand):
    text = "New &Network…"
    icon_name = "network"
    shortcut = "Alt+Shift+N"
    tooltip = "Add a virtual network to the selected server"
