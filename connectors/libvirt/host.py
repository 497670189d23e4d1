"""One libvirt host connection: a live, event-fed picture of the host and its VM actions.

The picture is fed by libvirt's events (through connectors.libvirt.eventloop, so every
callback arrives on the asyncio loop thread), never by polling. An event marks its object
dirty; one short-delayed refresh re-reads all dirty objects in the worker pool, so a storm
of events costs one pass and one ``InventoryChanged``.

Every blocking libvirt call runs in this host's own thread pool and is bounded by
``settings.call_timeout_s``: a dead host costs a stuck worker thread, never the UI. When
the connection drops (keepalive, libvirtd gone) the host reconnects with exponential
backoff until it succeeds or the user disconnects; the stuck pool is abandoned and a
fresh one serves the new connection.
"""
from __future__ import annotations

import asyncio
import logging
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Awaitable, Callable, Iterable, Sequence

import libvirt

from connectors.libvirt import eventloop, inventory_read, readers, wording
from connectors.libvirt.model import (ActionError, Change, ConnectError, ConnectionSettings,
                                      ConnState, CredentialRequest, CredentialType, HostEvent,
                                      HostInfo, HostStateChanged, HypervisorEvent,
                                      InventoryChanged, NetworkInfo, ObjectKind, PoolInfo,
                                      VMAction, VMInfo)
from connectors.libvirt.uri import libvirt_uri, validate_uri

log = logging.getLogger(__name__)

# An in-process driver (libvirt's test driver: the demo, the scale benchmark) builds its
# whole host in this process when opened, CPU work that gains nothing from running more at
# once than there are cores: with twenty at once every host finished last, together, and
# only then could the first be read. A few at a time, the first hosts are read and shown
# while the others still open.
_IN_PROCESS_OPENS = threading.BoundedSemaphore(max(1, os.cpu_count() or 1))

AuthCallback = Callable[[str, list[CredentialRequest]], Awaitable[list[str] | None]]
Listener = Callable[[HostEvent], None]

REFRESH_DELAY_S = 0.03      # gathers a burst of events into one refresh
AUTH_WAIT_S = 900.0         # how long libvirt's credential callback waits for the user
CHUNK = 25                  # objects one worker reads per job when a pass is split

_CREDENTIAL_TYPES = {
    libvirt.VIR_CRED_USERNAME: CredentialType.USERNAME,
    libvirt.VIR_CRED_AUTHNAME: CredentialType.AUTHNAME,
    libvirt.VIR_CRED_PASSPHRASE: CredentialType.PASSPHRASE,
    libvirt.VIR_CRED_ECHOPROMPT: CredentialType.ECHOPROMPT,
    libvirt.VIR_CRED_NOECHOPROMPT: CredentialType.NOECHOPROMPT,
    libvirt.VIR_CRED_REALM: CredentialType.REALM,
    libvirt.VIR_CRED_EXTERNAL: CredentialType.EXTERNAL,
}

_ACTION_VERBS = {
    VMAction.START: "start", VMAction.SHUTDOWN: "shut down", VMAction.REBOOT: "reboot",
    VMAction.FORCE_OFF: "force off", VMAction.RESET: "reset", VMAction.PAUSE: "pause",
    VMAction.RESUME: "resume", VMAction.MANAGED_SAVE: "suspend",
}

_UNDEFINE_FLAG_SETS = (
    libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
    | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM | libvirt.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA,
    libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
    | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM,
    libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA,
    libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE,
)
_UNSUPPORTED = (libvirt.VIR_ERR_NO_SUPPORT, libvirt.VIR_ERR_INVALID_ARG,
                libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED)


def _quiet_libvirt_errors() -> None:
    """libvirt prints every error to stderr by default; ours reach the user as exceptions."""
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)


