"""Icons for objects and actions, from the SVGs in resources/icons, by name.

A QIcon needs a QGuiApplication, and importing this module must not (the models are
imported by tests and tools that never show anything): icons are built on first use and
cached, so a tree of 10,000 VMs shares one QIcon per state instead of parsing the SVG per
row.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QIcon

import resources
from connectors.libvirt.model import ConnState, VMState

VM_STATE_ICONS: dict[VMState, str] = {
    VMState.RUNNING: "vm-running",
    VMState.PAUSED: "vm-paused",
    VMState.SHUTTING_DOWN: "vm-shutting-down",
    VMState.SHUTOFF: "vm-shutoff",
    VMState.SUSPENDED: "vm-suspended",
    VMState.PMSUSPENDED: "vm-suspended",
    VMState.CRASHED: "vm-crashed",
    VMState.UNKNOWN: "vm-unknown",
}

HOST_STATE_ICONS: dict[ConnState, str] = {
    ConnState.CONNECTED: "host-connected",
    ConnState.CONNECTING: "host-connecting",
    ConnState.RECONNECTING: "host-connecting",
    ConnState.DISCONNECTED: "host-disconnected",
}

_cache: dict[str, QIcon] = {}


def icon_path(name: str) -> Path | None:
    """The SVG behind an icon name, or None when the resources have no such icon."""
    return resources.icon_file(name)


def icon(name: str) -> QIcon:
    """The icon called ``name`` (file name without .svg); a null QIcon when unknown, so a
    missing picture never breaks a menu or a tree row."""
    found = _cache.get(name)
    if found is None:
        path = icon_path(name) if name else None
        found = QIcon(str(path)) if path is not None else QIcon()
        _cache[name] = found
    return found


def vm_icon(state: VMState) -> QIcon:
    return icon(VM_STATE_ICONS.get(state, "vm-unknown"))


def host_icon(state: ConnState) -> QIcon:
    return icon(HOST_STATE_ICONS.get(state, "host-disconnected"))


def network_icon(active: bool) -> QIcon:
    return icon("network" if active else "network-inactive")


def pool_icon(active: bool) -> QIcon:
    return icon("pool" if active else "pool-inactive")


def group_icon() -> QIcon:
    return icon("group")
