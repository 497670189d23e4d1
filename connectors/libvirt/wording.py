"""libvirt's numeric states, reasons and events, said in words a user reads in the UI.

The numbers are libvirt's stable enum values (virDomainState, virDomain*Reason,
virDomainEventType and its detail enums, virNetworkEventLifecycleType,
virStoragePoolEventLifecycleType, virConnectCloseReason).
"""
from __future__ import annotations

from connectors.libvirt.model import VMState

DOMAIN_STATES: dict[int, VMState] = {
    0: VMState.UNKNOWN,        # NOSTATE
    1: VMState.RUNNING,
    2: VMState.RUNNING,        # BLOCKED: running, waiting on a resource
    3: VMState.PAUSED,
    4: VMState.SHUTTING_DOWN,
    5: VMState.SHUTOFF,
    6: VMState.CRASHED,
    7: VMState.PMSUSPENDED,
}

_STATE_REASONS: dict[int, tuple[str, ...]] = {
    1: ("", "booted", "migrated", "restored", "restored from a snapshot", "unpaused",
        "migration cancelled", "save cancelled", "woken up", "crashed",
        "post-copy migration", "post-copy migration failed"),
    2: ("",),
    3: ("", "paused by the user", "migrating", "saving", "dumping memory", "disk I/O error",
        "watchdog fired", "restored from a snapshot", "shutting down", "taking a snapshot",
        "crashed", "starting up", "post-copy migration", "post-copy migration failed",
        "management API error"),
    4: ("", "asked by the user"),
    5: ("", "shut down", "forced off", "crashed", "migrated away", "saved",
        "failed to start", "restored from a snapshot", "stopped with the daemon"),
    6: ("", "guest kernel panic"),
    7: ("",),
}


def state_reason(state: int, reason: int) -> str:
    words = _STATE_REASONS.get(state, ("",))
    return words[reason] if 0 <= reason < len(words) else ""


_LIFECYCLE: dict[int, tuple[str, tuple[str, ...]]] = {
    0: ("Defined", ("added", "updated", "renamed", "from a snapshot")),
    1: ("Removed", ("undefined", "renamed")),
    2: ("Started", ("booted", "migrated in", "restored", "from a snapshot", "woken up")),
    3: ("Paused", ("by the user", "for migration", "disk I/O error", "watchdog fired",
                   "restored", "from a snapshot", "management API error",
                   "post-copy migration", "post-copy migration failed")),
    4: ("Resumed", ("unpaused", "after migration", "from a snapshot",
                    "post-copy migration", "post-copy migration failed")),
    5: ("Stopped", ("shut down", "forced off", "crashed", "migrated away", "saved",
                    "failed", "from a snapshot")),
    6: ("Shutting down", ("finished", "by the guest", "by the host")),
    7: ("Suspended by the guest", ("to memory", "to disk")),
    8: ("Crashed", ("guest kernel panic", "crash kernel loaded")),
}
_ERROR_DETAILS = {(5, 2), (5, 5), (8, 0), (8, 1)}
_WARNING_DETAILS = {(3, 2), (3, 3), (3, 6), (3, 8)}


def domain_lifecycle(event: int, detail: int) -> tuple[str, str]:
    """("Started (booted)", severity) for a domain lifecycle event."""
    verb, details = _LIFECYCLE.get(event, ("Changed", ()))
    words = details[detail] if 0 <= detail < len(details) else ""
    message = f"{verb} ({words})" if words else verb
    if event == 8 or (event, detail) in _ERROR_DETAILS:
        return message, "error"
    if (event, detail) in _WARNING_DETAILS:
        return message, "warning"
    return message, "info"


def _verb(message: str) -> str:
    return message.split(" (", 1)[0]


def completes(previous: str, current: str) -> str:
    """How a VM's lifecycle message relates to the one logged just before for the same VM,
    when both arrive within a moment: "skip" (``current`` adds nothing), "replace"
    (``current`` finishes what ``previous`` began: show it instead), or "" (both count).

    Seen with libvirt 9.0 and QEMU: a boot reports RESUMED(unpaused) and STARTED(booted)
    together, in either order (QEMU starts with its CPUs stopped); a restore reports
    STARTED(restored) and RESUMED; a shutdown SHUTDOWN(by the guest or host), then
    STOPPED 0.1-1.5 s later; a managed save PAUSED, then STOPPED(saved); one ACPI reboot
    three REBOOT events, a reset two.
    """
    before, now = _verb(previous), _verb(current)
    if now == "Resumed" and before == "Started":
        return "skip"
    if now == "Started" and before == "Resumed":
        return "replace"
    if now == "Stopped" and (before == "Shutting down" or (
            before == "Paused" and current == domain_lifecycle(5, 4)[0])):
        return "replace"
    if current == previous:
        return "skip"
    return ""


_NETWORK_EVENTS = ("defined", "undefined", "started", "stopped")
_POOL_EVENTS = ("defined", "undefined", "started", "stopped", "created", "deleted")


def network_lifecycle(name: str, event: int) -> str:
    word = _NETWORK_EVENTS[event] if 0 <= event < len(_NETWORK_EVENTS) else "changed"
    return f"Network {name} {word}"


def pool_lifecycle(name: str, event: int) -> str:
    word = _POOL_EVENTS[event] if 0 <= event < len(_POOL_EVENTS) else "changed"
    return f"Storage pool {name} {word}"


POOL_STATES = ("inactive", "building", "running", "degraded", "inaccessible")

CLOSE_REASONS = {
    0: "the connection failed (I/O error)",
    1: "the server closed the connection (libvirtd stopped or restarted)",
    2: "the host stopped answering (keepalive timeout)",
    3: "the connection was closed",
}


def silent_host(seconds: float) -> str:
    """Why a host whose calls got no answer is lost (connectors/libvirt/answer_watch.py)."""
    return f"the host stopped answering (no reply for {seconds:.0f} s)"


def close_reason(reason: int) -> str:
    return CLOSE_REASONS.get(reason, "the connection was lost")


def version_text(number: int) -> str:
    """libvirt's packed version (major * 1,000,000 + minor * 1,000 + micro) as "7.2.0"."""
    if number <= 0:
        return ""
    return f"{number // 1_000_000}.{number // 1000 % 1000}.{number % 1000}"
