"""Which XAPI call carries out each VM command, and which allowed_operations entry XAPI
grants it by.

Kept apart from the pool connection because the support checks (connectors/libvirt/
support.py, asked for every command on every selection change) need only this table,
not the connection's machinery.
"""
from __future__ import annotations

from typing import Any

from connectors.libvirt.model import VMAction, VMInfo, VMState

# VMAction -> (XAPI call, the allowed_operations name XAPI grants it by, extra args)
_VM_CALLS: dict[VMAction, tuple[str, str, tuple[Any, ...]]] = {
    VMAction.START: ("Async.VM.start", "start", (False, False)),
    VMAction.SHUTDOWN: ("Async.VM.clean_shutdown", "clean_shutdown", ()),
    VMAction.REBOOT: ("Async.VM.clean_reboot", "clean_reboot", ()),
    VMAction.FORCE_OFF: ("Async.VM.hard_shutdown", "hard_shutdown", ()),
    VMAction.RESET: ("Async.VM.hard_reboot", "hard_reboot", ()),
    VMAction.PAUSE: ("Async.VM.pause", "pause", ()),
    VMAction.RESUME: ("Async.VM.unpause", "unpause", ()),
    VMAction.MANAGED_SAVE: ("Async.VM.suspend", "suspend", ()),
}
# A suspended VM is started by resuming it.
_RESUME_SUSPENDED = ("Async.VM.resume", "resume", (False, False))


def call_for(vm: VMInfo, action: VMAction) -> tuple[str, str, tuple[Any, ...]]:
    """(XAPI call, allowed_operations name, extra arguments) for ``action`` on ``vm``."""
    if action is VMAction.START and vm.state is VMState.SUSPENDED:
        return _RESUME_SUSPENDED
    return _VM_CALLS[action]


def xapi_operation(vm: VMInfo, action: VMAction) -> str:
    """The allowed_operations entry that lets ``action`` run on ``vm`` now."""
    return call_for(vm, action)[1]
