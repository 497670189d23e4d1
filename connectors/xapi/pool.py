"""``XapiPool``: one connection to a XenServer / XCP-ng pool, feeding its listener the same
events a LibvirtHost does (HostStateChanged, InventoryChanged, HypervisorEvent).

Why JSON-RPC over the standard library (http.client + ssl) in worker threads, and not
the ``XenAPI`` package from PyPI: XenAPI.py is a thin xmlrpc.client wrapper that hides
the certificate (no way to pin a fingerprint short of replacing its transport) and the
XAPI error structure behind a generic Failure; JSON-RPC payloads are parsed by json's C
code, faster than XML-RPC on a 5,000-VM event batch; and it needs no new dependency.
XAPI calls block (an HTTPS round trip; event.from waits up to 30 s), so they run in
threads: a pool of workers for commands, and a thread of its own for the event loop,
each with its own socket (session.Session).

Live picture: one ``event.from`` loop (token, 30 s timeout, cache.CLASSES). The first
call, with an empty token, returns every object: that is the full snapshot
(InventoryChanged(full=True)). Each later batch goes through the PoolCache into the tree's
changes; nothing is polled. Tasks and messages come through the same stream: a command's
task is followed by its events (progress, status); XAPI's messages are the pool's own
alerts (ServerAlertsChanged: listed in Alerts until dismissed with message.destroy), and
a new one is also a HypervisorEvent for the Events log.

Losing the master (an error from the event loop's socket) sets RECONNECTING and tries,
with backoff, the last master, then every other member: a member that is no longer the
master answers HOST_IS_SLAVE with the new master's address, which the session follows.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from connectors.libvirt.model import (ActionError, Change, ConnectError, ConnectionSettings,
                                      ConnState, CredentialRequest, CredentialType,
                                      HostEvent, HostInfo, HostStateChanged,
                                      InventoryChanged, NetworkInfo,
                                      ObjectKind, PoolInfo, ServerInfo, VMAction, VMInfo,
                                      VMState)
from connectors.xapi import tls, wire
from connectors.xapi.cache import CLASSES, PoolCache, XapiEvent, parse_events
from connectors.xapi.session import PinBook, Session, UntrustedCertificate, split_address
from connectors.xapi.console import ConsoleTarget
from connectors.xapi.lookups import disk_vdis, rfb_console
from connectors.xapi.pool_alerts import PoolAlerts
from connectors.xapi.task_watches import Progress, TaskWatch, TaskWatches
from connectors.xapi.uri import XapiURI, parse
from connectors.xapi.vm_calls import call_for

log = logging.getLogger(__name__)

T = TypeVar("T")
Listener = Callable[[HostEvent], None]
AuthCallback = Callable[[str, list[CredentialRequest]], Awaitable[list[str] | None]]
# ``await trust(shown)``: True when the user trusts a certificate shown on first contact.
TrustCallback = Callable[[tls.ServerCertificate], Awaitable[bool]]

EVENT_TIMEOUT_S = 30.0

@dataclass
class _Published:
    vms: dict[str, VMInfo] = field(default_factory=dict)
    servers: dict[str, ServerInfo] = field(default_factory=dict)
    networks: dict[str, NetworkInfo] = field(default_factory=dict)
    srs: dict[str, PoolInfo] = field(default_factory=dict)

    def apply(self, changes: list[Change], full: bool = False) -> None:
        tables: dict[ObjectKind, dict[str, Any]] = {
            ObjectKind.VM: self.vms, ObjectKind.SERVER: self.servers,
            ObjectKind.NETWORK: self.networks, ObjectKind.POOL: self.srs}
        if full:
            for table in tables.values():
                table.clear()
        for change in changes:
            if change.obj is None:
                tables[change.kind].pop(change.key, None)
            else:
                tables[change.kind][change.key] = change.obj


class XapiPool:
    """A XenAPI pool; talks to its listener on the loop thread only."""

    is_demo = False

    def __init__(self, uri: str, listener: Listener, *, auth: AuthCallback | None = None,
                 trust: TrustCallback | None = None, pins: PinBook | None = None,
                 settings: ConnectionSettings | None = None) -> None:
        self.target: XapiURI = parse(uri)
        self.uri = self.target.uri
        self.listener = listener
        self.auth = auth
        self.trust = trust
        self.settings = settings if settings is not None else ConnectionSettings()
        self.pins = pins if pins is not None else PinBook()
        if self.target.fingerprint:
            self.pins.set(self.target.host, self.target.port, self.target.fingerprint)
        self.state = ConnState.DISCONNECTED
        self.reason = ""
        self.info: HostInfo | None = None
        self.session: Session | None = None
        self._cache = PoolCache(self.uri)
        self._published = _Published()
        self._workers: ThreadPoolExecutor | None = None
        self._events: ThreadPoolExecutor | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._reconnect_task: asyncio.Task[None] | None = None
        self._user_closed = True
        self._generation = 0
        self._tasks = TaskWatches()
        self._alerts = PoolAlerts(self._emit, self._object_name)
        self._connect_lock = asyncio.Lock()

    # ---- cached picture ----

    def vms(self) -> list[VMInfo]:
        return sorted(self._published.vms.values(), key=lambda v: v.name.lower())

    def vm(self, key: str) -> VMInfo | None:
        return self._published.vms.get(key)

    def servers(self) -> list[ServerInfo]:
        return sorted(self._published.servers.values(), key=lambda s: s.name.lower())

    def server(self, key: str) -> ServerInfo | None:
        return self._published.servers.get(key)

    def networks(self) -> list[NetworkInfo]:
        return sorted(self._published.networks.values(), key=lambda n: n.name.lower())

    def pools(self) -> list[PoolInfo]:
        return sorted(self._published.srs.values(), key=lambda p: p.name.lower())

    @property
    def generation(self) -> int:
        return self._generation

    # ---- connecting ----

    async def connect(self) -> None:
        """One attempt to connect; raises ConnectError worded for the user."""
        async with self._connect_lock:
            if self.state is ConnState.CONNECTED:
                return
            self._stop_reconnecting()
            self._user_closed = False
            self._set_state(ConnState.CONNECTING)
            try:
                password = await self._credentials()
                await self._open(password)
            except ConnectError as err:
                self._user_closed = True
                self._close_threads()
                self._set_state(ConnState.DISCONNECTED, str(err))
                raise
            except asyncio.CancelledError:
                self._user_closed = True
                self._close_threads()
                self._set_state(ConnState.DISCONNECTED, "Connecting was cancelled.")
                raise

    async def _credentials(self) -> tuple[str, str]:
        if self.auth is None:
            raise ConnectError(f"{self.target.address} needs a user name and password, "
                               "and nothing can ask for them")
        requests = [CredentialRequest(CredentialType.AUTHNAME, "User name",
                                      default=self.target.user or "root"),
                    CredentialRequest(CredentialType.PASSPHRASE, "Password")]
        answer = await self.auth(self.uri, requests)
        if answer is None or len(answer) < 2:
            raise ConnectError("Not connected: no password was given.")
        return answer[0] or self.target.user or "root", answer[1]

    async def _open(self, credentials: tuple[str, str]) -> None:
        """Logs in (asking about an untrusted certificate), then loads everything."""
        self._generation += 1
        generation = self._generation
        self._close_threads()
        self._workers = ThreadPoolExecutor(self.settings.workers,
                                           thread_name_prefix="xapi-worker")
        self._events = ThreadPoolExecutor(1, thread_name_prefix="xapi-events")
        session = Session(self.target.host, self.target.port, credentials[0],
                          credentials[1], self.pins)
        self.session = session
        await self._login(session)
        batch = await self._in_events(session.call, "event.from", list(CLASSES), "",
                                      0.0)
        self._check(generation)
        events, token = self._parse(batch)
        self._cache = PoolCache(self.uri)
        changes = self._cache.load(events)
        self._published.apply(changes, full=True)
        self.info = self._cache.pool_info()
        self._emit(InventoryChanged(tuple(changes), full=True))
        self._alerts.snapshot(self._cache.objects["message"])
        self._set_state(ConnState.CONNECTED, "", self.info)
        loop = asyncio.get_running_loop()
        self._loop_task = loop.create_task(self._event_loop(generation, session, token))

    async def _login(self, session: Session) -> None:
        """Logs in, asking the user about each certificate not trusted yet."""
        while True:
            try:
                await self._in_worker(session.login)
                return
            except UntrustedCertificate as untrusted:
                shown = untrusted.shown
                if self.trust is None or not await self.trust(shown):
                    raise ConnectError(f"Not connected: the certificate of {shown.address} "
                                       f"({shown.fingerprint}) was not trusted.") from None
                self.pins.set(session.host, session.port, shown.fingerprint)
            except tls.CertificateChanged as changed:
                raise ConnectError(str(changed)) from None
            except tls.CertificateError as err:
                raise ConnectError(f"Could not connect to {self.target.address}: {err}") \
                    from None
            except wire.XapiFailure as failure:
                if failure.code == "SESSION_AUTHENTICATION_FAILED":
                    raise ConnectError(f"Could not log in to {session.host}: authentication "
                                       f"failed: the user name or password was not "
                                       "accepted.") from None
                raise ConnectError(f"Could not log in to {session.host}: {failure}") \
                    from None
            except (OSError, wire.ProtocolError) as err:
                raise ConnectError(f"Could not connect to {session.host}:{session.port}: "
                                   f"{err}") from None

    async def disconnect(self) -> None:
        """Closes the connection at the user's request: no reconnecting afterwards."""
        self._user_closed = True
        self._generation += 1
        self._stop_reconnecting()
        task, self._loop_task = self._loop_task, None
        if task is not None:
            task.cancel()
        session = self.session
        if session is not None and self._workers is not None:
            try:
                await asyncio.wait_for(self._in_worker(session.logout), 5.0)
            except Exception:  # noqa: BLE001 - leaving anyway
                log.debug("logout from %s failed", self.uri, exc_info=True)
        self._close_threads()
        self._tasks.fail_all("the connection was closed")
        self._published.apply([], full=True)
        self._set_state(ConnState.DISCONNECTED)

    def _close_threads(self) -> None:
        session = self.session
        if session is not None:
            session.close_channels()
        for pool in (self._workers, self._events):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
        self._workers = self._events = None

    # ---- the event loop ----

    async def _event_loop(self, generation: int, session: Session, token: str) -> None:
        while generation == self._generation:
            try:
                batch = await self._in_events(session.call, "event.from", list(CLASSES),
                                              token, EVENT_TIMEOUT_S)
                events, token = self._parse(batch)
            except asyncio.CancelledError:
                raise
            except wire.XapiFailure as failure:
                if failure.code == "EVENTS_LOST":
                    await self._resync(generation, session)
                    return
                self._lost(generation, str(failure))
                return
            except (OSError, wire.ProtocolError, ConnectError,
                    tls.CertificateError, UntrustedCertificate) as err:
                self._lost(generation, str(err) or type(err).__name__)
                return
            if generation != self._generation:
                return
            self._apply(events)

    async def _resync(self, generation: int, session: Session) -> None:
        """XAPI dropped events for us (EVENTS_LOST): a full snapshot again, then on. The
        tree diffs it against its rows (kept rows keep their nodes, so the selection
        stays); a task being followed is read from the snapshot, since its end may be
        among the lost events; messages raised meanwhile are logged as new."""
        try:
            batch = await self._in_events(session.call, "event.from", list(CLASSES), "",
                                          0.0)
            events, token = self._parse(batch)
        except asyncio.CancelledError:
            raise
        except (wire.XapiFailure, OSError, wire.ProtocolError, ConnectError,
                tls.CertificateError, UntrustedCertificate) as err:
            self._lost(generation, str(err) or type(err).__name__)
            return
        if generation != self._generation:
            return
        self._cache = PoolCache(self.uri)
        changes = self._cache.load(events)
        self._published.apply(changes, full=True)
        self.info = self._cache.pool_info()
        self._emit(InventoryChanged(tuple(changes), full=True))
        self._alerts.snapshot(self._cache.objects["message"], announce=True)
        self._tasks.reread(lambda ref: self._cache.record("task", ref),
                           "the pool lost track of its events")
        loop = asyncio.get_running_loop()
        self._loop_task = loop.create_task(self._event_loop(generation, session, token))

    def _parse(self, batch: object) -> tuple[list[XapiEvent], str]:
        try:
            return parse_events(batch)
        except ValueError as err:
            raise wire.ProtocolError(str(err)) from None

    def _apply(self, events: list[XapiEvent]) -> None:
        changes = self._cache.apply(events)
        if changes:
            self._published.apply(changes)
            self._emit(InventoryChanged(tuple(changes)))
        for event in events:
            if event.cls == "task" and event.snapshot is not None:
                self._tasks.record(event.ref, event.snapshot)
        if any(e.cls in ("pool", "host", "host_metrics") for e in events):
            self.info = self._cache.pool_info()
        self._alerts.apply(events)

    # ---- XAPI's messages: the pool's own alerts ----

    def _object_name(self, kind: ObjectKind | None, key: str) -> str:
        tables: dict[ObjectKind, dict[str, Any]] = {
            ObjectKind.VM: self._published.vms, ObjectKind.SERVER: self._published.servers,
            ObjectKind.POOL: self._published.srs}
        if kind in tables:
            obj = tables[kind].get(key)
            return str(obj.name) if obj is not None else ""
        return self.info.hostname if self.info is not None else ""

    async def dismiss_alert(self, key: str) -> None:
        """XAPI's message.destroy for the message ``key`` (its UUID); the alert leaves the
        list when the pool's event says the message is gone. One already gone is done."""
        session = self._require()
        ref = self._cache.ref_of("message", key)
        if ref is None:
            return
        try:
            await self._in_worker(session.call, "message.destroy", ref)
        except wire.XapiFailure as failure:
            if failure.code == "HANDLE_INVALID":
                return
            raise ActionError(f"The pool did not dismiss the alert: {failure}") from None
        except (OSError, wire.ProtocolError) as err:
            raise ActionError(f"The pool did not dismiss the alert: {err}") from None

    def _lost(self, generation: int, why: str) -> None:
        if generation != self._generation or self._user_closed:
            return
        self._generation += 1
        self._tasks.fail_all(f"the connection to the pool was lost: {why}")
        reason = f"Lost the connection to the pool master: {why}"
        self._set_state(ConnState.RECONNECTING, reason)
        try:
            self._reconnect_task = asyncio.get_running_loop().create_task(
                self._reconnect(reason))
        except RuntimeError:    # the loop is gone: the application is exiting
            pass

    async def _reconnect(self, reason: str) -> None:
        session = self.session
        assert session is not None
        credentials = (session.user, session._password)
        # The last master first, then every member: one of them leads to the master now.
        addresses = [(session.host, session.port)]
        for ref in self._cache.objects["host"]:
            address = self._cache.host_address(ref)
            if address:
                candidate = split_address(address, session.port)
                if candidate not in addresses:
                    addresses.append(candidate)
        delay = self.settings.reconnect_initial_s
        attempt = 0
        while not self._user_closed:
            await asyncio.sleep(delay)
            if self._user_closed:
                return
            host, port = addresses[attempt % len(addresses)]
            attempt += 1
            self.target = self.target.at(host, port) if (host, port) != (
                self.target.host, self.target.port) else self.target
            try:
                async with self._connect_lock:
                    await self._open(credentials)
                return
            except ConnectError as err:
                if attempt % len(addresses) == 0:
                    delay = min(delay * 2, self.settings.reconnect_max_s)
                if not self._user_closed:
                    self._set_state(ConnState.RECONNECTING,
                                    f"{reason}. Retrying in {delay:g} s: {err}")

    def _stop_reconnecting(self) -> None:
        task, self._reconnect_task = self._reconnect_task, None
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()

    # ---- tasks ----

    async def run_task(self, method: str, *args: Any, progress: Progress | None = None,
                       failed: str = "The operation failed") -> Any:
        """Starts an Async.* call and follows its task to the end through the event
        stream; its result. Cancelling the awaiting coroutine cancels the XAPI task
        (task.cancel) and waits for XAPI to say it stopped. ActionError on failure."""
        session = self._require()
        try:
            ref = await self._in_worker(session.call, method, *args)
        except wire.XapiFailure as failure:
            raise ActionError(f"{failed}: {failure}") from None
        except (OSError, wire.ProtocolError) as err:
            raise ActionError(f"{failed}: {err}") from None
        if not isinstance(ref, str):
            raise ActionError(f"{failed}: the server did not start a task")
        watch = self._tasks.watch(ref, progress)
        try:
            # The task may have ended before the watch existed: ask once.
            record = await self._in_worker(session.call, "task.get_record", ref)
            self._tasks.record(ref, record)
            try:
                return await asyncio.shield(watch.future)
            except asyncio.CancelledError:
                await self._cancel_task(session, ref, watch)
                raise
        except wire.XapiFailure as failure:
            raise ActionError(f"{failed}: {failure}") from None
        finally:
            self._tasks.forget(ref)
            if self._workers is not None:
                self._workers.submit(_quietly, session.call, "task.destroy", ref)

    async def _cancel_task(self, session: Session, ref: str, watch: TaskWatch) -> None:
        try:
            await self._in_worker(session.call, "task.cancel", ref)
        except (wire.XapiFailure, OSError, wire.ProtocolError) as err:
            log.info("task.cancel %s: %s", ref, err)
            return
        try:
            await asyncio.wait_for(asyncio.shield(watch.future), self.settings.call_timeout_s)
        except (asyncio.TimeoutError, ActionError):
            pass

    # ---- commands ----

    async def vm_action(self, key: str, action: VMAction,
                        progress: Progress | None = None) -> None:
        vm = self._vm(key)
        method, _op, extra = call_for(vm, action)
        await self.run_task(method, self._ref("VM", key), *extra, progress=progress,
                            failed=f"Could not {action.value.replace('_', ' ')} {vm.name}")

    async def start_on(self, key: str, server_key: str,
                       progress: Progress | None = None) -> None:
        """Starts the VM on the chosen member."""
        vm = self._vm(key)
        server = self.server(server_key)
        where = server.name if server else server_key
        await self.run_task("Async.VM.start_on", self._ref("VM", key),
                            self._ref("host", server_key), False, False, progress=progress,
                            failed=f"Could not start {vm.name} on {where}")

    async def delete_vm(self, key: str, delete_storage: bool) -> list[str]:
        """Forces the VM off if it runs, destroys it and, if asked, its disks (not CDs);
        the disks that could not be destroyed, in sentences."""
        vm = self._vm(key)
        session = self._require()
        ref = self._ref("VM", key)
        if vm.state is not VMState.SHUTOFF:
            await self.run_task("Async.VM.hard_shutdown", ref,
                                failed=f"Could not force {vm.name} off")
        vdis = await self._in_worker(disk_vdis, session, ref) if delete_storage else []
        await self.run_task("Async.VM.destroy", ref, failed=f"Could not delete {vm.name}")
        warnings = []
        for vdi in vdis:
            try:
                await self._in_worker(session.call, "VDI.destroy", vdi)
            except (wire.XapiFailure, OSError, wire.ProtocolError) as err:
                warnings.append(f"The disk {vdi} of {vm.name} was not deleted: {err}")
        return warnings

    async def server_action(self, server_key: str, what: str,
                            progress: Progress | None = None) -> None:
        """A member host: "reboot", "shutdown" (both disable it first, as XAPI requires),
        "enter_maintenance" (disable + evacuate), "exit_maintenance" (enable)."""
        server = self.server(server_key)
        name = server.name if server else server_key
        ref = self._ref("host", server_key)
        session = self._require()
        try:
            if what in ("reboot", "shutdown", "enter_maintenance"):
                await self._in_worker(session.call, "host.disable", ref)
            if what == "enter_maintenance":
                await self.run_task("Async.host.evacuate", ref, progress=progress,
                                    failed=f"Could not move the VMs off {name}")
            elif what in ("reboot", "shutdown"):
                await self.run_task(f"Async.host.{what}", ref, progress=progress,
                                    failed=f"Could not {what} {name}")
            elif what == "exit_maintenance":
                await self._in_worker(session.call, "host.enable", ref)
            else:
                raise ValueError(what)
        except wire.XapiFailure as failure:
            raise ActionError(f"Could not {what.replace('_', ' ')} {name}: {failure}") \
                from None

    async def console_target(self, key: str) -> ConsoleTarget:
        """Where the VM's RFB console is now, with the session (ActionError: none)."""
        vm = self._vm(key)
        session = self._require()
        ref = self._ref("VM", key)

        try:
            return await self._in_worker(rfb_console, session, ref, self.pins.require,
                                         vm.name)
        except (wire.XapiFailure, OSError, wire.ProtocolError, UntrustedCertificate) as err:
            raise ActionError(f"Could not find the console of {vm.name}: {err}") from None

    async def fetch(self, path: str) -> bytes:
        """A GET on the master with the session (``/rrd_updates?…``)."""
        session = self._require()

        def get() -> bytes:
            ref = session.ref or session.login()
            sep = "&" if "?" in path else "?"
            return session.channel().get(f"{path}{sep}session_id={ref}")
        return await self._in_worker(get)

    # ---- plumbing ----

    def _require(self) -> Session:
        if self.state is not ConnState.CONNECTED or self.session is None:
            raise ActionError(f"{self.target.address} is not connected")
        return self.session

    def _vm(self, key: str) -> VMInfo:
        vm = self._published.vms.get(key)
        if vm is None:
            raise ActionError("The VM is no longer in the pool")
        return vm

    def _ref(self, cls: str, uuid: str) -> str:
        ref = self._cache.ref_of(cls, uuid)
        if ref is None:
            raise ActionError(f"No {cls} with UUID {uuid} in the pool")
        return ref

    def _check(self, generation: int) -> None:
        if generation != self._generation:
            raise ConnectError("Connecting was superseded.")

    async def _in_worker(self, fn: Callable[..., T], *args: Any) -> T:
        pool = self._workers
        if pool is None:
            raise ConnectError(f"{self.target.address} is not connected")
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)

    async def _in_events(self, fn: Callable[..., T], *args: Any) -> T:
        pool = self._events
        if pool is None:
            raise ConnectError(f"{self.target.address} is not connected")
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)

    def _set_state(self, state: ConnState, reason: str = "",
                   host: HostInfo | None = None) -> None:
        self.state = state
        self.reason = reason
        self._emit(HostStateChanged(state, reason, host))

    def _emit(self, event: HostEvent) -> None:
        try:
            self.listener(event)
        except Exception:
            log.exception("pool listener failed on %s", type(event).__name__)

    def __repr__(self) -> str:
        return f"<XapiPool {self.uri} {self.state.value}>"


def _quietly(fn: Callable[..., Any], *args: Any) -> None:
    try:
        fn(*args)
    except Exception:  # noqa: BLE001 - best effort (task.destroy)
        pass


__all__ = ["XapiPool"]
