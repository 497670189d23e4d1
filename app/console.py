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
from dataclasses import replace
from datetime import datetime, timezone
from typing import Awaitable, Callable

from PySide6.QtCore import QObject, Signal

from app.console_passwords import (ConsolePasswords, PasswordPrompt, RememberedPasswords,
                                   address_console_key, vm_console_key, vm_console_keys)
from connectors.console.address import ConsoleAddress
from connectors.console.client import ConsoleClient
from connectors.console.framebuffer import Framebuffer
from connectors.console.rfb.client import LOCAL_ENCODINGS, RfbClient
from connectors.console.state import (AuthenticationError, ConsoleError, ConsoleState,
                                      ConsoleStatus, ConsoleUnavailable)
from connectors.console.tls import TlsOptions
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
PROTOCOLS = ("vnc", "spice")   # the graphics types the console shows, in libvirt's words
PROTOCOL_NAMES = {"vnc": "VNC", "spice": "SPICE"}
# A SPICE server draws a changing screen in many small pieces (QEMU: a few dozen per
# refresh), each reported by the client: the view is told at most this often, so it
# repaints once per displayed frame instead of once per piece. The first report after a
# quiet spell goes at once (a typed key's echo is not delayed).
REPAINT_INTERVAL_S = 1 / 60


class ConsoleSession(QObject):
    """The console of one target. ``status`` drives the overlay, ``framebuffer`` the
    picture (kept after a disconnect, so the last screen stays visible under it)."""

    statusChanged = Signal(object)      # ConsoleStatus
    frameUpdated = Signal()             # the framebuffer has new damage
    resized = Signal(int, int)
    cursorChanged = Signal(object)      # CursorImage or None
    capabilitiesChanged = Signal()      # also: the guest agent came or went
    clipboardReceived = Signal(str)     # text the guest put on its clipboard (agent)
    noticeChanged = Signal(str)         # a sentence from the client ("" when none)

    def __init__(self, opener: Opener, title: str = "", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.opener = opener
        self.title = title
        self.status = ConsoleStatus(ConsoleState.DISCONNECTED, "not started")
        self.client: ConsoleClient | None = None
        self.framebuffer = Framebuffer(640, 480)
        self.notice = ""
        self._task: asyncio.Task | None = None
        self._repaint_pending = False
        self._last_repaint = 0.0
        self._choice = 0      # counts the user's protocol choices
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

    def remembered_passwords(self):
        """This console's vault entries (app.console_passwords.RememberedPasswords), for
        "Forget console password"; None when there is no vault to remember in."""
        source = getattr(self.opener, "remembered_passwords", None)
        return source() if source is not None else None

    @property
    def connected(self) -> bool:
        return self.status.state is ConsoleState.CONNECTED and self.client is not None

    # ---- protocol choice (a VM with both VNC and SPICE) ----

    def protocol_choices(self) -> list[str]:
        """The protocols the user may choose between ([] when there is no choice to make)."""
        choices = getattr(self.opener, "choices", None)
        return choices() if choices is not None else []

    @property
    def protocol(self) -> str | None:
        """The protocol shown (or about to be), "vnc" or "spice"."""
        return getattr(self.opener, "current_protocol", lambda: None)()

    def choose_protocol(self, protocol: str) -> None:
        """Show the VM through ``protocol`` from now on: the connection starts again."""
        if getattr(self.opener, "protocol", protocol) == protocol:
            return
        self.opener.protocol = protocol
        self._choice += 1     # a connection made before this choice is not shown
        self._wake.set()
        if self.client is not None:
            self.client.close()

    # ---- typing text ----

    def type_text(self, text: str) -> None:
        """Type ``text`` into the guest as keystrokes (the SPICE client paces them for
        QEMU's PS/2 queue itself)."""
        if self.client is not None and text:
            self.client.type_text(text)

    # ---- the guest agent (SPICE) ----

    @property
    def has_agent_concept(self) -> bool:
        """The protocol can carry a guest agent (SPICE), so its absence is worth a word."""
        return self.client is not None and hasattr(self.client, "agent_connected")

    @property
    def agent_connected(self) -> bool:
        return bool(getattr(self.client, "agent_connected", False))

    def follow_window_size(self, width: int, height: int) -> bool:
        """Ask the guest (through its agent) to take this resolution; False: it cannot."""
        client = self.client
        if client is None or not self.agent_connected or width < 320 or height < 200:
            return False
        client.set_monitor_size(int(width), int(height))
        return True

    def send_clipboard(self, text: str) -> bool:
        """Put ``text`` on the guest's clipboard (through its agent)."""
        client = self.client
        if client is None or not self.agent_connected or not text:
            return False
        client.send_clipboard(text)
        return True

    # ---- the loop ----

    async def _run(self) -> None:
        failures = 0
        while not self._stopped:
            self._wake.clear()
            if self.status.state not in (ConsoleState.VM_NOT_RUNNING,
                                         ConsoleState.UNAVAILABLE):
                self._set(ConsoleStatus(ConsoleState.CONNECTING))
            choice = self._choice
            try:
                client = await self.opener()
            except ConsoleUnavailable as err:
                # Nothing to retry: look again only when something changes (the VM's
                # state or definition, the user's protocol choice).
                self._set(ConsoleStatus(ConsoleState.UNAVAILABLE, str(err)))
                await self._wake.wait()
                continue
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
            if choice != self._choice:
                client.close()          # opened with the protocol the user just left
                continue
            reason = await self._serve(client)
            if self._stopped:
                break
            if choice != self._choice:
                continue                # straight to connecting, no "disconnected" between
            self._set(ConsoleStatus(ConsoleState.DISCONNECTED, reason))
            await self._pause(RETRY_DELAYS_S[0])

    async def _serve(self, client: ConsoleClient) -> str:
        """Show ``client`` until its connection ends; the reason it ended."""
        self.client = client
        self.framebuffer = client.framebuffer
        client.on_update = self._client_updated
        client.on_resize = lambda w, h: self.resized.emit(w, h)
        client.on_cursor = self.cursorChanged.emit
        client.on_capabilities = self.capabilitiesChanged.emit
        client.on_clipboard = self.clipboardReceived.emit
        client.on_notice = self._notice
        self._notice("")
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

    def _client_updated(self) -> None:
        if self._repaint_pending:
            return
        loop = asyncio.get_event_loop()
        wait = self._last_repaint + REPAINT_INTERVAL_S - loop.time()
        if wait <= 0:
            self._repaint()
            return
        self._repaint_pending = True
        loop.call_later(wait, self._repaint)

    def _repaint(self) -> None:
        self._repaint_pending = False
        self._last_repaint = asyncio.get_event_loop().time()
        self.frameUpdated.emit()

    def _notice(self, text: str) -> None:
        if text != self.notice:
            self.notice = text
            self.noticeChanged.emit(text)

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

def make_client(protocol: str, transport, passwords, **client_options) -> ConsoleClient:
    """The protocol client for ``protocol`` over ``transport`` (not connected yet)."""
    if protocol == "spice":
        try:
            from connectors.console.spice.client import SpiceClient
        except ImportError as err:
            raise ConsoleUnavailable(f"SPICE consoles cannot be shown: {err}.") from None
        return SpiceClient(transport, password=passwords, **client_options)
    return RfbClient(transport, password=passwords, **client_options)


def address_opener(address: ConsoleAddress, prompt: PasswordPrompt | None = None,
                   vault=None, **client_options) -> Opener:
    """A standalone console (vnc:// or spice:// address, .vv file): always there to try.
    ``vault`` (app.vault.Vault) remembers its password when the user asks."""
    passwords = ConsolePasswords(
        address.display, prompt, vault,
        address_console_key(address.host, address.port, address.protocol),
        prompt_first=address.protocol != "spice")
    passwords.known = address.password

    async def open_client() -> ConsoleClient:
        return await passwords.connect_new(lambda: make_client(
            address.protocol, TcpTransport(address.host, address.port), passwords,
            **client_options))
    remembered = (RememberedPasswords(vault, (passwords.vault_key,), address.display)
                  if vault is not None else None)
    open_client.remembered_passwords = lambda: remembered  # "Forget console password"
    return open_client


class VmOpener:
    """The console of a VM known to the ConnectionManager: None while it is not running;
    through libvirt's own socket on a local host, SSH for qemu+ssh://, TCP otherwise.

    ``protocol`` is the user's choice when the VM has both VNC and SPICE (None: its first
    graphics device, as virt-manager shows). ``client_options`` go to the RFB client,
    ``spice_options`` to the SPICE one."""

    def __init__(self, manager, conn_id, key: str, prompt: PasswordPrompt | None = None,
                 vault=None, protocol: str | None = None,
                 spice_options: dict | None = None, **client_options) -> None:
        self.manager, self.conn_id, self.key = manager, conn_id, key
        self.prompt, self.vault = prompt, vault
        self.protocol = protocol
        self.rfb_options = client_options
        self.spice_options = spice_options or {}
        self._passwords: dict[str, ConsolePasswords] = {}
        self._spice_fd_refused = False   # libvirt's socket did not carry SPICE here

    def _vm(self):
        host = self.manager.host(self.conn_id)
        vm = host.vm(self.key) if host is not None else None
        return host, vm

    def choices(self) -> list[str]:
        """The protocols of the VM's graphics devices, in their order, when there are two."""
        _host, vm = self._vm()
        if vm is None:
            return []
        found = [g.type for g in vm.graphics if g.type in PROTOCOLS]
        unique = list(dict.fromkeys(found))
        return unique if len(unique) > 1 else []

    def remembered_passwords(self) -> RememberedPasswords | None:
        """This VM's entries in the vault (VNC and SPICE), for "Forget console password"."""
        host, vm = self._vm()
        if self.vault is None or host is None:
            return None
        return RememberedPasswords(self.vault, tuple(vm_console_keys(host.uri, self.key)),
                                   vm.name if vm is not None else self.key)

    def current_protocol(self) -> str | None:
        _host, vm = self._vm()
        if vm is None:
            return self.protocol
        try:
            return pick_graphics(vm, self.protocol)[1].type
        except ConsoleError:
            return None

    async def __call__(self) -> ConsoleClient | None:
        host, vm = self._vm()
        if vm is None:
            raise ConsoleError("The VM is no longer known to this server.")
        reason = no_console_reason(host)
        if reason:
            raise ConsoleUnavailable(reason)
        if vm.state not in RUNNING_STATES:
            return None
        index, graphics = pick_graphics(vm, self.protocol)
        protocol = graphics.type
        passwords = self._passwords.get(protocol)
        if passwords is None:
            passwords = self._passwords[protocol] = ConsolePasswords(
                vm.name, self.prompt, self.vault, vm_console_key(host.uri, self.key, protocol),
                prompt_first=protocol != "spice")
        options = self.spice_options if protocol == "spice" else dict(self.rfb_options)
        parsed = validate_uri(host.uri)
        local = parsed.is_local and parsed.driver == "qemu"
        if local and not (protocol == "spice" and self._spice_fd_refused):
            transport = SocketTransport(lambda: host.open_graphics_fd(self.key, index),
                                        f"{vm.name} (local)")
            if protocol == "vnc":
                options.setdefault("encodings", LOCAL_ENCODINGS)
            try:
                return await passwords.connect_new(
                    lambda: make_client(protocol, transport, passwords, **options))
            except AuthenticationError:
                raise
            except (ConsoleError, ActionError) as err:
                if protocol != "spice" or not graphics.port:
                    raise
                # libvirt hands over one socket per call; a SPICE server that does not
                # take its later channels that way is reached over its TCP port instead.
                log.info("SPICE through libvirt's socket failed (%s); using TCP", err)
                self._spice_fd_refused = True
        if protocol == "spice":
            xml = await _domain_xml(host, self.key)
            if xml is not None and spice_is_tls_only(xml):
                raise ConsoleUnavailable(f"{vm.name}'s SPICE display accepts only TLS "
                                         "connections, and TLS SPICE is not supported yet.")
        if graphics.has_password and passwords.known is None:
            passwords.known = await _password_from_xml(host, self.key, protocol)
        transport = _remote_transport(parsed, graphics, vm.name)
        if protocol == "vnc" and not hasattr(transport, "host"):
            # Through SSH the TLS server is still the host: its certificate names it.
            tls = options.get("tls") or TlsOptions()
            options["tls"] = replace(tls, server_name=tls.server_name or parsed.host)
        try:
            return await passwords.connect_new(
                lambda: make_client(protocol, transport, passwords, **options))
        except AuthenticationError as err:
            if protocol == "spice":
                raise await _spice_refusal(host, self.key, vm.name, err) from None
            raise


def vm_opener(manager, conn_id, key: str, prompt: PasswordPrompt | None = None,
              vault=None, **options) -> VmOpener:
    """See VmOpener. ``vault`` (app.vault.Vault) remembers its password when the user asks."""
    return VmOpener(manager, conn_id, key, prompt, vault, **options)


def no_console_reason(host) -> str:
    """Why no VM of ``host`` has a graphical console at all, or "" when they may have one.

    Decided from the host's driver (libvirt's getType(), else the URI's): libvirt's test
    driver simulates its VMs, with no screen behind their <graphics> elements; its
    virDomainOpenGraphicsFD is "not supported" and the ports its XML names are fiction
    (a real VNC server on this machine may even listen there)."""
    info = host.info
    driver = info.driver if info is not None else validate_uri(host.uri).driver
    if driver.lower() != "test":
        return ""
    if host.is_demo:
        return ("The demo lab's VMs are simulated by libvirt's test driver: they have no "
                "screen, so there is no graphical console to show.")
    return ("This server runs libvirt's test driver, which simulates its VMs: they have no "
            "screen, so there is no graphical console to show.")


def pick_graphics(vm, protocol: str | None = None):
    """(index among the VM's graphics devices, GraphicsInfo) to show: the first of
    ``protocol`` when given and present, else the first VNC or SPICE device."""
    shown = [(i, g) for i, g in enumerate(vm.graphics) if g.type in PROTOCOLS]
    if not shown:
        raise ConsoleUnavailable(f"{vm.name} has no VNC or SPICE display.")
    for index, graphics in shown:
        if graphics.type == protocol:
            return index, graphics
    return shown[0]


def _remote_transport(parsed, graphics, name: str):
    kind = PROTOCOL_NAMES.get(graphics.type, graphics.type.upper())
    listen = graphics.listen or "127.0.0.1"
    wildcard = listen in ("0.0.0.0", "::", "")
    if needs_tunnel(parsed.uri):
        # The host's own SSH settings: user, port, key file, known_hosts in batch mode.
        # Every open() starts one ssh: SPICE opens one per channel.
        if not graphics.socket and (not graphics.port or graphics.port <= 0):
            raise ConsoleError(f"{name} has no {kind} port yet.")
        return ssh_console_transport(parsed.uri, graphics)
    if graphics.socket:
        raise ConsoleUnavailable(f"{name}'s display is a socket on another machine: "
                                 "connect to that server over SSH (qemu+ssh://) to see it.")
    if not graphics.port or graphics.port <= 0:
        raise ConsoleError(f"{name} has no {kind} port yet.")
    address = parsed.host if (wildcard or listen.startswith("127.")) else listen
    if not address:   # a local URI whose console is not reached through libvirt's socket
        address = "127.0.0.1" if wildcard else listen
    return TcpTransport(address, graphics.port)


async def _secure_xml(host, key: str) -> str | None:
    try:
        return await host.domain_xml(key, secure=True)
    except ActionError:
        return None


async def _domain_xml(host, key: str) -> str | None:
    """The secure XML where this connection may read it, else the plain one."""
    xml = await _secure_xml(host, key)
    if xml is not None:
        return xml
    try:
        return await host.domain_xml(key)
    except ActionError:
        return None


def spice_is_tls_only(xml: str) -> bool:
    """The first SPICE display has a TLS port and no plain one, or its main channel (or
    every channel, defaultMode) must be secure: nothing a client without TLS can open."""
    graphics = _graphics_element(xml, "spice")
    if graphics is None or _port(graphics.get("tlsPort")) <= 0:
        return False
    if _port(graphics.get("port")) <= 0 or graphics.get("defaultMode") == "secure":
        return True
    return any(c.get("name") == "main" and c.get("mode") == "secure"
               for c in graphics.findall("channel"))


def _port(text: str | None) -> int:
    try:
        return int(text) if text else -1
    except ValueError:
        return -1


async def _password_from_xml(host, key: str, protocol: str = "vnc") -> str | None:
    """The display's password from the secure domain XML, when this connection may read it."""
    xml = await _secure_xml(host, key)
    return graphics_password_in_xml(xml, protocol) if xml is not None else None


async def _spice_refusal(host, key: str, name: str, err: AuthenticationError):
    """The SPICE server refused the ticket: say whether it had expired, when the XML says."""
    xml = await _secure_xml(host, key)
    expiry = ticket_expiry_in_xml(xml, "spice") if xml is not None else None
    if expiry is not None and expiry <= datetime.now(timezone.utc):
        return AuthenticationError(
            f"The SPICE password (ticket) of {name} expired on "
            f"{expiry:%Y-%m-%d at %H:%M} UTC: the server accepts no password until it is "
            "given a new one.", needs_password=err.needs_password)
    return err


def graphics_password_in_xml(xml: str, protocol: str = "vnc") -> str | None:
    """``passwd`` of the first ``protocol`` graphics device (only the secure XML has it)."""
    graphics = _graphics_element(xml, protocol)
    return graphics.get("passwd") if graphics is not None else None


def vnc_password_in_xml(xml: str) -> str | None:
    return graphics_password_in_xml(xml, "vnc")


def ticket_expiry_in_xml(xml: str, protocol: str = "spice") -> datetime | None:
    """``passwdValidTo`` of the display (libvirt writes it in UTC), when set."""
    graphics = _graphics_element(xml, protocol)
    text = graphics.get("passwdValidTo") if graphics is not None else None
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _graphics_element(xml: str, protocol: str):
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None
    for graphics in root.iter("graphics"):
        if graphics.get("type") == protocol:
            return graphics
    return None


def safe_file_name(text: str) -> str:
    """A screenshot file name from a VM's name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "console"
