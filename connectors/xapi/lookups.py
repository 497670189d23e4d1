"""Reads that take several XAPI calls in a row, each run whole in one worker thread.

Why one function per read and not one ``await`` per call: every await is a trip
through the loop and the worker pool; a VM with six disks is seven calls, and the
pool connection only needs the answer. The functions block; XapiPool runs them with
``_in_worker``.
"""
from __future__ import annotations

from collections.abc import Callable

from connectors.libvirt.model import ActionError
from connectors.xapi.console import ConsoleTarget, console_target
from connectors.xapi.session import Session

NULL_REF = "OpaqueRef:NULL"


def disk_vdis(session: Session, vm_ref: str) -> list[str]:
    """The VDIs of the VM's disks (not its CD drives, not empty drives)."""
    found = []
    for vbd in session.call("VM.get_VBDs", vm_ref):
        record = session.call("VBD.get_record", vbd)
        if record.get("type") == "Disk" and record.get("VDI") not in (None, "", NULL_REF):
            found.append(record["VDI"])
    return found


def rfb_console(session: Session, vm_ref: str, pin_for: Callable[[str, int], str],
                vm_name: str) -> ConsoleTarget:
    """Where the VM's RFB console is now, with the session (ActionError: it has none)."""
    for console in session.call("VM.get_consoles", vm_ref):
        record = session.call("console.get_record", console)
        if record.get("protocol") != "rfb":
            continue
        return console_target(str(record.get("location", "")),
                              session.ref or session.login(), session.port, pin_for,
                              vm_name)
    raise ActionError(f"{vm_name} has no graphical console (is it running?)")
