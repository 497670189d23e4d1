"""The lifecycle actions a user runs on a VM, one entry each: libvirt's call and its verb.

A new action is one ``VMAction`` member in model.py and one entry in ``ACTIONS``: the
verb words the failure ("Could not shut down web-01: ..."), ``run`` is the blocking
call, made in the host's worker pool with a domain looked up on the host's connection.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import libvirt

from connectors.libvirt.model import VMAction


@dataclass(frozen=True, slots=True)
class LifecycleAction:
    verb: str                                   # "shut down", as in "Could not shut down"
    run: Callable[[libvirt.virDomain], object]  # blocking; libvirt's return value unused


def _resume(dom: libvirt.virDomain) -> None:
    """"Resume" on a suspended-to-disk VM means restoring its managed save."""
    if not dom.isActive() and dom.hasManagedSaveImage(0):
        dom.create()
    else:
        dom.resume()


ACTIONS: dict[VMAction, LifecycleAction] = {
    # create() restores a managed-save image by itself.
    VMAction.START: LifecycleAction("start", lambda dom: dom.create()),
    VMAction.SHUTDOWN: LifecycleAction("shut down", lambda dom: dom.shutdown()),
    VMAction.REBOOT: LifecycleAction("reboot", lambda dom: dom.reboot(0)),
    VMAction.FORCE_OFF: LifecycleAction("force off", lambda dom: dom.destroy()),
    VMAction.RESET: LifecycleAction("reset", lambda dom: dom.reset(0)),
    VMAction.PAUSE: LifecycleAction("pause", lambda dom: dom.suspend()),
    VMAction.RESUME: LifecycleAction("resume", _resume),
    VMAction.MANAGED_SAVE: LifecycleAction("suspend", lambda dom: dom.managedSave(0)),
}
