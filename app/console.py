"""One console session per VM (or per standalone address): opens the protocol client,
reports its state for the overlay, and reconnects by itself when the guest reboots,
the server goes away and comes back, or the VM starts.

QtCore only. The protocol client (connectors/console) does the work; this turns its
callbacks into signals on the Qt thread and owns the retry policy.
"""
from __future__ import annotations

import asyncio
import logging
import re
import xml.etree.ElementTree as ET
from typing import Awaitable, Callable

from PySide6.QtCore import QObject, Signal

from app.console_passwords import (ConsolePasswords, PasswordPrompt, address_console_key,
                                   vm_console_key)
from connectors.console.address import ConsoleAddress
from connectors.console.client import ConsoleClient
from connectors.console.framebuffer import Framebuffer
from connectors.console.rfb.client import LOCAL_ENCODINGS, RfbClient
from connectors.console.state import (AuthenticationError, ConsoleError, ConsoleState,
                                      ConsoleStatus)
from connectors.console.transport import SocketTransport, TcpTransport
from connectors.libvirt.console_tunnel import needs_tunnel, ssh_console_transport
from connectors.libvirt.model import ActionError, VMState
from connectors.libvirt.uri import validate_uri

log = logging.getLogger(__name__)

# Opens a connected client, or returns None while there is nothing to show (VM off).
Opener = Callable[[], Awaitable[ConsoleClient | None]]

RETRY_DELAYS_S = (0.5, 1.0, 2.0, 4.0)
VM_POLL_S = 1.0
RUNNING_STATES = (VMState.RUNNING, VMState.PAUSED, VMState.SHUTTING_DOWN)