def _run_action(dom: libvirt.virDomain, action: VMAction) -> None:
    if action is VMAction.START:
        dom.create()                       # restores a managed-save image by itself
    elif action is VMAction.SHUTDOWN:
        dom.shutdown()
    elif action is VMAction.REBOOT:
        dom.reboot(0)
    elif action is VMAction.FORCE_OFF:
        dom.destroy()
    elif action is VMAction.RESET:
        dom.reset(0)
    elif action is VMAction.PAUSE:
        dom.suspend()
    elif action is VMAction.RESUME:
        # "Resume" on a suspended-to-disk VM means restoring its managed save.
        if not dom.isActive() and dom.hasManagedSaveImage(0):
            dom.create()
        else:
            dom.resume()
    elif action is VMAction.MANAGED_SAVE:
        dom.managedSave(0)
    else:
        raise ValueError(f"unknown action {action!r}")


class LibvirtHost:
    """A connection to one libvirt URI; talks to its listener on the loop thread only."""

    def __init__(self, uri: str, listener: Listener, *, auth: AuthCallback | None = None,
                 settings: ConnectionSettings = ConnectionSettings(),
                 is_demo: bool = False) -> None:
        self.uri = uri
        self.listener = listener
        self.auth = auth
        self.settings = settings
        self.is_demo = is_demo
        self.state = ConnState.DISCONNECTED
        self.reason = ""
        self.info: HostInfo | None = None
        try:
            parsed = validate_uri(uri)
            self._driver, self._display = parsed.driver, parsed.display_name
            # libvirt's test driver runs in this process unless a transport or host sends
            # the URI to a libvirtd (test+unix:///..., test://host/...).
            self._in_process = (parsed.driver == "test" and not parsed.transport
                                and parsed.is_local)
        except ValueError:
            self._driver = uri.split(":", 1)[0].split("+", 1)[0].lower()
            self._display = uri
            self._in_process = False
        self._conn: libvirt.virConnect | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._generation = 0               # bumped per connection: old callbacks go quiet
        self._user_closed = True
        self._callback_ids: list[tuple[str, int]] = []
        self._vms: dict[str, VMInfo] = {}
        self._networks: dict[str, NetworkInfo] = {}
        self._pools: dict[str, PoolInfo] = {}
        self._dirty: dict[tuple[ObjectKind, str], None] = {}
        self._pending_events: list[HypervisorEvent] = []
        self._refresh_task: asyncio.Task | None = None
        self._reconnect_task: asyncio.Task | None = None
        self._connect_lock = asyncio.Lock()
        self._auth_activity = 0            # changes while the user answers a prompt
        self._auth_waiting = False
        self._auth_cancelled = False

    # ---- cached picture ----

    def vms(self) -> list[VMInfo]:
        return sorted(self._vms.values(), key=lambda v: v.name.lower())

    def vm(self, key: str) -> VMInfo | None:
        return self._vms.get(key)

    def networks(self) -> list[NetworkInfo]:
        return sorted(self._networks.values(), key=lambda n: n.name.lower())

    def pools(self) -> list[PoolInfo]:
        return sorted(self._pools.values(), key=lambda p: p.name.lower())

    # ---- for the statistics sampler ----

    @property
    def generation(self) -> int:
        """Changes with every (re)connection and disconnection: a sampler that saw another
        value must restart counting, as the counters may be from another libvirtd life."""
        return self._generation

    def sampling_handle(self) -> tuple[libvirt.virConnect, ThreadPoolExecutor, int] | None:
        """(open connection, this host's worker pool, generation) for a caller that runs
        its own blocking calls in the host's pool (the performance sampler: one bulk call
        per tick); None unless connected. The caller must never close the connection."""
        if (self.state is not ConnState.CONNECTED or self._conn is None
                or self._executor is None):
            return None
        return self._conn, self._executor, self._generation

    # ---- connecting ----

    async def connect(self) -> None:
        """One attempt to connect; raises ConnectError worded for the user."""
        async with self._connect_lock:
            if self.state is ConnState.CONNECTED:
                return
            self._loop = asyncio.get_running_loop()
            self._loop_thread = threading.get_ident()
            eventloop.register(self._loop)
            _quiet_libvirt_errors()
            try:
                validate_uri(self.uri)
            except ValueError as err:
                self._set_state(ConnState.DISCONNECTED, str(err))
                raise ConnectError(str(err)) from None
            self._stop_reconnecting()
            self._user_closed = False
            self._set_state(ConnState.CONNECTING)
            try:
                await self._open_and_load()
            except ConnectError as err:
                if not self._user_closed:
                    self._user_closed = True
                    self._set_state(ConnState.DISCONNECTED, str(err))
                raise
            except asyncio.CancelledError:
                # Whoever awaited us gave up: end as a plain disconnected host.
                self._user_closed = True
                self._generation += 1
                if self._conn is not None:
                    await self._drop(self._conn)
                self._set_state(ConnState.DISCONNECTED, "Connecting was cancelled.")
                raise

    async def disconnect(self) -> None:
        """Closes the connection at the user's request: no reconnecting afterwards."""
        self._user_closed = True
        self._generation += 1
        self._stop_reconnecting()
        self._cancel_refresh()
        conn, executor, ids = self._conn, self._executor, self._callback_ids
        self._conn, self._executor, self._callback_ids = None, None, []
        if conn is not None and executor is not None:
            loop = asyncio.get_running_loop()
            try:
                await asyncio.wait_for(
                    loop.run_in_executor(executor, _close_quietly, conn, ids),
                    self.settings.call_timeout_s)
            except (asyncio.TimeoutError, RuntimeError):
                log.warning("closing %s did not finish; the connection is abandoned", self.uri)
        if executor is not None:
            executor.shutdown(wait=False)
        self._vms.clear()
        self._networks.clear()
        self._pools.clear()
        self._dirty.clear()
        self._pending_events.clear()
        self._set_state(ConnState.DISCONNECTED)

    async def _open_and_load(self) -> None:
        """Open, subscribe to events, read everything, then announce the full picture."""
        self._generation += 1
        generation = self._generation
        self._dirty.clear()             # the snapshot about to be read supersedes these
        self._pending_events.clear()
        self._new_executor()
        conn = await self._open()
        self._check_current(generation, conn)
        self._conn = conn
        try:
            self._callback_ids = await self._call(self._subscribe, conn, generation)
            self._check_current(generation)
            vms, networks, pools = await self._read_everything(conn)
            self._check_current(generation)
            info = await self._call(readers.read_host, conn, self.uri, self._driver,
                                    self.is_demo)
            self._check_current(generation)
        except ConnectError:
            raise
        except (libvirt.libvirtError, asyncio.TimeoutError) as err:
            await self._drop(conn)
            raise ConnectError(self._failure(err, "reading its inventory")) from None
        self._vms = {v.key: v for v in vms}
        self._networks = {n.key: n for n in networks}
        self._pools = {p.key: p for p in pools}
        self.info = info
        changes = ([Change(ObjectKind.VM, v.key, v) for v in vms]
                   + [Change(ObjectKind.NETWORK, n.key, n) for n in networks]
                   + [Change(ObjectKind.POOL, p.key, p) for p in pools])
        self._emit(InventoryChanged(tuple(changes), full=True))
        self._set_state(ConnState.CONNECTED, host=info)
        if self._dirty:  # events that came in while the snapshot was being read
            self._schedule_refresh()

    def _check_current(self, generation: int, conn: libvirt.virConnect | None = None) -> None:
        if generation != self._generation or self._user_closed:
            if conn is not None:  # opened after all, but nobody wants it any more
                threading.Thread(target=_close_quietly, args=(conn, []), daemon=True,
                                 name="libvirt-close").start()
            raise ConnectError(f"Connecting to {self._display} was cancelled.")

    async def _open(self) -> libvirt.virConnect:
        """libvirt.openAuth in a worker; the call timeout pauses while the user answers."""
        loop = asyncio.get_running_loop()
        self._auth_cancelled = False
        future = loop.run_in_executor(self._executor, self._open_blocking, loop)
        # If we stop waiting, the worker's late failure must not be logged as unretrieved.
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        timeout = self.settings.call_timeout_s
        seen_activity = self._auth_activity
        while True:
            done, _ = await asyncio.wait({future}, timeout=timeout)
            if done:
                break
            if self._auth_waiting or self._auth_activity != seen_activity:
                seen_activity = self._auth_activity
                continue
            raise ConnectError(f"{self._display} did not answer within {timeout:g} s. "
                               "Check that the host is up and reachable.")
        try:
            return future.result()
        except libvirt.libvirtError as err:
            if self._auth_cancelled:
                raise ConnectError(f"Connecting to {self._display} was cancelled: no "
                                   "credentials were given.") from None
            raise ConnectError(f"Could not connect to {self._display}: "
                               f"{readers.error_text(err)}") from None

    def _credential_callback(self, loop: asyncio.AbstractEventLoop):
        """libvirt's credential callback. libvirt calls it inside openAuth, in the worker
        thread; it waits there for the async ``auth`` callback, which runs on the loop
        (where dialogs live). Returns -1 (libvirt's "failed") when the user cancels."""
        def ask(credentials: list[list], _opaque) -> int:
            if self.auth is None:
                return -1
            requests = [CredentialRequest(_CREDENTIAL_TYPES.get(c[0], CredentialType.ECHOPROMPT),
                                          c[1] or "", c[2] or "", c[3] or "")
                        for c in credentials]
            self._auth_waiting = True
            self._auth_activity += 1
            try:
                answers = asyncio.run_coroutine_threadsafe(
                    self.auth(self.uri, requests), loop).result(AUTH_WAIT_S)
            except Exception:
                log.exception("asking for credentials for %s failed", self.uri)
                answers = None
            finally:
                self._auth_waiting = False
                self._auth_activity += 1
            if answers is None or len(answers) < len(credentials):
                self._auth_cancelled = True
                return -1
            for credential, answer in zip(credentials, answers):
                credential[4] = answer
            return 0

        return ask

    def _open_blocking(self, loop: asyncio.AbstractEventLoop) -> libvirt.virConnect:
        ask = self._credential_callback(loop)
        auth = [list(_CREDENTIAL_TYPES), ask, None]
        if self._in_process:
            with _IN_PROCESS_OPENS:
                return libvirt.openAuth(libvirt_uri(self.uri), auth, 0)
        return libvirt.openAuth(libvirt_uri(self.uri), auth, 0)

    def _subscribe(self, conn: libvirt.virConnect, generation: int) -> list[tuple[str, int]]:
        """Keepalive, close callback and event callbacks (blocking; in a worker)."""
        if self._driver != "test":
            try:
                conn.setKeepAlive(self.settings.keepalive_interval_s,
                                  self.settings.keepalive_count)
            except libvirt.libvirtError as err:
                log.info("no keepalive on %s: %s", self.uri, readers.error_text(err))
        try:
            conn.registerCloseCallback(self._on_close, generation)
        except libvirt.libvirtError as err:
            log.info("no close callback on %s: %s", self.uri, readers.error_text(err))
        ids: list[tuple[str, int]] = []
        wanted = (
            ("domain", libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._on_domain_lifecycle),
            ("domain", libvirt.VIR_DOMAIN_EVENT_ID_REBOOT, self._on_domain_reboot),
            ("domain", libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_ADDED, self._on_device_added),
            ("domain", libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED, self._on_device_removed),
            ("domain", libvirt.VIR_DOMAIN_EVENT_ID_METADATA_CHANGE, self._on_metadata),
            ("network", libvirt.VIR_NETWORK_EVENT_ID_LIFECYCLE, self._on_network_lifecycle),
            ("pool", libvirt.VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE, self._on_pool_lifecycle),
            ("pool", libvirt.VIR_STORAGE_POOL_EVENT_ID_REFRESH, self._on_pool_refresh),
        )
        for family, event_id, callback in wanted:
            register = {"domain": conn.domainEventRegisterAny,
                        "network": conn.networkEventRegisterAny,
                        "pool": conn.storagePoolEventRegisterAny}[family]
            try:
                ids.append((family, register(None, event_id, callback, generation)))
            except libvirt.libvirtError as err:
                log.info("%s cannot report %s event %d: %s", self.uri, family, event_id,
                         readers.error_text(err))
        return ids

    # ---- reading ----

    async def _read_everything(self, conn: libvirt.virConnect):
        # One job: the libvirt objects are made and dropped in the worker, never here.
        # The test driver answers in this process, with no wire to wait on.
        inventory = await self._call(inventory_read.read_inventory, conn, self._driver,
                                     self.settings.workers, self._in_process)
        return inventory.vms, inventory.networks, inventory.pools

    async def _in_chunks(self, fn: Callable[[Sequence], list], items: Sequence) -> list:
        """fn over items, split across the worker pool when there are many."""
        if len(items) <= CHUNK:
            return await self._call(fn, items) if items else []
        parts = max(1, min(self.settings.workers, math.ceil(len(items) / CHUNK)))
        size = math.ceil(len(items) / parts)
        results = await asyncio.gather(*(self._call(fn, items[i:i + size])
                                         for i in range(0, len(items), size)))
        return [obj for part in results for obj in part]

    def _read_objects(self, conn: libvirt.virConnect,
                      items: Sequence[tuple[ObjectKind, str]]) -> list[Change]:
        """Re-reads objects by key; a vanished one becomes a Change with obj=None."""
        changes = []
        for kind, key in items:
            try:
                if kind is ObjectKind.VM:
                    obj = readers.read_vm(conn.lookupByUUIDString(key), self._driver)
                elif kind is ObjectKind.NETWORK:
                    obj = readers.read_network(conn.networkLookupByUUIDString(key))
                else:
                    obj = readers.read_pool(conn.storagePoolLookupByUUIDString(key))
            except libvirt.libvirtError as err:
                if not readers.is_missing(err):
                    log.warning("could not re-read %s %s on %s: %s", kind.value, key,
                                self.uri, readers.error_text(err))
                    continue
                obj = None
            changes.append(Change(kind, key, obj))
        return changes

    async def _read_changes(self, items: Sequence[tuple[ObjectKind, str]]) -> list[Change]:
        conn = self._conn
        if conn is None:
            return []
        changes = await self._in_chunks(lambda part: self._read_objects(conn, part),
                                        list(items))
        if conn is not self._conn:
            return []
        for change in changes:
            table = {ObjectKind.VM: self._vms, ObjectKind.NETWORK: self._networks,
                     ObjectKind.POOL: self._pools}[change.kind]
            if change.obj is None:
                table.pop(change.key, None)
            else:
                table[change.key] = change.obj
        return changes

    async def _refresh_now(self, items: Iterable[tuple[ObjectKind, str]]) -> None:
        """Re-read these objects at once and announce them (after an action of ours)."""
        try:
            changes = await self._read_changes(list(items))
        except (libvirt.libvirtError, asyncio.TimeoutError, ConnectError) as err:
            log.warning("refresh after an action on %s failed: %s", self.uri, err)
            return
        if changes and self.state is ConnState.CONNECTED:
            self._emit(InventoryChanged(tuple(changes)))

    # ---- events (loop thread) ----

    def _on_domain_lifecycle(self, _conn, dom, event: int, detail: int, generation) -> None:
        message, severity = wording.domain_lifecycle(event, detail)
        self._note(generation, ObjectKind.VM, dom.UUIDString(), dom.name(), message, severity)

    def _on_domain_reboot(self, _conn, dom, generation) -> None:
        self._note(generation, ObjectKind.VM, dom.UUIDString(), dom.name(), "Rebooted")

    def _on_device_added(self, _conn, dom, alias: str, generation) -> None:
        self._note(generation, ObjectKind.VM, dom.UUIDString(), dom.name(),
                   f"Device {alias} added")

    def _on_device_removed(self, _conn, dom, alias: str, generation) -> None:
        self._note(generation, ObjectKind.VM, dom.UUIDString(), dom.name(),
                   f"Device {alias} removed")

    def _on_metadata(self, _conn, dom, mtype: int, _nsuri, generation) -> None:
        what = {0: "Description", 1: "Title"}.get(mtype, "Metadata")
        self._note(generation, ObjectKind.VM, dom.UUIDString(), dom.name(), f"{what} changed")

    def _on_network_lifecycle(self, _conn, net, event: int, _detail, generation) -> None:
        self._note(generation, ObjectKind.NETWORK, net.UUIDString(), net.name(),
                   wording.network_lifecycle(net.name(), event))

    def _on_pool_lifecycle(self, _conn, pool, event: int, _detail, generation) -> None:
        self._note(generation, ObjectKind.POOL, pool.UUIDString(), pool.name(),
                   wording.pool_lifecycle(pool.name(), event))

    def _on_pool_refresh(self, _conn, pool, generation) -> None:
        self._note(generation, ObjectKind.POOL, pool.UUIDString(), pool.name(),
                   f"Storage pool {pool.name()} refreshed")

    def _note(self, generation, kind: ObjectKind, key: str, name: str, message: str,
              severity: str = "info") -> None:
        if generation != self._generation or self._loop is None:
            return
        if threading.get_ident() != self._loop_thread:
            # libvirt dispatches events from its event loop, i.e. ours; stay safe anyway.
            self._loop.call_soon_threadsafe(self._note, generation, kind, key, name,
                                            message, severity)
            return
        self._dirty[(kind, key)] = None
        self._pending_events.append(HypervisorEvent(kind, key, name, message, severity))
        self._schedule_refresh()

    def _schedule_refresh(self) -> None:
        if self.state is not ConnState.CONNECTED or self._loop is None:
            return  # _open_and_load flushes what piled up once it has announced CONNECTED
        if self._refresh_task is None or self._refresh_task.done():
            self._refresh_task = self._loop.create_task(self._refresh_dirty(self._generation))

    async def _refresh_dirty(self, generation: int) -> None:
        await asyncio.sleep(REFRESH_DELAY_S)
        while self._dirty and generation == self._generation:
            items = list(self._dirty)
            self._dirty.clear()
            events, self._pending_events = self._pending_events, []
            try:
                changes = await self._read_changes(items)
            except (libvirt.libvirtError, asyncio.TimeoutError, ConnectError) as err:
                log.warning("refreshing %d objects on %s failed: %s", len(items), self.uri,
                            err)
                changes = []
            if generation != self._generation:
                return
            if changes:
                self._emit(InventoryChanged(tuple(changes)))
            for event in events:
                self._emit(event)

    def _cancel_refresh(self) -> None:
        if self._refresh_task is not None and not self._refresh_task.done():
            self._refresh_task.cancel()
        self._refresh_task = None

    # ---- losing the connection ----

    def _on_close(self, _conn, reason: int, generation) -> None:
        # libvirt calls this from whichever thread noticed the loss: often a worker whose
        # RPC was waiting on the dead socket, not the loop. Hop to the loop thread (which
        # also leaves libvirt's callback before anything is closed).
        if generation != self._generation or self._user_closed or self._loop is None:
            return
        try:
            self._loop.call_soon_threadsafe(self._lost, generation,
                                            wording.close_reason(reason))
        except RuntimeError:  # the loop is closed: the application is exiting
            pass

    def _lost(self, generation: int, why: str) -> None:
        if generation != self._generation or self._user_closed:
            return
        self._generation += 1
        self._cancel_refresh()
        conn, executor, ids = self._conn, self._executor, self._callback_ids
        self._conn, self._executor, self._callback_ids = None, None, []
        if executor is not None:
            if conn is not None:
                executor.submit(_close_quietly, conn, ids)
            executor.shutdown(wait=False)   # its threads may be stuck on the dead host
        reason = f"Lost the connection: {why}."
        self._set_state(ConnState.RECONNECTING, reason)
        self._reconnect_task = self._loop.create_task(self._reconnect(reason))

    async def _reconnect(self, reason: str) -> None:
        delay = self.settings.reconnect_initial_s
        while not self._user_closed:
            await asyncio.sleep(delay)
            if self._user_closed:
                return
            try:
                async with self._connect_lock:
                    await self._open_and_load()
                return
            except ConnectError as err:
                delay = min(delay * 2, self.settings.reconnect_max_s)
                if not self._user_closed:
                    self._set_state(ConnState.RECONNECTING,
                                    f"{reason} Retrying in {delay:g} s: {err}")

    def _stop_reconnecting(self) -> None:
        task = self._reconnect_task
        self._reconnect_task = None
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()

    async def _drop(self, conn: libvirt.virConnect) -> None:
        ids, self._callback_ids = self._callback_ids, []
        if self._conn is conn:
            self._conn = None
        if self._executor is not None:
            self._executor.submit(_close_quietly, conn, ids)

    # ---- actions ----

    async def vm_action(self, key: str, action: VMAction) -> None:
        """One lifecycle call; raises ActionError with libvirt's reason in plain words."""
        conn = self._require_connection()
        name = self._name_of(key)
        verb = _ACTION_VERBS[action]

        def run() -> None:
            _run_action(conn.lookupByUUIDString(key), action)

        await self._call_as_action(run, f"Could not {verb} {name}",
                                   f"while asked to {verb} {name}")
        await self._refresh_now([(ObjectKind.VM, key)])

    async def _call_as_action(self, run, failed: str, doing: str) -> None:
        """Runs a user's action in the pool; every way it can fail becomes one ActionError
        in plain words ("Could not start web-01: ...")."""
        try:
            await self._call(run)
        except ConnectError as err:
            raise ActionError(str(err)) from None
        except libvirt.libvirtError as err:
            raise ActionError(f"{failed}: {readers.error_text(err)}") from None
        except asyncio.TimeoutError:
            raise ActionError(f"{self._display} did not answer within "
                              f"{self.settings.call_timeout_s:g} s {doing}; "
                              "it may still happen.") from None

    async def delete_vm(self, key: str, delete_storage: bool) -> list[str]:
        """Stops and undefines a VM, optionally deleting its disk volumes.

        Returns warnings for what could not be removed (a disk outside any storage pool
        stays where it is: it may be shared, and libvirt cannot delete it)."""
        conn = self._require_connection()
        name = self._name_of(key)
        warnings: list[str] = []
        touched_pools: set[str] = set()

        def run() -> None:
            dom = conn.lookupByUUIDString(key)
            info = readers.read_vm(dom, self._driver)
            if dom.isActive():
                dom.destroy()
            if not info.persistent:
                pass  # a transient domain is gone once destroyed
            else:
                try:
                    if dom.hasManagedSaveImage(0):
                        dom.managedSaveRemove(0)
                except libvirt.libvirtError as err:
                    if readers.is_missing(err):
                        raise
                _undefine(dom)
            if delete_storage:
                for disk in info.disks:
                    if disk.device != "disk" or disk.readonly or not disk.source:
                        continue
                    warning = _delete_volume(conn, disk.source, touched_pools)
                    if warning:
                        warnings.append(warning)

        await self._call_as_action(run, f"Could not delete {name}", f"while deleting {name}")
        await self._refresh_now([(ObjectKind.VM, key)]
                                + [(ObjectKind.POOL, p) for p in sorted(touched_pools)])
        return warnings

    async def domain_xml(self, key: str, secure: bool = False) -> str:
        """The domain's XML; ``secure`` includes secrets such as the console password
        (libvirt refuses it on a read-only connection: ActionError)."""
        flags = libvirt.VIR_DOMAIN_XML_SECURE if secure else 0
        return await self._domain_call(key, "read the definition of",
                                       lambda dom: dom.XMLDesc(flags))

    async def open_graphics_fd(self, key: str, index: int = 0) -> int:
        """A connected socket to the VM's ``index``-th graphics device (libvirt's
        virDomainOpenGraphicsFD: local connections only). The server skips its password
        check: the libvirt connection is the authority. The caller owns the fd."""
        flags = libvirt.VIR_DOMAIN_OPEN_GRAPHICS_SKIPAUTH
        return await self._domain_call(key, "open the console of",
                                       lambda dom: dom.openGraphicsFD(index, flags))

    async def _domain_call(self, key: str, doing: str, fn: Callable):
        """fn(domain) in the worker pool; every failure an ActionError in plain words."""
        conn = self._require_connection()
        try:
            return await self._call(lambda: fn(conn.lookupByUUIDString(key)))
        except ConnectError as err:
            raise ActionError(str(err)) from None
        except libvirt.libvirtError as err:
            raise ActionError(f"Could not {doing} {self._name_of(key)}: "
                              f"{readers.error_text(err)}") from None
        except asyncio.TimeoutError:
            raise ActionError(f"{self._display} did not answer within "
                              f"{self.settings.call_timeout_s:g} s.") from None

    # ---- plumbing ----

    def _require_connection(self) -> libvirt.virConnect:
        if self._conn is None or self.state is not ConnState.CONNECTED:
            raise ActionError(f"Not connected to {self._display}.")
        return self._conn

    def _name_of(self, key: str) -> str:
        vm = self._vms.get(key)
        return vm.name if vm else key

    def _new_executor(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False)
        self._executor = ThreadPoolExecutor(max_workers=max(1, self.settings.workers),
                                            thread_name_prefix=f"libvirt-{self._display}")

    async def _call(self, fn: Callable, *args):
        """fn(*args) in this host's worker pool, bounded by the call timeout."""
        if self._executor is None:
            raise ConnectError(f"Not connected to {self._display}.")
        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(loop.run_in_executor(self._executor, fn, *args),
                                      self.settings.call_timeout_s)

    def _failure(self, err: BaseException, doing: str) -> str:
        if isinstance(err, asyncio.TimeoutError):
            return (f"{self._display} did not answer within "
                    f"{self.settings.call_timeout_s:g} s while {doing}.")
        return f"Could not connect to {self._display} ({doing}): {readers.error_text(err)}"

    def _set_state(self, state: ConnState, reason: str = "", host: HostInfo | None = None):
        self.state = state
        self.reason = reason
        self._emit(HostStateChanged(state, reason, host))

    def _emit(self, event: HostEvent) -> None:
        try:
            self.listener(event)
        except Exception:
            log.exception("host listener failed on %s", type(event).__name__)

    def __repr__(self) -> str:
        return f"<LibvirtHost {self.uri} {self.state.value}>"


