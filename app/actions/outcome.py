"""What became of a request the guest has to carry out: Shut Down is a press of the ACPI
power button, and the call returns long before the guest has stopped (or while it ignores
the button). The task says "shutdown requested"; a ``ShutdownWatch`` then follows the VM in
the inventory and rewrites the task's outcome when the VM is off, or says after a while
that it is still running. It never claims success it has not seen.
"""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer

from connectors.libvirt.model import ConnState, VMInfo, VMState

if TYPE_CHECKING:
    from app.actions.base import ActionContext
    from app.tasks import Task

REQUESTED = "shutdown requested"
PATIENCE_S = 120.0          # then say the guest may ignore the power button
GIVE_UP_S = 30 * 60.0       # then stop following it (the row keeps what it said)


def _minutes(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:g} seconds"
    minutes = round(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


class ShutdownWatch(QObject):
    """Follows one VM after its shutdown request, until it is off or the watch ends.

    It listens to the inventory's batches (the VM's state as the tree shows it) and to the
    manager's connection changes (a lost host ends the watch: the outcome stays unknown)."""

    def __init__(self, ctx: ActionContext, task: Task, conn_id: str, vm: VMInfo,
                 patience_s: float = PATIENCE_S, give_up_s: float = GIVE_UP_S) -> None:
        super().__init__(ctx.tasks)
        self.ctx = ctx
        self.task = task
        self.conn_id, self.key, self.name = conn_id, vm.key, vm.name
        self.transient = not vm.persistent
        self._patience = QTimer(self, singleShot=True, interval=int(patience_s * 1000))
        self._patience.timeout.connect(self._still_running)
        self._give_up = QTimer(self, singleShot=True, interval=int(give_up_s * 1000))
        self._give_up.timeout.connect(self.stop)
        self._done = False

    def start(self) -> None:
        """After the task has finished (its own outcome must not overwrite ours)."""
        self.ctx.inventory.batchApplied.connect(self._check)
        self.ctx.manager.stateChanged.connect(self._connection_changed)
        self._patience.start()
        self._give_up.start()
        self._check()

    def stop(self) -> None:
        if self._done:
            return
        self._done = True
        self._patience.stop()
        self._give_up.stop()
        self.ctx.inventory.batchApplied.disconnect(self._check)
        self.ctx.manager.stateChanged.disconnect(self._connection_changed)
        self.deleteLater()

    def _check(self, *_args) -> None:
        if self._done:
            return
        node = self.ctx.inventory.node(self.conn_id, self.key)
        if node is None:
            self.task.set_outcome("shut off (a transient VM is gone once off)"
                                  if self.transient else "the VM is gone from the host")
            self.stop()
            return
        vm = node.obj
        if not isinstance(vm, VMInfo):
            return
        if vm.state is VMState.SHUTOFF:
            reason = vm.state_reason
            self.task.set_outcome("shut off" if reason in ("", "shut down")
                                  else f"shut off ({reason})")
            self.stop()
        elif vm.state is VMState.CRASHED:
            self.task.set_outcome("crashed while shutting down", "error")
            self.stop()

    def _connection_changed(self, conn_id: str) -> None:
        if conn_id == self.conn_id and \
                self.ctx.conn_state(conn_id) is not ConnState.CONNECTED:
            self.task.set_outcome(f"{REQUESTED}; the connection was lost before "
                                  f"{self.name} stopped", "warning")
            self.stop()

    def _still_running(self) -> None:
        if self._done:
            return
        waited = _minutes(self._patience.interval() / 1000)
        self.task.set_outcome(
            f"{REQUESTED}; {self.name} is still running after {waited} (the guest may "
            "ignore the power button; Force Shut Down turns it off)", "warning")


def follow_shutdown(ctx: ActionContext, task: Task, conn_id: str, vm: VMInfo,
                    patience_s: float = PATIENCE_S,
                    give_up_s: float = GIVE_UP_S) -> ShutdownWatch:
    """Starts watching on the loop's next turn, after the task has written "requested"."""
    watch = ShutdownWatch(ctx, task, conn_id, vm, patience_s, give_up_s)
    asyncio.get_running_loop().call_soon(watch.start)
    return watch
