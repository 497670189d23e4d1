"""What a console connects to, and how: the openers a ConsoleSession (app/console_session.py)
asks for connected protocol clients.

- ``AddressOpener``: a standalone console (vnc:// or spice:// address, .vv file).
- ``VmOpener``: a VM known to the ConnectionManager. None while it is not running; else
  the VM's display (its first VNC or SPICE device, or the protocol the user chose) over
  one route, picked from the host's URI: ``LibvirtSocketRoute`` for a local QEMU host
  (libvirt hands over a socket, and skips the display's password), ``SshTunnelRoute``
  for a host reached over SSH (one ssh per stream), ``TcpRoute`` otherwise (the listen
  address, with the password from the secure XML or asked). A host whose driver has no
  consoles at all (libvirt's test driver) gets a sentence instead.

QtCore-free. The domain XML facts the routes need (the display's password, a SPICE
ticket's expiry, TLS-only SPICE) are read here.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Protocol

from app.console_passwords import (ConsolePasswords, PasswordPrompt, RememberedPasswords,
                                   address_console_key, vm_console_key, vm_console_keys)
from app.console_session import ConsoleOpener
from connectors.console.address import ConsoleAddress
from connectors.console.client import ConsoleClient
from connectors.console.rfb.client import LOCAL_ENCODINGS, RfbClient
from connectors.console.state import AuthenticationError, ConsoleError, ConsoleUnavailable
from connectors.console.tls import TlsOptions
from connectors.console.transport import SocketTransport, TcpTransport
from connectors.libvirt import domxml
from connectors.libvirt.console_tunnel import needs_tunnel, ssh_console_transport
from connectors.libvirt.model import ActionError, GraphicsInfo, HostInfo, VMInfo, VMState
from connectors.libvirt.uri import ParsedURI, validate_uri
from connectors.xapi.console import XapiConsoleTransport
from connectors.xapi.pool import XapiPool

log = logging.getLogger(__name__)

RUNNING_STATES = (VMState.RUNNING, VMState.PAUSED, VMState.SHUTTING_DOWN)
PROTOCOLS = ("vnc", "spice")   # the graphics types the console shows, in libvirt's words
PROTOCOL_NAMES = {"vnc": "VNC", "spice": "SPICE"}


def make_client(protocol: str, transport, passwords, **client_options) -> ConsoleClient:
    """The protocol client for ``protocol`` over ``transport`` (not connected yet)."""
    if protocol == "spice":
        try:
            from connectors.console.spice.client import SpiceClient
        except ImportError as err:
            raise ConsoleUnavailable(f"SPICE consoles cannot be shown: {err}.") from None
        return SpiceClient(transport, password=passwords, **client_options)
    return RfbClient(transport, password=passwords, **client_options)


# ---- a standalone address ----

class AddressOpener(ConsoleOpener):
    """A standalone console (vnc:// or spice:// address, .vv file): always there to try,
    over TCP. ``vault`` (app.vault.Vault) remembers its password when the user asks."""

    def __init__(self, address: ConsoleAddress, prompt: PasswordPrompt | None = None,
                 vault=None, **client_options) -> None:
        self.address = address
        self.client_options = client_options
        self.passwords = ConsolePasswords(
            address.display, prompt, vault,
            address_console_key(address.host, address.port, address.protocol),
            prompt_first=address.protocol != "spice")
        self.passwords.known = address.password
        key = self.passwords.vault_key
        self._remembered = (RememberedPasswords(vault, (key,), address.display)
                            if vault is not None and key is not None else None)

    async def open(self) -> ConsoleClient:
        address, passwords = self.address, self.passwords
        return await passwords.connect_new(lambda: make_client(
            address.protocol, TcpTransport(address.host, address.port), passwords,
            **self.client_options))

    def remembered_passwords(self) -> RememberedPasswords | None:
        return self._remembered

    def current_protocol(self) -> str | None:
        return self.address.protocol


def address_opener(address: ConsoleAddress, prompt: PasswordPrompt | None = None,
                   vault=None, **client_options) -> AddressOpener:
    """See AddressOpener."""
    return AddressOpener(address, prompt, vault, **client_options)


# ---- a VM's console ----

class ConsoleHost(Protocol):
    """What a VM's console needs of its host's connection (connectors.libvirt.host's
    LibvirtHost)."""

    uri: str
    is_demo: bool
    info: HostInfo | None

    def vm(self, key: str) -> VMInfo | None: ...

    async def domain_xml(self, key: str, secure: bool = False) -> str: ...

    async def open_graphics_fd(self, key: str, index: int = 0) -> int: ...


class HostSource(Protocol):
    """Where a VM's console finds its host (the ConnectionManager)."""

    def host(self, conn_id) -> ConsoleHost | None: ...


@dataclass
class VmDisplay:
    """One connection attempt to a VM's display: what every route needs."""

    host: ConsoleHost
    key: str
    vm: VMInfo
    index: int                  # among the VM's graphics devices (for libvirt's socket)
    graphics: GraphicsInfo
    parsed: ParsedURI           # the host's URI
    passwords: ConsolePasswords
    options: dict = field(default_factory=dict)   # for the protocol client

    @property
    def protocol(self) -> str:
        return self.graphics.type

    async def connect(self, transport) -> ConsoleClient:
        """A client for this display over ``transport``, connected (password asked, tried
        and remembered as ConsolePasswords does)."""
        return await self.passwords.connect_new(lambda: make_client(
            self.protocol, transport, self.passwords, **self.options))


class ConsoleRoute(Protocol):
    """How a VM's display is reached from here."""

    async def open(self, display: VmDisplay) -> ConsoleClient: ...


class _ThroughTheNetwork:
    """What SSH and TCP routes share: the display's own password (from the secure XML
    when this connection may read it), refusing TLS-only SPICE, and saying when a SPICE
    ticket was refused because it had expired."""

    async def open(self, display: VmDisplay) -> ConsoleClient:
        host, key, name, index = display.host, display.key, display.vm.name, display.index
        if display.protocol == "spice":
            dom = await _domain(host, key)
            if dom is not None and index < len(dom.graphics) \
                    and domxml.tls_only(dom.graphics[index]):
                raise ConsoleUnavailable(f"{name}'s SPICE display accepts only TLS "
                                         "connections, and TLS SPICE is not supported yet.")
        if display.graphics.has_password and display.passwords.known is None:
            secure = await _secure_domain(host, key)
            display.passwords.known = (domxml.graphics_password(secure, index)
                                       if secure is not None else None)
        transport = self.transport(display)
        try:
            return await display.connect(transport)
        except AuthenticationError as err:
            if display.protocol == "spice":
                raise await _spice_refusal(host, key, index, name, err) from None
            raise

    def transport(self, display: VmDisplay):
        raise NotImplementedError


class SshTunnelRoute(_ThroughTheNetwork):
    """A host reached over SSH (qemu+ssh://, xen+ssh://): the display is usually on the
    host's loopback, so each stream is an ssh with the URI's user, port and key (``-W``,
    or ``nc -U`` for a socket). SPICE opens one per channel."""

    def transport(self, display: VmDisplay):
        graphics = display.graphics
        if not graphics.socket and (not graphics.port or graphics.port <= 0):
            raise ConsoleError(f"{display.vm.name} has no {_kind(graphics)} port yet.")
        if display.protocol == "vnc":
            # Through SSH the TLS server is still the host: its certificate names it.
            tls = display.options.get("tls") or TlsOptions()
            display.options["tls"] = replace(tls, server_name=tls.server_name
                                             or display.parsed.host)
        return ssh_console_transport(display.parsed.uri, graphics)


class TcpRoute(_ThroughTheNetwork):
    """Straight to the display's listen address: the host's name for a display that
    listens everywhere or on its loopback, else the address it listens on."""

    def transport(self, display: VmDisplay):
        graphics, name, parsed = display.graphics, display.vm.name, display.parsed
        if graphics.socket:
            raise ConsoleUnavailable(f"{name}'s display is a socket on another machine: "
                                     "connect to that server over SSH (qemu+ssh://) to "
                                     "see it.")
        if not graphics.port or graphics.port <= 0:
            raise ConsoleError(f"{name} has no {_kind(graphics)} port yet.")
        listen = graphics.listen or "127.0.0.1"
        wildcard = listen in ("0.0.0.0", "::", "")
        address = parsed.host if (wildcard or listen.startswith("127.")) else listen
        if not address:   # a local URI whose console is not reached through libvirt's socket
            address = "127.0.0.1" if wildcard else listen
        return TcpTransport(address, graphics.port)


class LibvirtSocketRoute:
    """A local QEMU host: libvirt hands over a connected socket (virDomainOpenGraphicsFD,
    the display's password skipped: the libvirt connection is the authority), so no port
    needs to be reachable. SPICE takes every channel that way; a SPICE server that did
    not take its later channels so is reached over TCP from then on."""

    def __init__(self, fallback: ConsoleRoute | None = None) -> None:
        self.fallback = fallback or TcpRoute()
        self.spice_fd_refused = False

    async def open(self, display: VmDisplay) -> ConsoleClient:
        if display.protocol == "spice" and self.spice_fd_refused:
            return await self.fallback.open(display)
        host, key, index = display.host, display.key, display.index
        transport = SocketTransport(lambda: host.open_graphics_fd(key, index),
                                    f"{display.vm.name} (local)")
        if display.protocol == "vnc":
            display.options.setdefault("encodings", LOCAL_ENCODINGS)
        try:
            return await display.connect(transport)
        except AuthenticationError:
            raise
        except (ConsoleError, ActionError) as err:
            if display.protocol != "spice" or not display.graphics.port:
                raise
            log.info("SPICE through libvirt's socket failed (%s); using TCP", err)
            self.spice_fd_refused = True
        return await self.fallback.open(display)


def route_for(parsed: ParsedURI) -> ConsoleRoute:
    """The route to the VMs of the host at ``parsed``."""
    if needs_tunnel(parsed.uri):
        return SshTunnelRoute()
    if parsed.is_local and parsed.driver == "qemu":
        return LibvirtSocketRoute()
    return TcpRoute()


class VmOpener(ConsoleOpener):
    """The console of a VM known to the ConnectionManager (see the module's docstring).

    ``protocol`` is the user's choice when the VM has both VNC and SPICE (None: its first
    graphics device, as virt-manager shows). ``client_options`` go to the RFB client,
    ``spice_options`` to the SPICE one."""

    def __init__(self, manager: HostSource, conn_id, key: str,
                 prompt: PasswordPrompt | None = None, vault=None,
                 protocol: str | None = None, spice_options: dict | None = None,
                 **client_options) -> None:
        self.manager, self.conn_id, self.key = manager, conn_id, key
        self.prompt, self.vault = prompt, vault
        self.protocol = protocol
        self.rfb_options = client_options
        self.spice_options = spice_options or {}
        self.route: ConsoleRoute | None = None     # chosen at the first connection
        self._passwords: dict[str, ConsolePasswords] = {}

    def _vm(self) -> tuple[ConsoleHost | None, VMInfo | None]:
        host = self.manager.host(self.conn_id)
        vm = host.vm(self.key) if host is not None else None
        return host, vm

    def protocol_choices(self) -> list[str]:
        """The protocols of the VM's graphics devices, in their order, when there are two."""
        _host, vm = self._vm()
        if vm is None:
            return []
        found = [g.type for g in vm.graphics if g.type in PROTOCOLS]
        unique = list(dict.fromkeys(found))
        return unique if len(unique) > 1 else []

    def choose_protocol(self, protocol: str) -> bool:
        if self.protocol == protocol:
            return False
        self.protocol = protocol
        return True

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

    async def open(self) -> ConsoleClient | None:
        host, vm = self._vm()
        if host is None or vm is None:
            raise ConsoleError("The VM is no longer known to this server.")
        reason = no_console_reason(host)
        if reason:
            raise ConsoleUnavailable(reason)
        if vm.state not in RUNNING_STATES:
            return None
        display = self._display(host, vm)
        if self.route is None:
            self.route = route_for(display.parsed)
        return await self.route.open(display)

    def _display(self, host: ConsoleHost, vm: VMInfo) -> VmDisplay:
        index, graphics = pick_graphics(vm, self.protocol)
        protocol = graphics.type
        passwords = self._passwords.get(protocol)
        if passwords is None:
            passwords = self._passwords[protocol] = ConsolePasswords(
                vm.name, self.prompt, self.vault, vm_console_key(host.uri, self.key, protocol),
                prompt_first=protocol != "spice")
        options = dict(self.spice_options if protocol == "spice" else self.rfb_options)
        return VmDisplay(host, self.key, vm, index, graphics, validate_uri(host.uri),
                         passwords, options)


def vm_opener(manager: HostSource, conn_id, key: str, prompt: PasswordPrompt | None = None,
              vault=None, **options) -> VmOpener:
    """See VmOpener. ``vault`` (app.vault.Vault) remembers its password when the user asks."""
    return VmOpener(manager, conn_id, key, prompt, vault, **options)


def no_console_reason(host: ConsoleHost) -> str:
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


def pick_graphics(vm: VMInfo, protocol: str | None = None) -> tuple[int, GraphicsInfo]:
    """(index among the VM's graphics devices, GraphicsInfo) to show: the first of
    ``protocol`` when given and present, else the first VNC or SPICE device."""
    shown = [(i, g) for i, g in enumerate(vm.graphics) if g.type in PROTOCOLS]
    if not shown:
        raise ConsoleUnavailable(f"{vm.name} has no VNC or SPICE display.")
    for index, graphics in shown:
        if graphics.type == protocol:
            return index, graphics
    return shown[0]


def _kind(graphics: GraphicsInfo) -> str:
    return PROTOCOL_NAMES.get(graphics.type, graphics.type.upper())


async def _secure_domain(host: ConsoleHost, key: str) -> domxml.Domain | None:
    """The secure definition (passwords included) where this connection may read it."""
    try:
        return domxml.parse(await host.domain_xml(key, secure=True))
    except (ActionError, domxml.DomainXMLError):
        return None


async def _domain(host: ConsoleHost, key: str) -> domxml.Domain | None:
    """The secure definition where this connection may read it, else the plain one."""
    secure = await _secure_domain(host, key)
    if secure is not None:
        return secure
    try:
        return domxml.parse(await host.domain_xml(key))
    except (ActionError, domxml.DomainXMLError):
        return None


async def _spice_refusal(host: ConsoleHost, key: str, index: int, name: str,
                         err: AuthenticationError) -> AuthenticationError:
    """The SPICE server refused the ticket: say whether it had expired, when the XML says."""
    secure = await _secure_domain(host, key)
    expiry = domxml.ticket_expiry(secure, index) if secure is not None else None
    if expiry is not None and expiry <= datetime.now(timezone.utc):
        return AuthenticationError(
            f"The SPICE password (ticket) of {name} expired on "
            f"{expiry:%Y-%m-%d at %H:%M} UTC: the server accepts no password until it is "
            "given a new one.", needs_password=err.needs_password)
    return err


def safe_file_name(text: str) -> str:
    """A screenshot file name from a VM's name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "console"


# ---- a VM of a XenServer / XCP-ng pool ----

class PoolConsoleOpener(ConsoleOpener):
    """A pool VM's console: XAPI's console location, reached by HTTP CONNECT with the
    pool's session (connectors/xapi/console.py), then RFB as for any VNC display. XAPI
    authenticates the CONNECT by the session, so there is no console password."""

    def __init__(self, pool: XapiPool, key: str, **client_options) -> None:
        self.pool, self.key = pool, key
        self.rfb_options = client_options

    def current_protocol(self) -> str | None:
        return "vnc"

    async def open(self) -> ConsoleClient | None:
        vm = self.pool.vm(self.key)
        if vm is None:
            raise ConsoleError("The VM is no longer in the pool.")
        if vm.state not in RUNNING_STATES:
            return None

        async def locate():
            try:
                return await self.pool.console_target(self.key)
            except ActionError as err:
                raise ConsoleError(str(err)) from None
        transport = XapiConsoleTransport(locate, f"{vm.name} (XAPI)")
        options = {k: v for k, v in self.rfb_options.items() if k != "tls"}
        client = RfbClient(transport, **options)
        await client.connect()
        return client
