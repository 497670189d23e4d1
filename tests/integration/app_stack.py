"""The application's non-widget stack on a real URI, as the main window composes it.

Integration tests drive the same ConnectionManager, InventoryModel, EventsLog, TaskManager
and CommandSet the window uses; only the human is scripted (ScriptedPrompter).
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from PySide6.QtCore import QModelIndex

from app.commands import CommandSet, DeleteChoice
from app.connection_manager import ConnectionManager
from app.events_log import EventsLog
from app.inventory import NODE_ROLE, InventoryModel
from app.tasks import TaskManager
from connectors.libvirt.model import ConnState, VMInfo


@dataclass
class ScriptedPrompter:
    """Answers every confirmation with Yes and the delete dialog with ``delete_choice``;
    remembers what it was asked and every error it was shown."""

    delete_choice: DeleteChoice | None = DeleteChoice(delete_storage=False)
    asked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def confirm(self, title: str, text: str, verb: str) -> bool:
        self.asked.append(title)
        return True

    def ask_delete(self, targets):
        self.asked.append("Delete")
        return self.delete_choice

    def show_error(self, title: str, text: str) -> None:
        self.errors.append(text)


class AppStack:
    def __init__(self):
        self.events_log = EventsLog()
        self.inventory = InventoryModel()
        self.manager = ConnectionManager(self.inventory, self.events_log)
        self.prompter = ScriptedPrompter()
        self.tasks = TaskManager(self.events_log)
        self.commands = CommandSet(self.manager, self.inventory, self.tasks, self.prompter)

    async def open(self, uri: str) -> str:
        result = self.manager.open(uri, save=False)
        if asyncio.iscoroutine(result):
            result = await result
        return result

    async def close(self) -> None:
        result = self.manager.close_all()
        if asyncio.iscoroutine(result):
            await result

    def host_state(self, conn_id: str) -> ConnState:
        return self.manager.host(conn_id).state

    def nodes(self, parent: QModelIndex | None = None):
        """Every node the tree shows, depth first."""
        parent = parent or QModelIndex()
        for row in range(self.inventory.rowCount(parent)):
            index = self.inventory.index(row, 0, parent)
            yield index, index.data(NODE_ROLE)
            yield from self.nodes(index)

    def vm_node(self, name: str):
        for _index, node in self.nodes():
            if node is not None and isinstance(node.obj, VMInfo) and node.obj.name == name:
                return node
        return None

    def vm_index(self, name: str) -> QModelIndex | None:
        for index, node in self.nodes():
            if node is not None and isinstance(node.obj, VMInfo) and node.obj.name == name:
                return index
        return None

    def vm_state(self, name: str):
        node = self.vm_node(name)
        return None if node is None else node.obj.state

    def messages(self) -> list[str]:
        col = self.events_log.columnCount() - 1
        return [str(self.events_log.index(r, col).data())
                for r in range(self.events_log.rowCount())]

    def run(self, command_name: str, vm_name: str) -> None:
        """Select the VM and trigger the command's QAction, as a click on the toolbar does."""
        node = self.vm_node(vm_name)
        assert node is not None, f"{vm_name} is not in the tree"
        self.commands.set_selection([node])
        command = getattr(self.commands, command_name)
        assert command.action.isEnabled(), (
            f"{command_name} is disabled for {vm_name} in state {node.obj.state}")
        command.action.trigger()
