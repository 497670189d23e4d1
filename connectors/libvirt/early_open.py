"""Opening the start-up's local connections while the rest of the program still loads.

Why: opening a connection costs time that is not Python's. libvirt's test driver builds
its whole host in C when opened (about 4 s for 10,000 VMs), a local libvirtd answers its
handshake; libvirt lets go of the GIL inside openAuth. Started just after the window's
first paint (widgets/startup.py), the open runs while the main thread loads the rest of
the program and fills the window (about 1.5 s); ``LibvirtHost.connect`` then takes the
connection already open (``take``, in opening.Opener) instead of opening another.

Only URIs that ask nobody anything are opened early: local ones without a host (a remote
host may want a password, a host key, or just time the user did not ask for yet). If
libvirt asks for credentials anyway (polkit for a user outside the libvirt group), the
early attempt answers "no one is here" and the host then opens as always, with its
dialog. ``forget_untaken`` closes what the session did not take.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable
from concurrent.futures import Future

import libvirt

from connectors.libvirt import eventloop
from connectors.libvirt.opening import open_unattended, quiet_libvirt_errors
from connectors.libvirt.uri import validate_uri

log = logging.getLogger(__name__)

_lock = threading.Lock()
_started: dict[str, Future[libvirt.virConnect]] = {}


def eligible(uri: str) -> str | None:
    """The normalised URI when it may be opened before anyone could be asked anything."""
    try:
        parsed = validate_uri(uri)
    except ValueError:
        return None
    if parsed.driver == "xapi" or not parsed.is_local or parsed.transport not in ("", "unix"):
        return None
    return parsed.uri


def begin(uris: Iterable[str], loop: asyncio.AbstractEventLoop) -> list[str]:
    """Starts opening each eligible URI in a thread of its own (once); the URIs being
    opened early.
    libvirt's event implementation is bound to ``loop`` first: a remote-driver connection
    registers its socket with the implementation present when it opens."""
    chosen = [u for u in dict.fromkeys(eligible(uri) for uri in uris) if u is not None]
    if not chosen:
        return []
    eventloop.register(loop)
    quiet_libvirt_errors()
    with _lock:
        for uri in chosen:
            if uri in _started:
                continue
            future: Future[libvirt.virConnect] = Future()
            _started[uri] = future
            threading.Thread(target=_open, args=(uri, future), name=f"early-open {uri}",
                             daemon=True).start()
    return chosen


def take(uri: str) -> Future[libvirt.virConnect] | None:
    """The early open of ``uri`` (running or ended), handed over once; None if none."""
    key = eligible(uri)
    if key is None:
        return None
    with _lock:
        return _started.pop(key, None)


def forget_untaken() -> None:
    """Closes the early connections nobody took (the session opened other servers)."""
    with _lock:
        left = list(_started.values())
        _started.clear()
    for future in left:
        future.add_done_callback(_close_quietly)


def _open(uri: str, future: Future[libvirt.virConnect]) -> None:
    try:
        conn = open_unattended(uri)
    except libvirt.libvirtError as err:
        future.set_exception(err)
        log.debug("early open of %s: %s", uri, err)
    except BaseException as err:  # noqa: BLE001 - handed to whoever takes it
        future.set_exception(err)
    else:
        future.set_result(conn)


def _close_quietly(future: Future[libvirt.virConnect]) -> None:
    if future.exception() is None:
        try:
            future.result().close()
        except libvirt.libvirtError:
            pass


__all__ = ["begin", "eligible", "forget_untaken", "take"]