class ConsoleSession(QObject):
    """The console of one target. ``status`` drives the overlay, ``framebuffer`` the
    picture (kept after a disconnect, so the last screen stays visible under it)."""

    statusChanged = Signal(object)      # ConsoleStatus
    frameUpdated = Signal()             # the framebuffer has new damage
    resized = Signal(int, int)
    cursorChanged = Signal(object)      # CursorImage or None
    capabilitiesChanged = Signal()

    def __init__(self, opener: Opener, title: str = "", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.opener = opener
        self.title = title
        self.status = ConsoleStatus(ConsoleState.DISCONNECTED, "not started")
        self.client: ConsoleClient | None = None
        self.framebuffer = Framebuffer(640, 480)
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self._stopped = True

    # ---- control ----

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._stopped = False
            self._task = asyncio.get_event_loop().create_task(self._run())

    async def stop(self) -> None:
        self._stopped = True
        if self.client is not None:
            self.client.close()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - leaving anyway
                pass
        self._set(ConsoleStatus(ConsoleState.DISCONNECTED, "the console was closed."))

    def close_now(self) -> None:
        """Stop without awaiting (no running loop): close the connection, end the task."""
        self._stopped = True
        if self.client is not None:
            self.client.close()
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def reconnect(self) -> None:
        """The user asked to connect again (also after stop() or a refused password)."""
        self._stopped = False
        self._wake.set()
        self.start()

    def poke(self) -> None:
        """Try again now (the user pressed Reconnect, or the VM's state changed)."""
        self._wake.set()
        if not self._stopped:
            self.start()

    @property
    def connected(self) -> bool:
        return self.status.state is ConsoleState.CONNECTED and self.client is not None

    # ---- the loop ----

    async def _run(self) -> None:
        failures = 0
        while not self._stopped:
            self._wake.clear()
            if self.status.state is not ConsoleState.VM_NOT_RUNNING:
                self._set(ConsoleStatus(ConsoleState.CONNECTING))
            try:
                client = await self.opener()
            except AuthenticationError as err:
                # Another try with the same password would fail the same way: wait for
                # the user (Reconnect asks again).
                self._set(ConsoleStatus(ConsoleState.DISCONNECTED, str(err)))
                await self._wake.wait()
                continue
            except (ConsoleError, ActionError) as err:
                self._set(ConsoleStatus(ConsoleState.DISCONNECTED, str(err)))
                failures += 1
                await self._pause(RETRY_DELAYS_S[min(failures, len(RETRY_DELAYS_S)) - 1])
                continue
            if client is None:
                self._set(ConsoleStatus(ConsoleState.VM_NOT_RUNNING))
                await self._pause(VM_POLL_S)
                continue
            failures = 0
            reason = await self._serve(client)
            if self._stopped:
                break
            self._set(ConsoleStatus(ConsoleState.DISCONNECTED, reason))
            await self._pause(RETRY_DELAYS_S[0])

    async def _serve(self, client: ConsoleClient) -> str:
        """Show ``client`` until its connection ends; the reason it ended."""
        self.client = client
        self.framebuffer = client.framebuffer
        client.on_update = self.frameUpdated.emit
        client.on_resize = lambda w, h: self.resized.emit(w, h)
        client.on_cursor = self.cursorChanged.emit
        client.on_capabilities = self.capabilitiesChanged.emit
        self.resized.emit(client.framebuffer.width, client.framebuffer.height)
        self._set(ConsoleStatus(ConsoleState.CONNECTED))
        try:
            await client.run()
            return "the console was closed"
        except ConsoleError as err:
            return str(err)
        except Exception as err:  # noqa: BLE001 - a decoder bug must not kill the app
            log.exception("console client failed")
            return f"internal error: {err}"
        finally:
            client.close()
            self.client = None

    async def _pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    def _set(self, status: ConsoleStatus) -> None:
        if status != self.status:
            self.status = status
            self.statusChanged.emit(status)


# ---- openers ----

def address_opener(address: ConsoleAddress, prompt: PasswordPrompt | None = None,
                   vault=None, **client_options) -> Opener:
    """A standalone console (vnc:// address or .vv file): always there to try.
    ``vault`` (app.vault.Vault) remembers its password when the user asks."""
    passwords = ConsolePasswords(address.display, prompt, vault,
                                 address_console_key(address.host, address.port))
    passwords.known = address.password

    async def open_client() -> ConsoleClient:
        transport = TcpTransport(address.host, address.port)
        return await passwords.connect(RfbClient(transport, password=passwords,
                                                 **client_options))
    return open_client


def vm_opener(manager, conn_id, key: str, prompt: PasswordPrompt | None = None,
              vault=None, **client_options) -> Opener:
    """The console of a VM known to the ConnectionManager: None while it is not
    running; through libvirt's own socket on a local host, SSH for qemu+ssh://, TCP
    otherwise. ``vault`` (app.vault.Vault) remembers its password when the user asks."""
    passwords: ConsolePasswords | None = None

    async def open_client() -> ConsoleClient | None:
        nonlocal passwords
        host = manager.host(conn_id)
        vm = host.vm(key) if host is not None else None
        if vm is None:
            raise ConsoleError("The VM is no longer known to this server.")
        if vm.state not in RUNNING_STATES:
            return None
        index, graphics = _first_vnc(vm)
        if passwords is None:
            passwords = ConsolePasswords(vm.name, prompt, vault,
                                         vm_console_key(host.uri, key))
        parsed = validate_uri(host.uri)
        if parsed.is_local and parsed.driver in ("qemu", "test"):
            transport = SocketTransport(lambda: host.open_graphics_fd(key, index),
                                        f"{vm.name} (local)")
            client_options.setdefault("encodings", LOCAL_ENCODINGS)
        else:
            if graphics.has_password and passwords.known is None:
                passwords.known = await _password_from_xml(host, key)
            transport = _remote_transport(parsed, graphics, vm.name)
        return await passwords.connect(RfbClient(transport, password=passwords,
                                                 **client_options))
    return open_client


def _first_vnc(vm):
    for index, graphics in enumerate(vm.graphics):
        if graphics.type == "vnc":
            return index, graphics
    raise ConsoleError(f"{vm.name} has no VNC display.")


def _remote_transport(parsed, graphics, name: str):
    listen = graphics.listen or "127.0.0.1"
    wildcard = listen in ("0.0.0.0", "::", "")
    if needs_tunnel(parsed.uri):
        # The host's own SSH settings: user, port, key file, known_hosts in batch mode.
        if not graphics.socket and (not graphics.port or graphics.port <= 0):
            raise ConsoleError(f"{name} has no VNC port yet.")
        return ssh_console_transport(parsed.uri, graphics)
    if graphics.socket:
        raise ConsoleError(f"{name}'s display is a socket on another machine: connect to "
                           "that server over SSH (qemu+ssh://) to see it.")
    if not graphics.port or graphics.port <= 0:
        raise ConsoleError(f"{name} has no VNC port yet.")
    address = parsed.host if (wildcard or listen.startswith("127.")) else listen
    return TcpTransport(address, graphics.port)


async def _password_from_xml(host, key: str) -> str | None:
    """The VNC password from the secure domain XML, when this connection may read it."""
    try:
        xml = await host.domain_xml(key, secure=True)
    except ActionError:
        return None
    return vnc_password_in_xml(xml)


def vnc_password_in_xml(xml: str) -> str | None:
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None
    for graphics in root.iter("graphics"):
        if graphics.get("type") == "vnc" and graphics.get("passwd") is not None:
            return graphics.get("passwd")
    return None


def safe_file_name(text: str) -> str:
    """A screenshot file name from a VM's name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "console"
