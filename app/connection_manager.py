"""The user's servers: opens, closes and forgets host connections, and remembers them.

Each connection is a ``LibvirtHost`` from the connector. The manager is its listener: it
hands every host event to the inventory (batched there) and words connection changes and
hypervisor events for the events log. ``open`` returns at once with the new conn_id; the
connecting happens in the background, so the window never waits on a host. A failed
connect leaves the server in the tree, disconnected with the reason, for Reconnect.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import weakref
from typing import Awaitable, Callable

from PySide6.QtCore import QObject, Signal

import resources
from app.certificates import TrustedCertificates
from app.config import ConnectionsStore, SavedConnection, strip_password
from app.hypervisor_log import HypervisorRows
from connectors.atomic_file import write_failure
from connectors.libvirt import eventloop
from connectors.libvirt.host import LibvirtHost
from connectors.libvirt.model import (ConnectError, ConnectionSettings, ConnState,
                                      CredentialRequest, HostEvent, HostStateChanged,
                                      HypervisorEvent, ObjectKind, ServerAlertsChanged)
from connectors.libvirt.uri import ParsedURI, validate_uri
from connectors.xapi.pool import XapiPool
from connectors.xapi.session import PinBook
from connectors.xapi.tls import ServerCertificate

log = logging.getLogger(__name__)

DEMO_LAB = resources.DEMO_LAB
_DEMO_URI = "test://" + str(DEMO_LAB)
DEMO_NAME = "Demo lab"
CONNECTION = "connection"
HYPERVISOR = "hypervisor"

_KIND_WORDS = {ObjectKind.VM: "VM ", ObjectKind.NETWORK: "Network ",
               ObjectKind.POOL: "Storage pool "}

AuthHandler = Callable[[str, list[CredentialRequest]], Awaitable[list[str] | None]]
# ``await handler(uri, shown)``: True when the user trusts a XAPI host's certificate.
CertificateHandler = Callable[[str, ServerCertificate], Awaitable[bool]]
Server = LibvirtHost | XapiPool


def demo_uri() -> str:
    """The embedded demo lab on libvirt's test driver: test:///<absolute path>/lab.xml.

    Raises FileNotFoundError with a sentence for the user when the installation lacks it."""
    if not DEMO_LAB.is_file():
        raise FileNotFoundError(
            f"The demo inventory cannot be shown: its file {DEMO_LAB} is missing from this "
            "installation of HVConsole. Add your own servers with Server → Add Server…")
    return _DEMO_URI


def is_demo_uri(uri: str) -> bool:
    """The demo lab, however it was named (``--connect`` with its URI too)."""
    return uri == _DEMO_URI


def display_name(parsed: ParsedURI, demo: bool = False) -> str:
    """What the tree calls a server until it has told us its host name."""
    if demo:
        return DEMO_NAME
    if parsed.host:
        return parsed.display_name
    return parsed.uri      # "qemu:///system" says more than "localhost"


class ConnectionManager(QObject):
    """Signals carry the conn_id: ``connectionAdded``, ``connectionRemoved`` and
    ``stateChanged`` (the host's ``state`` changed; emitted as the host reports it);
    ``serverAlertsChanged(conn_id, ServerAlertsChanged)``: alerts a pool keeps itself
    (XAPI messages) were raised or dismissed."""

    connectionAdded = Signal(str)
    connectionRemoved = Signal(str)
    stateChanged = Signal(str)
    serverAlertsChanged = Signal(str, object)

    def __init__(self, inventory, events_log, parent: QObject | None = None, *,
                 store: ConnectionsStore | None = None,
                 settings: ConnectionSettings | None = None,
                 certificates: TrustedCertificates | None = None) -> None:
        super().__init__(parent)
        self.inventory = inventory
        self.events_log = events_log
        self.settings = settings or ConnectionSettings()
        self._store = store or ConnectionsStore()
        # The saved servers are read by load_saved(), not here: constructing the manager
        # touches no file (tests, tools and the window decide when the disk is read).
        self._saved: list[SavedConnection] | None = None
        self._config_warnings: list[str] = []
        self._hosts: dict[str, Server] = {}
        self.certificates = certificates or TrustedCertificates()
        self._certificate_handler: CertificateHandler | None = None
        self._names: dict[str, str] = {}
        self._tasks: dict[str, asyncio.Task] = {}
        self._auth_handler: AuthHandler | None = None
        self._connect_guard: Callable[[str], Awaitable[None]] | None = None
        self._ids = itertools.count(1)
        self._hypervisor_rows = HypervisorRows(events_log)

    # ================= opening =================

    def open(self, uri: str, save: bool = True, demo: bool = False) -> str:
        """Adds a server and starts connecting to it; returns its conn_id at once.

        Raises ValueError (with the URI checker's sentence) for a malformed URI. A URI
        that is already open is not opened twice: its conn_id is returned."""
        parsed = validate_uri(uri)
        uri = parsed.uri
        for conn_id, existing in self._hosts.items():
            if existing.uri == uri:
                if save:
                    self._remember(uri)
                return conn_id
        loop = asyncio.get_event_loop()
        eventloop.register(loop)
        conn_id = f"conn-{next(self._ids)}"
        name = display_name(parsed, demo)
        if parsed.driver == "xapi":
            host: Server = XapiPool(uri, _Listener(self, conn_id), auth=_Auth(self),
                            trust=_Trust(self, uri), settings=self.settings,
                            pins=PinBook(self.certificates.load()))
        else:
            host = LibvirtHost(uri, _Listener(self, conn_id), auth=_Auth(self),
                               settings=self.settings, is_demo=demo)
        self._hosts[conn_id] = host
        self._names[conn_id] = name
        self.inventory.add_host(conn_id, uri, name, demo=demo)
        if save:
            self._remember(uri)
        self.connectionAdded.emit(conn_id)
        self._start_connect(conn_id)
        return conn_id

    def load_saved(self) -> list[str]:
        """Reads the saved servers' file (again); what was wrong with it, in sentences (a
        damaged file is moved aside). Everything that needs the list reads it first."""
        self._saved, self._config_warnings = self._store.load()
        return list(self._config_warnings)

    def _saved_list(self) -> list[SavedConnection]:
        if self._saved is None:
            self.load_saved()
        assert self._saved is not None
        return self._saved

    def restore_saved(self) -> list[str]:
        """Opens every saved server (each connects in the background); their conn_ids."""
        opened = []
        for saved in list(self._saved_list()):
            try:
                opened.append(self.open(saved.uri, save=False))
            except ValueError as exc:
                self.events_log.add("error", CONNECTION, saved.uri,
                                    f"The saved server cannot be opened: {exc}")
        return opened

    def set_connect_guard(self, guard: Callable[[str], Awaitable[None]] | None) -> None:
        """``await guard(uri)`` runs before every connect the user starts (not before the
        host's own reconnects) and raises ConnectError to refuse it, with the reason the
        tree shows (an SSH host key that changed, one the user did not trust)."""
        self._connect_guard = guard

    def set_certificate_handler(self, handler: CertificateHandler | None) -> None:
        """``await handler(uri, shown)`` decides on a XAPI host's certificate at first
        contact; a trusted one is kept in ``certificates``. Without a handler nothing
        new is trusted (a pinned ``?fingerprint=`` still connects)."""
        self._certificate_handler = handler

    async def _trust(self, uri: str, shown: ServerCertificate) -> bool:
        handler = self._certificate_handler
        if handler is None or not await handler(uri, shown):
            return False
        await asyncio.to_thread(self.certificates.add, shown.address, shown.fingerprint)
        self.events_log.add("info", CONNECTION, shown.address,
                            f"Trusted the TLS certificate of {shown.address} "
                            f"({shown.fingerprint}); saved in {self.certificates.path}")
        return True

    def set_auth_handler(self, handler: AuthHandler | None) -> None:
        """``await handler(uri, requests)`` answers libvirt's credential requests (one
        string per request) or returns None when the user cancels."""
        self._auth_handler = handler

    # ================= looking up =================

    def host(self, conn_id: str) -> LibvirtHost | None:
        """A libvirt connection (None for a XenAPI pool: see ``server``)."""
        host = self._hosts.get(conn_id)
        return host if isinstance(host, LibvirtHost) else None

    def server(self, conn_id: str) -> Server | None:
        """The connection whatever its kind: a libvirt host or a XenAPI pool."""
        return self._hosts.get(conn_id)

    def pool(self, conn_id: str) -> XapiPool | None:
        host = self._hosts.get(conn_id)
        return host if isinstance(host, XapiPool) else None

    def state(self, conn_id: str) -> tuple[ConnState, str]:
        """The connection's state and reason, the one answer every view shows.

        While an attempt checks the SSH host key, the host itself has not started
        connecting (it still says DISCONNECTED), but the user asked to connect and the tree
        says "Connecting…": so does this."""
        host = self._require(conn_id)
        if host.state is ConnState.DISCONNECTED and self.attempting(conn_id):
            return ConnState.CONNECTING, ""
        return host.state, host.reason

    def attempting(self, conn_id: str) -> bool:
        """A connect the user (or the start-up) asked for has not ended yet."""
        task = self._tasks.get(conn_id)
        return task is not None and not task.done()

    async def wait_attempt(self, conn_id: str, timeout: float) -> tuple[ConnState, str]:
        """Waits (at most ``timeout`` s) for the connect under way to end, host-key check
        and credential prompts included; then the state. A connection lost and being
        retried by the host itself counts as ended: RECONNECTING."""
        task = self._tasks.get(conn_id)
        if task is not None and not task.done():
            await asyncio.wait({task}, timeout=timeout)
        return self.state(conn_id) if conn_id in self._hosts else (
            ConnState.DISCONNECTED, "The server was removed.")

    def hosts(self) -> dict[str, LibvirtHost]:
        """The libvirt connections (XenAPI pools: ``servers``)."""
        return {c: h for c, h in self._hosts.items() if isinstance(h, LibvirtHost)}

    def servers(self) -> dict[str, Server]:
        return dict(self._hosts)

    def conn_ids(self) -> list[str]:
        return list(self._hosts)

    def label(self, conn_id: str) -> str:
        """The server's name for messages: its host name once known."""
        host = self._hosts.get(conn_id)
        if host is not None and not host.is_demo and host.info is not None \
                and host.info.hostname:
            return host.info.hostname
        return self._names.get(conn_id, str(conn_id))

    # ================= changing =================

    async def disconnect_server(self, conn_id: str) -> None:
        """Closes the connection; the server stays in the tree, greyed, for Reconnect.
        (Not ``disconnect``: that is QObject's own, for signals.)"""
        host = self._require(conn_id)
        self._cancel_connect(conn_id)
        await host.disconnect()

    async def reconnect(self, conn_id: str) -> None:
        """Connects again (closing first if needed) and waits for the attempt to end;
        a failure is logged and leaves the server disconnected with the reason."""
        host = self._require(conn_id)
        self._cancel_connect(conn_id)
        if host.state is not ConnState.DISCONNECTED:
            await host.disconnect()
        if self._hosts.get(conn_id) is host:
            await asyncio.shield(self._start_connect(conn_id))

    async def remove(self, conn_id: str) -> None:
        """Forgets a server: out of the tree and the saved list, then disconnected."""
        host = self._hosts.pop(conn_id, None)
        if host is None:
            return
        self._names.pop(conn_id, None)
        self._cancel_connect(conn_id)
        self.inventory.remove_host(conn_id)
        self._forget(host.uri)
        self.connectionRemoved.emit(conn_id)
        self.events_log.add("info", CONNECTION, host.uri, "Server removed")
        try:
            await asyncio.wait_for(host.disconnect(), self.settings.call_timeout_s)
        except Exception:  # noqa: BLE001 - the server is gone from view either way
            log.debug("disconnecting removed %s failed", host.uri, exc_info=True)

    async def close_all(self) -> None:
        """Disconnects every host at once (leaving the program); keeps them saved."""
        for conn_id in list(self._tasks):
            self._cancel_connect(conn_id)
        hosts = list(self._hosts.values())
        results = await asyncio.gather(*(h.disconnect() for h in hosts),
                                       return_exceptions=True)
        for host, result in zip(hosts, results, strict=True):
            if isinstance(result, BaseException):
                log.debug("disconnecting %s failed: %r", host.uri, result)

    # ================= internals =================

    def _require(self, conn_id: str) -> Server:
        host = self._hosts.get(conn_id)
        if host is None:
            raise LookupError(f"no such connection: {conn_id}")
        return host

    def _start_connect(self, conn_id: str) -> asyncio.Task:
        """Every attempt runs as a task of its own, so ``attempting``/``wait_attempt`` see
        it whoever started it."""
        host = self._hosts[conn_id]
        task = asyncio.ensure_future(self._connect(conn_id, host))
        self._tasks[conn_id] = task
        task.add_done_callback(self._connect_done)
        return task

    def _connect_done(self, task: asyncio.Task) -> None:
        for conn_id, running in list(self._tasks.items()):
            if running is task:
                del self._tasks[conn_id]

    def _cancel_connect(self, conn_id: str) -> None:
        task = self._tasks.pop(conn_id, None)
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()

    async def _connect(self, conn_id: str, host: Server) -> None:
        self.events_log.add("info", CONNECTION, self.label(conn_id),
                            f"Connecting to {host.uri}")
        try:
            if self._connect_guard is not None:
                await self._guard(conn_id, host)
            await host.connect()
        except ConnectError as exc:
            if self._hosts.get(conn_id) is host:
                self.events_log.add("error", CONNECTION, self.label(conn_id),
                                    str(exc))
                if host.state is not ConnState.DISCONNECTED:
                    # The host always reports its failure; this only guards the tree.
                    self.inventory.apply(conn_id, HostStateChanged(
                        ConnState.DISCONNECTED, str(exc)))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a bug must not leave it "connecting"
            log.exception("connecting to %s failed", host.uri)
            self.events_log.add("error", CONNECTION, self.label(conn_id),
                                f"Could not connect: unexpected error: {exc}")
            self.inventory.apply(conn_id, HostStateChanged(ConnState.DISCONNECTED,
                                                           f"unexpected error: {exc}"))

    async def _guard(self, conn_id: str, host: Server) -> None:
        """Runs the connect guard; a refusal leaves the host disconnected with the reason."""
        # The tree says "Connecting…" from the click, not only once the key is checked.
        self.inventory.apply(conn_id, HostStateChanged(ConnState.CONNECTING))
        self.stateChanged.emit(conn_id)
        guard = self._connect_guard
        assert guard is not None
        try:
            await guard(host.uri)
        except ConnectError as exc:
            host.reason = str(exc)
            self.inventory.apply(conn_id, HostStateChanged(ConnState.DISCONNECTED, str(exc)))
            self.stateChanged.emit(conn_id)
            raise

    def _on_event(self, conn_id: str, event: HostEvent) -> None:
        """The host's listener (always on the loop thread)."""
        if conn_id not in self._hosts:
            return      # a removed server still saying goodbye
        if isinstance(event, ServerAlertsChanged):
            self.serverAlertsChanged.emit(conn_id, event)
            return
        self.inventory.apply(conn_id, event)
        if isinstance(event, HostStateChanged):
            self._log_state(conn_id, event)
            self.stateChanged.emit(conn_id)
        elif isinstance(event, HypervisorEvent):
            # The message names the object too: the Message column is what people scan.
            message = event.message
            if event.name and event.name not in message:
                message = f"{_KIND_WORDS.get(event.kind, '')}{event.name}: {message}"
            self._hypervisor_rows.record(conn_id, event,
                                         f"{self.label(conn_id)} » {event.name}", message)

    def _log_state(self, conn_id: str, event: HostStateChanged) -> None:
        source = self.label(conn_id)
        if event.state is ConnState.CONNECTED:
            what = event.host.hypervisor_label if event.host is not None else ""
            self.events_log.add("info", CONNECTION, source,
                                f"Connected ({what})" if what else "Connected")
        elif event.state is ConnState.RECONNECTING:
            self.events_log.add("warning", CONNECTION, source,
                                event.reason or "Connection lost; reconnecting")
        elif event.state is ConnState.DISCONNECTED and not event.reason:
            self.events_log.add("info", CONNECTION, source, "Disconnected")
        # DISCONNECTED with a reason is a failed connect: _connect logs it as an error.

    async def _ask_credentials(self, uri: str, requests: list[CredentialRequest]
                               ) -> list[str] | None:
        handler = self._auth_handler
        if handler is None:
            return None
        return await handler(uri, requests)

    def _remember(self, uri: str) -> None:
        uri = strip_password(uri)
        saved_list = self._saved_list()
        if any(saved.uri == uri for saved in saved_list):
            return
        saved_list.append(SavedConnection(uri))
        self._write_saved()

    def _forget(self, uri: str) -> None:
        uri = strip_password(uri)
        saved_list = self._saved_list()
        kept = [saved for saved in saved_list if saved.uri != uri]
        if len(kept) != len(saved_list):
            self._saved = kept
            self._write_saved()

    def _write_saved(self) -> None:
        try:
            self._store.save(self._saved_list())
        except OSError as exc:
            self.events_log.add("error", "application", "settings", write_failure(
                "the list of saved servers", self._store.path, exc))


class _Listener:
    """A host's listener that does not keep the manager alive.

    The manager owns its hosts; a host pointing straight back at the manager would make a
    reference cycle, and a cycle of Qt objects is freed by Python's cycle collector on
    whichever thread happens to run it, a libvirt worker thread included. Qt objects
    destroyed off their thread leave dangling timers behind (a crash later). A weak
    reference keeps the manager freed by plain reference counting, on its own thread.
    """

    def __init__(self, manager: ConnectionManager, conn_id: str) -> None:
        self._manager = weakref.ref(manager)
        self._conn_id = conn_id

    def __call__(self, event: HostEvent) -> None:
        manager = self._manager()
        if manager is not None:
            manager._on_event(self._conn_id, event)


class _Trust:
    """A pool's certificate question, holding the manager weakly (as _Listener)."""

    def __init__(self, manager: ConnectionManager, uri: str) -> None:
        self._manager = weakref.ref(manager)
        self._uri = uri

    async def __call__(self, shown: ServerCertificate) -> bool:
        manager = self._manager()
        return manager is not None and await manager._trust(self._uri, shown)


class _Auth:
    """The credential callback, holding the manager weakly for the same reason."""

    def __init__(self, manager: ConnectionManager) -> None:
        self._manager = weakref.ref(manager)

    async def __call__(self, uri: str, requests: list[CredentialRequest]
                       ) -> list[str] | None:
        manager = self._manager()
        if manager is None:
            return None
        return await manager._ask_credentials(uri, requests)
