"""XenCenter's Command pattern on QAction: one object per command feeds menu, toolbar and
context menu, and decides from the selection whether it may run.

The selection is a list of app.inventory.Node. Commands never ask a human anything
directly (app/ has no widgets): they go through a Prompter, which the window implements
with dialogs and tests implement with scripted answers.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Protocol, Sequence

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QIcon, QKeySequence

import resources
from connectors.libvirt.model import ConnState, VMInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeleteChoice:
    delete_storage: bool


@dataclass(frozen=True)
class DeleteTarget:
    """A VM offered for deletion and the server it is on (VMs of several servers may be
    selected at once, and two may share a name)."""

    vm: VMInfo
    server: str


class MaintenanceState(Protocol):
    """Whether a host is in maintenance mode (app.maintenance.MaintenanceMode)."""

    def in_maintenance(self, conn_id: str) -> bool: ...


class Prompter(Protocol):
    def confirm(self, title: str, text: str, verb: str) -> bool:
        """Asks before a command; ``verb`` is the button that goes ahead ("Force Shut
        Down"), beside Cancel."""
    def ask_delete(self, targets: list[DeleteTarget]) -> DeleteChoice | None: ...
    def show_error(self, title: str, text: str) -> None: ...


ICON_DIR = resources.ICONS


def load_icon(name: str) -> QIcon:
    """Icons come from app/icons.py when it knows the name, else from resources/icons;
    a missing icon is no reason to fail."""
    if not name:
        return QIcon()
    try:
        from app import icons
    except ImportError:
        icons = None
    for fn_name in ("icon", "get_icon", "load"):
        fn = getattr(icons, fn_name, None)
        if callable(fn):
            try:
                found = fn(name)
            except Exception:  # noqa: BLE001 - an unknown icon name must not break menus
                log.debug("app.icons has no %r", name, exc_info=True)
                break
            if isinstance(found, QIcon) and not found.isNull():
                return found
            break
    path = ICON_DIR / f"{name}.svg"
    return QIcon(str(path)) if path.exists() else QIcon()


def kind_name(node) -> str:
    kind = getattr(node, "kind", None)
    return str(getattr(kind, "name", kind) or "").upper()


def is_vm(node) -> bool:
    return isinstance(getattr(node, "obj", None), VMInfo)


def is_host(node) -> bool:
    return kind_name(node) == "HOST"


class Context:
    """What every command needs to look things up and act: shared by the CommandSet."""

    def __init__(self, manager, inventory, tasks, prompter: Prompter):
        self.manager = manager
        self.inventory = inventory
        self.tasks = tasks
        self.prompter = prompter
        self.maintenance: MaintenanceState | None = None

    def in_maintenance(self, conn_id) -> bool:
        return self.maintenance is not None and self.maintenance.in_maintenance(conn_id)

    def host(self, conn_id):
        try:
            return self.manager.host(conn_id)
        except (KeyError, LookupError):
            return None

    def conn_state(self, conn_id) -> ConnState | None:
        host = self.host(conn_id)
        return getattr(host, "state", None) if host is not None else None

    def host_label(self, conn_id) -> str:
        label = getattr(self.manager, "label", None)
        if callable(label):
            return label(conn_id)
        host = self.host(conn_id)
        info = getattr(host, "info", None) if host is not None else None
        if info is not None and info.hostname:
            return info.hostname
        return getattr(host, "uri", None) or str(conn_id)


class Command(QObject):
    text = ""
    icon_name = ""
    shortcut: str | None = None
    tooltip = ""

    def __init__(self, ctx: Context, parent: QObject | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.selection: list = []
        self.action = QAction(load_icon(self.icon_name), self.text, self)
        if self.shortcut:
            self.action.setShortcut(QKeySequence(self.shortcut))
        self.action.triggered.connect(self.trigger)
        self.update(self.selection)

    # ---- what a subclass decides ----
    def can_run(self, selection: Sequence) -> bool:
        return False

    def disabled_reason(self, selection: Sequence) -> str:
        return ""

    def confirmation(self, selection: Sequence) -> str | None:
        return None

    async def execute(self, selection: Sequence) -> None:
        raise NotImplementedError

    # ---- shared behaviour ----
    def update(self, selection: Sequence) -> None:
        self.selection = list(selection)
        enabled = self.can_run(self.selection)
        self.action.setEnabled(enabled)
        tip = self.tooltip or self.text.replace("&", "").rstrip(".…")
        if not enabled:
            reason = self.disabled_reason(self.selection)
            if reason:
                tip = f"{tip}: {reason}"
        keys = self.action.shortcut()
        if not keys.isEmpty():
            tip = f"{tip} ({keys.toString(QKeySequence.NativeText)})"
        self.action.setToolTip(tip)
        self.action.setStatusTip(tip)

    def trigger(self) -> None:
        """Called by the QAction: confirm when needed, then hand the work to the tasks."""
        selection = list(self.selection)
        if not self.can_run(selection):
            return
        question = self.confirmation(selection)
        verb = self.text.replace("&", "").rstrip(".…")
        if question and not self.ctx.prompter.confirm(verb, question, verb):
            return
        self.start(selection)

    def start(self, selection: Sequence) -> list:
        """Runs execute() as one task; VM commands override this to run one per VM."""
        title = self.text.replace("&", "").rstrip(".…")
        return [self.ctx.tasks.run(title, "", lambda: self.execute(selection))]


async def call_soon(fn, *args):
    """Lets synchronous manager calls and coroutine ones be awaited the same way."""
    result = fn(*args)
    if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
        return await result
    return result
