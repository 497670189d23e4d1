"""Lifecycle commands on VMs. Each applies to every selected VM it can run on, one action
per VM, like XenCenter; nothing runs on a host that is not connected or on a Xen Dom0."""
from __future__ import annotations

from typing import TYPE_CHECKING

from app.actions import DeleteVMAction, VMLifecycle, VMShutdown
from app import task_group
from app.actions import outcome
from app.actions.base import Action
from connectors.libvirt.model import ConnState, VMAction, VMInfo, VMState
from connectors.libvirt.support import not_allowed_reason, unsupported_reason

from . import bulk
from .base import Command, DeleteTarget, Verdict, is_vm

if TYPE_CHECKING:
    from app.inventory import Node

ACTIVE = frozenset(s for s in VMState if s.is_active)


def vm_of(node: Node) -> VMInfo:
    assert isinstance(node.obj, VMInfo)
    return node.obj


class VMCommand(Command):
    states: frozenset[VMState] = frozenset()
    verb_ing = ""             # "Starting": the task title reads "Starting VM web-01"
    vm_action: VMAction | None = None
    required_state = ""       # "shut off": "running; it must be shut off"
    nothing = "select a VM"

    def about(self, node: Node) -> bool:
        return is_vm(node)

    def refusal(self, node: Node) -> str:
        vm = vm_of(node)
        if self.ctx.conn_state(node.conn_id) is not ConnState.CONNECTED:
            return "its server is not connected"
        if vm.is_control_domain:
            return "the host's control domain"
        unsupported = unsupported_reason(vm, self.action_for(vm))
        if unsupported:
            return unsupported
        if self.action_for(vm) is VMAction.START and self.ctx.in_maintenance(node.conn_id):
            return "its server is in maintenance mode; exit it first (Server menu)"
        if vm.state not in self.states:
            return vm.state.value + (f"; it must be {self.required_state}"
                                     if self.required_state else "")
        return not_allowed_reason(vm, self.action_for(vm))

    def action_for(self, vm: VMInfo) -> VMAction | None:
        return self.vm_action

    def actions(self, verdict: Verdict) -> list[Action]:
        return [self.make_action(node.conn_id, vm_of(node)) for node in verdict.runnable]

    def make_action(self, conn_id: str, vm: VMInfo) -> Action:
        action = self.action_for(vm)
        assert action is not None
        return VMLifecycle(self.ctx, conn_id, vm, action, self.verb_ing)


def _names(verdict: Verdict) -> str:
    names = [vm_of(n).name for n in verdict.runnable]
    if len(names) <= 5:
        return ", ".join(names)
    return ", ".join(names[:5]) + f" and {len(names) - 5} more"


class StartVM(VMCommand):
    text = "&Start"
    icon_name = "action-start"
    shortcut = "Ctrl+B"
    tooltip = "Start the VM"
    states = frozenset({VMState.SHUTOFF, VMState.CRASHED})
    required_state = "shut off"
    verb_ing = "Starting"
    vm_action = VMAction.START


class ShutDownVM(VMCommand):
    """The request reaches the guest at once, the guest stops when it will (or never, if it
    ignores the power button): the task says "shutdown requested", then what happened."""

    text = "Shut &Down"
    icon_name = "action-shutdown"
    shortcut = "Ctrl+E"
    tooltip = "Ask the guest to shut down (ACPI power button)"
    states = frozenset({VMState.RUNNING})
    required_state = "running"
    verb_ing = "Shutting down"
    vm_action = VMAction.SHUTDOWN
    patience_s = outcome.PATIENCE_S
    give_up_s = outcome.GIVE_UP_S

    def make_action(self, conn_id: str, vm: VMInfo) -> Action:
        return VMShutdown(self.ctx, conn_id, vm, patience_s=self.patience_s,
                          give_up_s=self.give_up_s)


