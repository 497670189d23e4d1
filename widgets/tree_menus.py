"""What the tree's right-click menu and the VM menu hold, by the kind of row selected.

Kept apart from the main window, which only places these lists: the choice of commands
per row kind (a VM, a libvirt host, a XenAPI pool's member server, a storage pool, a
network) is its own concern, and grows with every kind of object the tree shows.
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QWidget

from app.inventory import NodeKind


@dataclass(frozen=True)
class TreeMenuExtras:
    """The window's own actions the menus end with."""
    forget_password: QAction
    show_general: QAction
    copy_name: QAction


def actions_of(commands: list) -> list:
    """Commands (None = separator) to their QActions, keeping the separators."""
    return [None if command is None else command.action for command in commands]


def vm_actions(commands, forget_password: QAction) -> list:
    """The VM menu and a VM's context menu: the commands, then the console's own."""
    return [commands.new_vm.action, None] + actions_of(commands.vm_commands) + [
        None, forget_password]


def context_actions(commands, extras: TreeMenuExtras, nodes: list, parent: QWidget) -> list:
    """The right-click menu for ``nodes`` (one kind of row; mixed kinds get none)."""
    kinds = {node.kind for node in nodes}
    if kinds == {NodeKind.VM}:
        start_on = start_on_menu(commands.start_on, nodes, parent)
        vm = vm_actions(commands, extras.forget_password)
        return vm if start_on is None else [start_on, None] + vm
    if kinds == {NodeKind.SERVER}:
        return actions_of(commands.server_commands) + [
            None, extras.show_general, extras.copy_name]
    if kinds == {NodeKind.HOST}:
        host = list(commands.host_commands)
        while host and host[0] in (commands.add_server, None):
            host.pop(0)
        return [commands.new_vm.action, None] + actions_of(
            host + [None, commands.new_pool, commands.new_network]) + [
            None, extras.copy_name]
    if kinds == {NodeKind.POOL}:
        return actions_of(commands.pool_commands) + [
            None, extras.show_general, extras.copy_name]
    if kinds == {NodeKind.NETWORK}:
        return actions_of(commands.network_commands) + [
            None, extras.show_general, extras.copy_name]
    return []


def start_on_menu(command, nodes: list, parent: QWidget):
    """"Start on Server ▸ host" for halted VMs of a XenAPI pool (None: not a pool)."""
    servers = command.servers(nodes)
    if not servers:
        return None
    menu = QMenu(command.text, parent)
    verdict = command.evaluate(nodes)
    for server in servers:
        action = menu.addAction(f"{server.name} ({server.state_label})")
        action.setEnabled(verdict.enabled and server.enabled and server.live)
        action.triggered.connect(
            lambda _checked=False, s=server: command.start_on(nodes, s))
    menu.menuAction().setEnabled(verdict.enabled)
    return menu.menuAction()
