"""XenCenter's Command on a QAction: one object per command feeds menu, toolbar and
context menu, and decides from the selection whether it may run — per selected object,
with the reason for each one it refuses.

Commands decide, actions do (app/actions): ``evaluate(selection)`` is a ``Verdict`` (the
objects it runs on, the ones it refuses and why), ``actions(verdict)`` the work, one
Action per object, which the TaskManager runs as Tasks. Commands never ask a human
anything directly (app/ has no widgets): they go through a Prompter, which the window
implements with dialogs and tests with scripted answers.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Protocol, Sequence, TypeVar

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QIcon, QKeySequence

from app import icons, task_group
from app.actions.base import Action, ActionContext
from app.inventory import Node, NodeKind
from connectors.libvirt.model import VMInfo

from . import bulk

if TYPE_CHECKING:
    from app.task_group import TaskGroup
    from app.tasks import Task

log = logging.getLogger(__name__)
H = TypeVar("H")     # what opens a command's dialog (OpensDialog)


@dataclass(frozen=True)
class DeleteChoice:
    delete_storage: bool


@dataclass(frozen=True)
class DeleteTarget:
    """A VM offered for deletion and the server it is on (VMs of several servers may be
    selected at once, and two may share a name)."""

    vm: VMInfo
    server: str


class Prompter(Protocol):
    def confirm(self, title: str, text: str, verb: str) -> bool:
        """Asks before a command; ``verb`` is the button that goes ahead ("Force Shut
        Down"), beside Cancel."""

    def ask_delete(self, targets: list[DeleteTarget]) -> DeleteChoice | None: ...

    def show_error(self, title: str, text: str) -> None: ...


def load_icon(name: str) -> QIcon:
    """A command's icon by name; a null icon when there is none (never an error)."""
    return icons.icon(name) if name else QIcon()


def is_vm(node: Node) -> bool:
    return isinstance(node.obj, VMInfo)


def is_host(node: Node) -> bool:
    return node.kind is NodeKind.HOST


@dataclass(frozen=True)
class Refusal:
    node: Node
    reason: str         # a phrase about the object: "running; it must be shut off"


@dataclass(frozen=True)
class Verdict:
    """What a command makes of a selection: the objects it runs on and those it refuses,
    each with its reason. ``nothing`` is said when the selection holds nothing the command
    is about at all ("select a VM")."""

    runnable: tuple[Node, ...] = ()
    refused: tuple[Refusal, ...] = ()
    nothing: str = ""
    free: bool = False      # a command not about the selection (Add Server) may run

    @property
    def enabled(self) -> bool:
        return self.free or bool(self.runnable)

    def explanation(self, name_of) -> str:
        """The refusals for a tooltip, grouped by reason: "web-01, db-01: running; it
        must be shut off" — every selected object accounted for, not just the first."""
        if not self.refused:
            return self.nothing
        by_reason: dict[str, list[str]] = defaultdict(list)
        for refusal in self.refused:
            by_reason[refusal.reason].append(name_of(refusal.node))
        parts = []
        for reason, names in by_reason.items():
            shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more"
                                             if len(names) > 4 else "")
            parts.append(f"{shown}: {reason}")
        return "; ".join(parts)


class MaintenanceState(Protocol):
    """Whether a server is in maintenance mode (app.maintenance.MaintenanceMode)."""

    def in_maintenance(self, conn_id: str) -> bool: ...


@dataclass
class Context(ActionContext):
    """ActionContext plus what only commands need: a way to ask the user, and which
    servers are in maintenance mode (nothing is started there)."""

    prompter: Prompter
    maintenance: MaintenanceState | None = None

    def node_name(self, node: Node) -> str:
        return self.host_label(node.conn_id) if is_host(node) else node.name

    def in_maintenance(self, conn_id: str) -> bool:
        return self.maintenance is not None and self.maintenance.in_maintenance(conn_id)