class RebootVM(VMCommand):
    """Like Shut Down, a request the guest carries out (or not); the Events log shows the
    host's "Rebooted" when it does."""

    text = "&Reboot"
    icon_name = "action-reboot"
    shortcut = "Ctrl+R"
    tooltip = "Ask the guest to restart"
    states = frozenset({VMState.RUNNING})
    required_state = "running"
    verb_ing = "Rebooting"
    vm_action = VMAction.REBOOT

    def make_action(self, conn_id: str, vm: VMInfo) -> Action:
        return VMLifecycle(self.ctx, conn_id, vm, VMAction.REBOOT, self.verb_ing,
                           outcome_words="reboot requested")


class ForceShutDownVM(VMCommand):
    text = "&Force Shut Down"
    icon_name = "action-force-shutdown"
    shortcut = "Ctrl+Shift+E"
    tooltip = "Turn the VM off at once, like pulling the power cord"
    states = ACTIVE
    required_state = "running"
    verb_ing = "Forcing off"
    vm_action = VMAction.FORCE_OFF

    def confirmation(self, verdict: Verdict) -> str:
        return (f"Force shut down {_names(verdict)}?\n\nThe guest gets no chance to save "
                "its work; unsaved data is lost.")


class ForceRebootVM(VMCommand):
    text = "Force Re&boot"
    icon_name = "action-force-reboot"
    shortcut = "Ctrl+Shift+R"
    tooltip = "Reset the VM at once, like pressing its reset button"
    states = frozenset({VMState.RUNNING, VMState.PAUSED})
    required_state = "running or paused"
    verb_ing = "Force rebooting"
    vm_action = VMAction.RESET

    def confirmation(self, verdict: Verdict) -> str:
        return (f"Force reboot {_names(verdict)}?\n\nThe guest gets no chance to save its "
                "work; unsaved data is lost.")


class PauseVM(VMCommand):
    text = "&Pause"
    icon_name = "action-pause"
    shortcut = "Ctrl+P"
    tooltip = "Freeze the VM in memory"
    states = frozenset({VMState.RUNNING})
    required_state = "running"
    verb_ing = "Pausing"
    vm_action = VMAction.PAUSE


class ResumeVM(VMCommand):
    """One toolbar button for both ways back: unpause, or restore the managed-save image."""

    text = "Res&ume"
    icon_name = "action-resume"
    shortcut = "Ctrl+U"
    tooltip = "Resume the paused or suspended VM"
    states = frozenset({VMState.PAUSED, VMState.SUSPENDED})
    required_state = "paused or suspended"
    verb_ing = "Resuming"

    def action_for(self, vm: VMInfo) -> VMAction:
        return VMAction.START if vm.state is VMState.SUSPENDED else VMAction.RESUME


class SuspendVM(VMCommand):
    text = "S&uspend"
    icon_name = "action-suspend"
    shortcut = "Ctrl+Y"
    tooltip = "Save the VM's memory to disk and stop it; Resume restores it"
    states = frozenset({VMState.RUNNING, VMState.PAUSED})
    required_state = "running or paused"
    verb_ing = "Suspending"
    vm_action = VMAction.MANAGED_SAVE


class DeleteVM(VMCommand):
    """Asks with its own dialog (each VM with its server, what happens to it, whether to
    delete its disks) instead of a yes/no question."""

    text = "&Delete VM…"
    icon_name = "action-delete"
    tooltip = "Delete the VM's definition, and optionally its disks"
    states = frozenset(VMState)
    verb_ing = "Deleting"

    def start(self, verdict: Verdict) -> list:
        if not verdict.enabled:
            return []
        choice = self.ctx.prompter.ask_delete(
            [DeleteTarget(vm_of(n), self.ctx.host_label(n.conn_id))
             for n in verdict.runnable])
        if choice is None:
            return []
        actions = [DeleteVMAction(self.ctx, n.conn_id, vm_of(n), choice.delete_storage)
                   for n in verdict.runnable]
        if not self.is_bulk(verdict):
            return self.ctx.tasks.run_actions(actions)
        # Its own dialog asked already: one task group, without a second question.
        group = task_group.run_group(self.ctx.tasks,
                                     f"Delete {bulk.counted(len(actions), 'VM')}",
                                     actions, bulk.skipped(self.ctx, verdict))
        self.last_group = group
        return group.tasks
