"""Actions on one VM: a lifecycle step, a shutdown followed to its end, a deletion."""
from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.libvirt.model import VMAction, VMInfo

from . import outcome
from .base import Action, ActionContext

if TYPE_CHECKING:
    from app.tasks import Task


class VMAct(Action):
    """Common ground: the VM, its server and the Events row's words."""

    def __init__(self, ctx: ActionContext, conn_id: str, vm: VMInfo, verb: str) -> None:
        self.ctx = ctx
        self.conn_id = conn_id
        self.vm = vm
        self.title = f"{verb} VM {vm.name}"
        self.target = f"{ctx.host_label(conn_id)} » {vm.name}"


class VMLifecycle(VMAct):
    """Start, force off, reset, pause, resume, managed save: one libvirt call each, done
    when it returns (libvirt has then done it, unlike a shutdown or reboot request)."""

    def __init__(self, ctx: ActionContext, conn_id: str, vm: VMInfo, action: VMAction,
                 verb: str, outcome_words: str | None = None) -> None:
        super().__init__(ctx, conn_id, vm, verb)
        self.action = action
        self.outcome_words = outcome_words

    async def run(self, task: Task) -> str | None:
        await self.ctx.server(self.conn_id).vm_action(
            self.vm.key, self.action,
            progress=lambda done: task.set_progress(round(done * 100)))
        return self.outcome_words


class VMShutdown(VMAct):
    """The ACPI request reaches the guest at once; the guest stops when it will (or never,
    if it ignores the power button). The row says "shutdown requested", then what the VM
    did (outcome.ShutdownWatch follows it in the inventory)."""

    def __init__(self, ctx: ActionContext, conn_id: str, vm: VMInfo, *,
                 patience_s: float = outcome.PATIENCE_S,
                 give_up_s: float = outcome.GIVE_UP_S) -> None:
        super().__init__(ctx, conn_id, vm, "Shutting down")
        self.patience_s = patience_s
        self.give_up_s = give_up_s

    async def run(self, task: Task) -> str | None:
        await self.ctx.server(self.conn_id).vm_action(self.vm.key, VMAction.SHUTDOWN)
        outcome.follow_shutdown(self.ctx, task, self.conn_id, self.vm,
                                patience_s=self.patience_s, give_up_s=self.give_up_s)
        return outcome.REQUESTED


class DeleteVMAction(VMAct):
    """Undefines the VM (forcing it off first), optionally deleting its volumes; what
    could not be deleted lands in the Events log as a warning."""

    def __init__(self, ctx: ActionContext, conn_id: str, vm: VMInfo,
                 delete_storage: bool) -> None:
        super().__init__(ctx, conn_id, vm, "Deleting")
        self.delete_storage = delete_storage

    async def run(self, task: Task) -> str | None:
        warnings = await self.ctx.server(self.conn_id).delete_vm(self.vm.key,
                                                                 self.delete_storage)
        log = self.ctx.tasks.events_log
        for warning in warnings:
            if log is not None:
                log.add("warning", "action", self.target, warning)
        return None
