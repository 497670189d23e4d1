"""Lifecycle commands on VMs. Each applies to every selected VM it can run on, one Task per
VM, like XenCenter; nothing runs on a host that is not connected or on a Xen Dom0."""
from __future__ import annotations

from typing import Sequence

from connectors.libvirt.model import ConnState, VMAction, VMInfo, VMState
from connectors.libvirt.support import unsupported_reason

from . import outcome
from .base import Command, DeleteTarget, is_vm

ACTIVE = frozenset(s for s in VMState if s.is_active)


class VMCommand(Command):
    states: frozenset = frozenset()
    verb = ""                 # "Starting": the task title reads "Starting VM web-01"
    vm_action: VMAction | None = None
    needs_words = ""          # "shut off": used in "web-01 is running, not shut off"

    def vm_nodes(self, selection: Sequence) -> list:
        return [n for n in selection if is_vm(n)]

    def _why_not(self, node) -> str:
        vm: VMInfo = node.obj
        if self.ctx.conn_state(node.conn_id) is not ConnState.CONNECTED:
            return f"the host of {vm.name} is not connected"
        if vm.is_control_domain:
            return f"{vm.name} is the host's control domain"
        unsupported = unsupported_reason(vm, self.action_for(vm))
        if unsupported:
            return unsupported
        if self.action_for(vm) is VMAction.START and self.ctx.in_maintenance(node.conn_id):
            return (f"{self.ctx.host_label(node.conn_id)} is in maintenance mode; exit it "
                    "first (Server menu)")
        if vm.state not in self.states:
            return f"{vm.name} is {vm.state.value}" + (
                f"; it must be {self.needs_words}" if self.needs_words else "")
        return ""

    def runnable(self, selection: Sequence) -> list:
        return [n for n in self.vm_nodes(selection) if not self._why_not(n)]

    def can_run(self, selection: Sequence) -> bool:
        return bool(self.runnable(selection))

    def disabled_reason(self, selection: Sequence) -> str:
        nodes = self.vm_nodes(selection)
        if not nodes:
            return "select a VM"
        reasons = [self._why_not(n) for n in nodes]
        if len(nodes) == 1:
            return reasons[0]
        return f"none of the {len(nodes)} selected VMs can: {reasons[0]}"

    def target(self, node) -> str:
        return f"{self.ctx.host_label(node.conn_id)} » {node.obj.name}"

    def start(self, selection: Sequence) -> list:
        return [self.ctx.tasks.run(f"{self.verb} VM {node.obj.name}", self.target(node),
                                   self._make(node))
                for node in self.runnable(selection)]

    def _make(self, node):
        return lambda: self.execute([node])

    def action_for(self, vm: VMInfo) -> VMAction:
        return self.vm_action

    async def execute(self, selection: Sequence) -> None:
        for node in selection:
            host = self.ctx.host(node.conn_id)
            if host is None:
                raise LookupError(f"the connection of {node.obj.name} is gone")
            await host.vm_action(node.obj.key, self.action_for(node.obj))


def _names(nodes) -> str:
    names = [n.obj.name for n in nodes]
    if len(names) <= 5:
        return ", ".join(names)
    return ", ".join(names[:5]) + f" and {len(names) - 5} more"


class StartVM(VMCommand):
    text = "&Start"
    icon_name = "action-start"
    shortcut = "Ctrl+B"
    tooltip = "Start the VM"
    states = frozenset({VMState.SHUTOFF, VMState.CRASHED})
    needs_words = "shut off"
    verb = "Starting"
    vm_action = VMAction.START


class ShutDownVM(VMCommand):
    """The request reaches the guest at once, the guest stops when it will (or never, if it
    ignores the power button): the task says "shutdown requested", then what happened."""

    text = "Shut &Down"
    icon_name = "action-shutdown"
    shortcut = "Ctrl+E"
    tooltip = "Ask the guest to shut down (ACPI power button)"
    states = frozenset({VMState.RUNNING})
    needs_words = "running"
    verb = "Shutting down"
    vm_action = VMAction.SHUTDOWN
    patience_s = outcome.PATIENCE_S
    give_up_s = outcome.GIVE_UP_S

    def _make(self, node):
        return lambda task: self._shut_down(task, node)

    async def _shut_down(self, task, node) -> str:
        await self.execute([node])
        outcome.follow_shutdown(self.ctx, task, node, patience_s=self.patience_s,
                                give_up_s=self.give_up_s)
        return outcome.REQUESTED