class Command(QObject):
    text = ""
    icon_name = ""
    shortcut: str | None = None
    tooltip = ""
    nothing = "nothing selected that this applies to"

    def __init__(self, ctx: Context, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.selection: list[Node] = []
        self.action = QAction(load_icon(self.icon_name), self.text, self)
        if self.shortcut:
            self.action.setShortcut(QKeySequence(self.shortcut))
        self.action.triggered.connect(self.trigger)
        self.update(self.selection)

    # ---- what a subclass decides ----

    def about(self, node: Node) -> bool:
        """Whether the command concerns this kind of object at all (VMs, servers)."""
        return False

    def refusal(self, node: Node) -> str:
        """Why the command cannot run on this object now; "" when it can."""
        return ""

    def confirmation(self, verdict: Verdict) -> str | None:
        return None

    def actions(self, verdict: Verdict) -> list[Action]:
        """The work for what the verdict lets it run on: one Action per object."""
        return []

    # ---- shared behaviour ----

    @property
    def verb(self) -> str:
        return self.text.replace("&", "").rstrip(".…")

    def evaluate(self, selection: Sequence[Node]) -> Verdict:
        concerned = [n for n in selection if self.about(n)]
        if not concerned:
            return Verdict(nothing=self.nothing)
        runnable, refused = [], []
        for node in concerned:
            reason = self.refusal(node)
            if reason:
                refused.append(Refusal(node, reason))
            else:
                runnable.append(node)
        return Verdict(tuple(runnable), tuple(refused))

    def update(self, selection: Sequence[Node]) -> None:
        self.selection = list(selection)
        verdict = self.evaluate(self.selection)
        self.action.setEnabled(verdict.enabled)
        tip = self.tooltip or self.verb
        why = verdict.explanation(self.ctx.node_name)
        if why:
            tip = f"{tip}: {why}" if not verdict.enabled else f"{tip} (not for {why})"
        keys = self.action.shortcut()
        if not keys.isEmpty():
            tip = f"{tip} ({keys.toString(QKeySequence.SequenceFormat.NativeText)})"
        self.action.setToolTip(tip)
        self.action.setStatusTip(tip)

    def trigger(self) -> None:
        """Called by the QAction: confirm when needed, then hand the actions to tasks."""
        self.start(self.evaluate(self.selection))

    def start(self, verdict: Verdict) -> list[Task]:
        if not verdict.enabled:
            return []
        if self.is_bulk(verdict):
            return self.start_group(verdict)
        question = self.confirmation(verdict)
        if question and not self.ctx.prompter.confirm(self.verb, question, self.verb):
            return []
        return self.ctx.tasks.run_actions(self.actions(verdict))

    # ---- many VMs at once (app/commands/bulk.py) ----

    last_group: TaskGroup | None = None

    def is_bulk(self, verdict: Verdict) -> bool:
        return sum(1 for node in verdict.runnable if is_vm(node)) > 1

    def start_group(self, verdict: Verdict, actions: Sequence[Action] | None = None,
                    what: str = "") -> list[Task]:
        """One confirmation naming how many VMs on which servers, then one task group;
        the VMs the command refused are the group's skipped results."""
        text = bulk.question(self.verb, verdict, self.ctx, self.confirmation(verdict), what)
        if not self.ctx.prompter.confirm(self.verb, text, self.verb):
            return []
        title = f"{self.verb} {bulk.counted(len(verdict.runnable), 'VM')}"
        group = task_group.run_group(
            self.ctx.tasks, title, self.actions(verdict) if actions is None else actions,
            bulk.skipped(self.ctx, verdict))
        self.last_group = group
        return group.tasks

    def run_on(self, nodes: Sequence[Node]) -> list[Task]:
        """For scripts and tests: the command on these objects, asking as the menu would."""
        return self.start(self.evaluate(nodes))


class OpensDialog(Command, Generic[H]):
    """A command whose work is a dialog or wizard the window owns (app/ has no widgets):
    the window hands in what opens it (``set_handler``); without it the command is "not
    available here". Subclasses say when it applies in ``decide``."""

    _handler: H | None = None

    def set_handler(self, handler: H | None) -> None:
        self._handler = handler
        self.update(self.selection)

    def evaluate(self, selection: Sequence[Node]) -> Verdict:
        if self._handler is None:
            return Verdict(nothing="not available here")
        return self.decide(selection)

    def decide(self, selection: Sequence[Node]) -> Verdict:
        return super().evaluate(selection)
