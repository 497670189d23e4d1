"""The user's story on a real driver: force a VM off and start it again from the commands;
the inventory follows and the events log tells how it went (libvirt's test:///default,
in-process, through the real ConnectionManager and LibvirtHost)."""
from __future__ import annotations

import asyncio


from app import connection_manager as manager_mod
from app import events_log as events_mod
from app import inventory as inventory_mod
from app.commands import CommandSet
from app.tasks import TaskManager
from connectors.libvirt.model import ConnState, VMInfo, VMState
from tests.conftest import wait_until



class YesPrompter:
    """Test double for the human: answers Yes to every confirmation."""

    def __init__(self):
        self.asked = []

    def confirm(self, title, text, verb):
        self.asked.append(title)
        return True

    def ask_delete(self, targets):
        return None

    def show_error(self, title, text):
        self.asked.append(text)


def _nodes(model, parent=None):
    from PySide6.QtCore import QModelIndex
    parent = parent or QModelIndex()
    for row in range(model.rowCount(parent)):
        index = model.index(row, 0, parent)
        yield index.data(inventory_mod.NODE_ROLE)
        yield from _nodes(model, index)


def _find_vm(model, name):
    for node in _nodes(model):
        if node is not None and isinstance(node.obj, VMInfo) and node.obj.name == name:
            return node
    return None


def _messages(log):
    col = log.columnCount() - 1
    return [str(log.index(r, col).data()) for r in range(log.rowCount())]


async def _maybe(result):
    if asyncio.iscoroutine(result):
        return await result
    return result


def test_force_off_then_start_from_the_commands(qapp, aloop):
    log = events_mod.EventsLog()
    inventory = inventory_mod.InventoryModel()
    manager = manager_mod.ConnectionManager(inventory, log)
    prompter = YesPrompter()
    commands = CommandSet(manager, inventory, TaskManager(log), prompter)

    async def story():
        conn_id = await _maybe(manager.open("test:///default", save=False))
        await wait_until(lambda: manager.host(conn_id).state is ConnState.CONNECTED, 10)
        await wait_until(lambda: _find_vm(inventory, "test") is not None)
        try:
            node = _find_vm(inventory, "test")
            if node.obj.state is not VMState.RUNNING:
                commands.set_selection([node])
                commands.start.action.trigger()
                await wait_until(lambda: _find_vm(inventory, "test").obj.state
                                 is VMState.RUNNING)
            commands.set_selection([_find_vm(inventory, "test")])
            assert not commands.start.action.isEnabled()
            assert commands.force_shutdown.action.isEnabled()
            commands.force_shutdown.action.trigger()
            assert prompter.asked == ["Force Shut Down"]
            await wait_until(lambda: _find_vm(inventory, "test").obj.state
                             is VMState.SHUTOFF)
            # the inventory batch re-evaluated the actions without a new selection
            await wait_until(lambda: commands.start.action.isEnabled())
            commands.start.action.trigger()
            await wait_until(lambda: _find_vm(inventory, "test").obj.state
                             is VMState.RUNNING)
            await wait_until(lambda: any("Starting VM test: done" in m
                                         for m in _messages(log)))
        finally:
            await _maybe(manager.remove(conn_id))

    aloop.run_until_complete(story())