class RebootVM(VMCommand):
    text = "&Reboot"
    icon_name = "action-reboot"
    shortcut = "Ctrl+R"
    tooltip = "Ask the guest to restart"
    states = frozenset({VMState.RUNNING})
    needs_words = "running"
    verb = "Rebooting"
    vm_action = VMAction.REBOOT

    async def execute(self, selection: Sequence) -> str:
        # Like Shut Down, a request the guest carries out (or not); the Events log shows
        # the host's "Rebooted" when it does.
        await super().execute(selection)
        return "reboot requested"


class ForceShutDownVM(VMCommand):
    text = "&Force Shut Down"
    icon_name = "action-force-shutdown"
    shortcut = "Ctrl+Shift+E"
    tooltip = "Turn the VM off at once, like pulling the power cord"
    states = ACTIVE
    needs_words = "running"
    verb = "Forcing off"
    vm_action = VMAction.FORCE_OFF

    def confirmation(self, selection):
        nodes = self.runnable(selection)
        return (f"Force shut down {_names(nodes)}?\n\nThe guest gets no chance to save its "
                "work; unsaved data is lost.")


class ForceRebootVM(VMCommand):
    text = "Force Re&boot"
    icon_name = "action-force-reboot"
    shortcut = "Ctrl+Shift+R"
    tooltip = "Reset the VM at once, like pressing its reset button"
    states = frozenset({VMState.RUNNING, VMState.PAUSED})
    needs_words = "running or paused"
    verb = "Force rebooting"
    vm_action = VMAction.RESET

    def confirmation(self, selection):
        nodes = self.runnable(selection)
        return (f"Force reboot {_names(nodes)}?\n\nThe guest gets no chance to save its "
                "work; unsaved data is lost.")


class PauseVM(VMCommand):
    text = "&Pause"
    icon_name = "action-pause"
    shortcut = "Ctrl+P"
    tooltip = "Freeze the VM in memory"
    states = frozenset({VMState.RUNNING})
    needs_words = "running"
    verb = "Pausing"
    vm_action = VMAction.PAUSE


class ResumeVM(VMCommand):
    """One toolbar button for both ways back: unpause, or restore the managed-save image."""

    text = "Res&ume"
    icon_name = "action-resume"
    shortcut = "Ctrl+U"
    tooltip = "Resume the paused or suspended VM"
    states = frozenset({VMState.PAUSED, VMState.SUSPENDED})
    needs_words = "paused or suspended"
    verb = "Resuming"

    def action_for(self, vm: VMInfo) -> VMAction:
        return VMAction.START if vm.state is VMState.SUSPENDED else VMAction.RESUME


class SuspendVM(VMCommand):
    text = "S&uspend"
    icon_name = "action-suspend"
    shortcut = "Ctrl+Y"
    tooltip = "Save the VM's memory to disk and stop it; Resume restores it"
    states = frozenset({VMState.RUNNING, VMState.PAUSED})
    needs_words = "running or paused"
    verb = "Suspending"
    vm_action = VMAction.MANAGED_SAVE


class DeleteVM(VMCommand):
    text = "&Delete VM…"
    icon_name = "action-delete"
    tooltip = "Delete the VM's definition, and optionally its disks"
    states = frozenset(VMState)
    verb = "Deleting"

    def trigger(self) -> None:
        nodes = self.runnable(self.selection)
        if not nodes:
            return
        choice = self.ctx.prompter.ask_delete(
            [DeleteTarget(n.obj, self.ctx.host_label(n.conn_id)) for n in nodes])
        if choice is None:
            return
        self._storage = choice.delete_storage
        self.start(nodes)

    def _make(self, node):
        storage = getattr(self, "_storage", False)
        return lambda: self._delete(node, storage)

    async def _delete(self, node, delete_storage: bool) -> None:
        host = self.ctx.host(node.conn_id)
        if host is None:
            raise LookupError(f"the connection of {node.obj.name} is gone")
        warnings = await host.delete_vm(node.obj.key, delete_storage)
        log = self.ctx.tasks.events_log
        for warning in warnings or ():
            if log is not None:
                log.add("warning", "action", self.target(node), warning)

    async def execute(self, selection):
        for node in selection:
            await self._delete(node, False)