def _undefine(dom: libvirt.virDomain) -> None:
    for flags in _UNDEFINE_FLAG_SETS:
        try:
            dom.undefineFlags(flags)
            return
        except libvirt.libvirtError as err:
            if err.get_error_code() not in _UNSUPPORTED:
                raise
    dom.undefine()


def _delete_volume(conn: libvirt.virConnect, source: str, touched_pools: set[str]) -> str:
    """Deletes the volume behind a disk source; returns a warning, or "" when done."""
    try:
        if source.startswith("/"):
            volume = conn.storageVolLookupByPath(source)
        else:
            pool_name, _, volume_name = source.partition("/")
            volume = conn.storagePoolLookupByName(pool_name).storageVolLookupByName(
                volume_name)
    except libvirt.libvirtError:
        return (f"{source} is not in a storage pool, so it was left in place; "
                "delete it by hand if nothing else uses it.")
    try:
        pool = volume.storagePoolLookupByVolume()
        touched_pools.add(pool.UUIDString())
    except libvirt.libvirtError:
        pass
    try:
        volume.delete(0)
    except libvirt.libvirtError as err:
        return f"Could not delete {source}: {readers.error_text(err)}"
    return ""


def _close_quietly(conn: libvirt.virConnect, ids: list[tuple[str, int]]) -> None:
    deregister = {"domain": conn.domainEventDeregisterAny,
                  "network": conn.networkEventDeregisterAny,
                  "pool": conn.storagePoolEventDeregisterAny}
    for family, callback_id in ids:
        try:
            deregister[family](callback_id)
        except libvirt.libvirtError:
            pass
    try:
        conn.unregisterCloseCallback()
    except libvirt.libvirtError:
        pass
    try:
        conn.close()
    except libvirt.libvirtError:
        pass


__all__ = ["AuthCallback", "LibvirtHost", "Listener"]
