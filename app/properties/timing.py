"""When an edit on a page takes effect: now (libvirt changes the running VM too) or
after the next shutdown (only the definition the VM starts with next time).

The pages show this beside each field while the VM runs; ``changes.plan`` decides the
same way for the change summary (tests/unit/test_properties_plan.py holds them to it).
A shut-off VM has no marks: everything takes effect at once.
"""
from __future__ import annotations

from typing import Callable

from connectors.libvirt import domxml

from app.properties.changes import When, has_balloon
from app.properties.describe import hot_pluggable
from app.properties.session import EditSession

NOW, LATER = When.NOW, When.AFTER_SHUTDOWN

# Field -> (running VM) -> when. Fields not listed take effect after the next shutdown.
_RULES: dict[str, Callable[[EditSession], When]] = {
    "title": lambda s: NOW,
    "description": lambda s: NOW,
    "autostart": lambda s: NOW,
    "os": lambda s: NOW,
    "vcpus": lambda s: NOW if s.live is not None and s.edited.vcpus <= s.live.max_vcpus
    else LATER,
    "current_memory": lambda s: NOW if s.live is not None and has_balloon(s.live) and
    (s.edited.current_memory_kib or 0) <= (s.live.memory_kib or 0) else LATER,
    "disk_resize": lambda s: NOW,
    "disk_remove_hotplug": lambda s: NOW,
    "cd_media": lambda s: NOW,
    "nic_add": lambda s: NOW,
    "nic_remove": lambda s: NOW,
    "nic_link": lambda s: NOW,
    "nic_source": lambda s: NOW,
    "graphics_password": lambda s: NOW,
    "rng": lambda s: NOW,
    "usb": lambda s: NOW,
}


def when(session: EditSession, field: str) -> When | None:
    """None while the VM is shut off (no mark needed)."""
    if not session.running:
        return None
    rule = _RULES.get(field)
    return rule(session) if rule is not None else LATER


def disk_add_when(session: EditSession, bus: str) -> When | None:
    if not session.running:
        return None
    probe = domxml.new_disk("vdz", bus=bus, file="/x")
    return NOW if hot_pluggable(probe) else LATER


def disk_remove_when(session: EditSession, disk: domxml.Disk) -> When | None:
    if not session.running:
        return None
    return NOW if hot_pluggable(disk) else LATER
