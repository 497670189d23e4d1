"""Which lifecycle actions a libvirt driver cannot do at all, said before the click.

Some drivers leave an API out: libvirt's Xen driver (libxl) has no virDomainReset, so
Force Reboot would only fail with "this function is not supported by the connection
driver" after the user clicked it. The commands ask here first and show the reason on a
disabled action instead. Only whole-driver gaps belong here: an action that a particular
guest refuses (a PV kernel that does not answer a suspend request) still fails in its task
with libvirt's own words.

Seen on Xen 4.17 with libvirt 9.0 (the nested test host, docs/xen-test-host.md): pause,
resume, reboot, shutdown, destroy, start and managed save are implemented; reset is not.
"""
from __future__ import annotations

from connectors.libvirt.model import VMAction, VMInfo

_XEN_NO_RESET = ("libvirt's Xen driver (libxl) cannot reset a domain; use Reboot, or "
                 "Force Shut Down and then Start")

_UNSUPPORTED: dict[str, dict[VMAction, str]] = {
    "xen": {VMAction.RESET: _XEN_NO_RESET},
}


def unsupported_reason(vm: VMInfo, action: VMAction | None) -> str:
    """Why the VM's driver cannot do ``action`` at all, or "" when it can."""
    if action is None:
        return ""
    return _UNSUPPORTED.get(vm.domain_type, {}).get(action, "")


def not_allowed_reason(vm: VMInfo, action: VMAction | None) -> str:
    """Why a XenAPI pool does not allow ``action`` on ``vm`` now (XAPI lists what it
    allows in the VM's allowed_operations; it knows better than a guess from the power
    state: an operation already running, a missing PV driver); "" when it does, or for
    hypervisors that do not say."""
    if action is None or vm.allowed_operations is None:
        return ""
    from connectors.xapi.vm_calls import xapi_operation
    operation = xapi_operation(vm, action)
    if operation in vm.allowed_operations:
        return ""
    return f"the pool does not allow {operation.replace('_', ' ')} on it now"
