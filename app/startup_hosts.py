"""Which servers a start of HVConsole opens, and the early open of the local ones.

The rule: ``--connect URI`` (repeatable) opens exactly those; otherwise the saved
servers; with none saved, the embedded demo lab plus ``qemu:///system`` when a local
libvirtd's socket exists, as virt-manager does.

Why it is known apart from the session (widgets/launcher.py opens them): the window's
first paint comes before the rest of the program is loaded (widgets/startup.py), and
the local ones among these URIs can already be opening, in C and without the GIL,
while it loads (connectors/libvirt/early_open.py).
"""
from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence

from app.config import ConnectionsStore

LOCAL_URI = "qemu:///system"
LOCAL_SOCKETS = ("/var/run/libvirt/libvirt-sock", "/run/libvirt/libvirt-sock")


def local_socket_exists() -> bool:
    return any(os.path.exists(path) for path in LOCAL_SOCKETS)


def startup_uris(connect: Sequence[str] | None) -> list[str]:
    """The URIs this start will open, as far as they are known before the session runs
    (a damaged saved-servers file counts as none here; the session reports it)."""
    if connect:
        return list(connect)
    saved = ConnectionsStore().peek_uris()
    if saved:
        return saved
    from app.connection_manager import demo_uri
    uris = []
    try:
        uris.append(demo_uri())
    except FileNotFoundError:
        pass                # the session says so in the window
    if local_socket_exists():
        uris.append(LOCAL_URI)
    return uris


def open_early(connect: Sequence[str] | None, loop: asyncio.AbstractEventLoop) -> list[str]:
    """Starts opening the local servers among ``startup_uris``; the URIs started."""
    from connectors.libvirt import early_open
    return early_open.begin(startup_uris(connect), loop)


def forget_early() -> None:
    """Closes the early connections the session did not take."""
    from connectors.libvirt import early_open
    early_open.forget_untaken()
