"""One libvirt host connection: a live, event-fed picture of the host and its VM actions.

This module is the connection's lifecycle: connect (open, subscribe, read everything,
announce), disconnect at the user's request, and after a loss reconnect with exponential
backoff until it succeeds or the user disconnects. The parts live beside it: opening.py
(openAuth and credentials), subscription.py (keepalive, close callback, events),
link.py (one connection and its worker pool, bounded calls), live_inventory.py (the
records and their coalesced refreshes), polling.py (hosts whose driver sends no
lifecycle events), actions.py and delete.py (what the user does to a VM), migration*.py
(moving a VM to another host).

The picture is fed by libvirt's events (through connectors.libvirt.eventloop, so every
callback arrives on the asyncio loop thread); only for a driver that refuses lifecycle
events does the host poll, and then says so once in the Events log. Every blocking
libvirt call runs in this host's own thread pool and is bounded by
``settings.call_timeout_s``: a dead host costs a stuck worker thread, never the UI; the
stuck pool is abandoned and a fresh one serves the next connection.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import libvirt

from connectors.libvirt import (clone_ops, create_ops, early_open, eventloop, host_facts,
                                inventory_read, organize_ops, readers, wording)
from connectors.libvirt.actions import ACTIONS
from connectors.libvirt.answer_watch import watch_answers
from connectors.libvirt.delete import delete_domain
from connectors.libvirt.domxml.organize import OrgChange, Organization
from connectors.libvirt.host_networks import HostNetworks
from connectors.libvirt.host_storage import HostStorage
from connectors.libvirt.link import Link
from connectors.libvirt.live_inventory import LiveInventory
from connectors.libvirt.migration import JobProgress, Migration, MigrationOptions
from connectors.libvirt.migration_check import HostFacts as MigrationHostFacts
from connectors.libvirt.migration_check import VMFacts
from connectors.libvirt.migration_facts import read_host_facts, read_vm_facts
from connectors.libvirt.migration_run import MigrationOutcome, Names, run_migration
from connectors.libvirt.model import (ActionError, ConnectError, ConnectionSettings,
                                      ConnState, HostEvent, HostInfo, HostStateChanged,
                                      HypervisorEvent, InventoryChanged, NetworkInfo,
                                      ObjectKind, PoolInfo, VMAction, VMInfo)
from connectors.libvirt.opening import (AuthCallback, Opener, quiet_libvirt_errors,
                                        runs_in_process)
from connectors.libvirt.polling import Poller, describe
from connectors.libvirt.subscription import close_quietly, subscribe
from connectors.libvirt.uri import validate_uri

log = logging.getLogger(__name__)

Listener = Callable[[HostEvent], None]
T = TypeVar("T")


class LibvirtHost:
    """A connection to one libvirt URI; talks to its listener on the loop thread only."""

    def __init__(self, uri: str, listener: Listener, *, auth: AuthCallback | None = None,
                 settings: ConnectionSettings | None = None, is_demo: bool = False) -> None:
        self.uri = uri
        self.listener = listener
        self.settings = settings if settings is not None else ConnectionSettings()
        self.is_demo = is_demo
        self.state = ConnState.DISCONNECTED
        self.reason = ""
        self.info: HostInfo | None = None
        try:
            parsed = validate_uri(uri)
            self._driver, self._display = parsed.driver, parsed.display_name
        except ValueError:
            self._driver = uri.split(":", 1)[0].split("+", 1)[0].lower()
            self._display = uri
        self._opener = Opener(uri, auth, runs_in_process(uri))
        self._inventory = LiveInventory(uri, self._driver, self._emit,
                                        lambda: self.settings.workers)
        self._link: Link | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._answer_watch: asyncio.Task[None] | None = None
        self._generation = 0               # bumped per connection: old callbacks go quiet
        self._user_closed = True
        self._reconnect_task: asyncio.Task[None] | None = None
        self._connect_lock = asyncio.Lock()
        self._polling_told: frozenset[ObjectKind] = frozenset()
        self.storage = HostStorage(self)        # pools and volumes
        self.networking = HostNetworks(self)    # virtual networks and their leases

    @property
    def auth(self) -> AuthCallback | None:
        """Asked for what libvirt wants to know while connecting (on the loop)."""
        return self._opener.auth

    @auth.setter
    def auth(self, auth: AuthCallback | None) -> None:
        self._opener.auth = auth

    # ---- cached picture ----

    def vms(self) -> list[VMInfo]:
        return sorted(self._inventory.vms.values(), key=lambda v: v.name.lower())

    def vm(self, key: str) -> VMInfo | None:
        return self._inventory.vms.get(key)

    def networks(self) -> list[NetworkInfo]:
        return sorted(self._inventory.networks.values(), key=lambda n: n.name.lower())

    def pools(self) -> list[PoolInfo]:
        return sorted(self._inventory.pools.values(), key=lambda p: p.name.lower())

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
        link = self._link
        if self.state is not ConnState.CONNECTED or link is None or link.conn is None:
            return None
        return link.conn, link.executor, self._generation

    # ---- connecting ----

    async def connect(self) -> None:
        """One attempt to connect; raises ConnectError worded for the user."""
        async with self._connect_lock:
            if self.state is ConnState.CONNECTED:
                return
            self._loop = asyncio.get_running_loop()
            self._loop_thread = threading.get_ident()
            eventloop.register(self._loop)
            quiet_libvirt_errors()
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
                if self._link is not None:
                    self._link.let_go()
                self._set_state(ConnState.DISCONNECTED, "Connecting was cancelled.")
                raise

    async def disconnect(self) -> None:
        """Closes the connection at the user's request: no reconnecting afterwards."""
        self._user_closed = True
        self._generation += 1
        self._stop_reconnecting()
        self._inventory.detach()
        link, self._link = self._link, None
        if link is not None:
            await link.close()
        self._inventory.clear()
        self._set_state(ConnState.DISCONNECTED)

    async def _open_and_load(self) -> None:
        """Open, subscribe to events, read everything, then announce the full picture."""
        self._generation += 1
        generation = self._generation
        self._inventory.forget_pending()  # the snapshot about to be read supersedes it
        link = self._new_link(generation)
        conn = await self._opener.open(link.executor, self._display,
                                       self.settings.call_timeout_s,
                                       early=early_open.take(self.uri))
        self._check_current(generation, conn)
        link.conn = conn
        try:
            # HVConsole's own keepalive (answer_watch.py), not libvirt's: closing a
            # connection with calls under way crashed the process.
            watched = self._driver != "test"
            subscription = await link.call(
                lambda: subscribe(conn, generation, self._on_object_event,
                                  self._on_close, uri=self.uri, keepalive=None))
            link.event_ids = subscription.ids
            poller = None
            if subscription.silent:
                poller = Poller(subscription.silent, self.uri)
                await link.call(poller.start, conn)
            self._check_current(generation)
            # One job: the libvirt objects are made and dropped in the worker, never here.
            inventory = await link.call(inventory_read.read_inventory, conn, self._driver,
                                        self.settings.workers, self._opener.in_process)
            self._check_current(generation)
            info = await link.call(readers.read_host, conn, self.uri, self._driver,
                                   self.is_demo)
            self._check_current(generation)
        except ConnectError:
            raise
        except (libvirt.libvirtError, asyncio.TimeoutError) as err:
            link.let_go()
            raise ConnectError(self._failure(err, "reading its inventory")) from None
        changes = self._inventory.replace(inventory.vms, inventory.networks, inventory.pools)
        self.info = info
        self._emit(InventoryChanged(tuple(changes), full=True))
        self._set_state(ConnState.CONNECTED, host=info)
        if watched:
            # Kept: the loop holds tasks weakly. It ends when the link is let go.
            self._answer_watch = asyncio.get_running_loop().create_task(watch_answers(
                link, self.settings.keepalive_interval_s, self.settings.keepalive_count,
                lambda why: self._lost(generation, why)))
        interval = self.settings.poll_interval_s
        self._inventory.attach(link, poller, interval)
        if poller is not None and poller.kinds and poller.kinds != self._polling_told:
            self._polling_told = poller.kinds
            what = describe(poller.kinds)
            self._emit(HypervisorEvent(
                next(k for k in ObjectKind if k in poller.kinds), "", what,
                f"This host sends no events about its {what}; HVConsole refreshes them "
                f"every {interval:g} s.", "warning"))

    def _check_current(self, generation: int, conn: libvirt.virConnect | None = None) -> None:
        if generation != self._generation or self._user_closed:
            if conn is not None:  # opened after all, but nobody wants it any more
                threading.Thread(target=close_quietly, args=(conn, ()), daemon=True,
                                 name="libvirt-close").start()
            raise ConnectError(f"Connecting to {self._display} was cancelled.")

    def _new_link(self, generation: int) -> Link:
        if self._link is not None:
            self._link.executor.shutdown(wait=False)
        self._link = Link(self._display, self.settings.workers, generation,
                          lambda: self.settings.call_timeout_s)
        return self._link

    # ---- events (loop thread) ----

    def _on_object_event(self, generation: int, event: HypervisorEvent) -> None:
        """An event of this connection: the object is re-read soon, the event told after."""
        if generation != self._generation or self._loop is None:
            return
        if threading.get_ident() != self._loop_thread:
            # libvirt dispatches events from its event loop, i.e. ours; stay safe anyway.
            self._loop.call_soon_threadsafe(self._on_object_event, generation, event)
            return
        self._inventory.queue_change(event)

    # ---- losing the connection ----

    def _on_close(self, reason: int, generation: int) -> None:
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
        if generation != self._generation or self._user_closed or self._loop is None:
            return
        self._generation += 1
        self._inventory.detach()
        link, self._link = self._link, None
        if link is not None:
            link.abandon()               # its threads may be stuck on the dead host
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

    # ---- actions ----

    async def vm_action(self, key: str, action: VMAction,
                        progress: Callable[[float], None] | None = None) -> None:
        """One lifecycle call; raises ActionError with libvirt's reason in plain words.
        (libvirt reports no progress for these: ``progress`` is not called.)"""
        link, conn = self._require_connection()
        name = self._name_of(key)
        lifecycle = ACTIONS[action]
        await self._as_action(link, lambda: lifecycle.run(conn.lookupByUUIDString(key)),
                              f"Could not {lifecycle.verb} {name}",
                              f"while asked to {lifecycle.verb} {name}")
        await self._inventory.refresh_now(link, [(ObjectKind.VM, key)])

    async def delete_vm(self, key: str, delete_storage: bool) -> list[str]:
        """Stops and undefines a VM, optionally deleting its disk volumes.

        Returns warnings for what could not be removed (a disk outside any storage pool
        stays where it is: it may be shared, and libvirt cannot delete it)."""
        link, conn = self._require_connection()
        name = self._name_of(key)
        deleted = await self._as_action(
            link, lambda: delete_domain(conn, key, self._driver, delete_storage),
            f"Could not delete {name}", f"while deleting {name}")
        await self._inventory.refresh_now(
            link, [(ObjectKind.VM, key)]
            + [(ObjectKind.POOL, p) for p in sorted(deleted.pools)])
        return deleted.warnings

    async def change_organization(self, key: str, change: OrgChange) -> Organization:
        """Tags, folder and custom fields written into the domain (organize_ops.py);
        the VM is re-read at once, so the tree shows them without waiting for the event."""
        name = self._name_of(key)
        return await self.run_action(
            lambda c: organize_ops.change_organization(c, key, change),
            f"Could not change the tags, folder or fields of {name}",
            f"while changing the tags, folder or fields of {name}",
            refresh=[(ObjectKind.VM, key)])

    async def set_description(self, key: str, text: str) -> None:
        name = self._name_of(key)
        await self.run_action(lambda c: organize_ops.set_description(c, key, text),
                              f"Could not change the description of {name}",
                              f"while changing the description of {name}",
                              refresh=[(ObjectKind.VM, key)])

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

    async def run_action(self, fn: Callable[[libvirt.virConnect], T], failed: str,
                         doing: str, refresh: Iterable[tuple[ObjectKind, str]] = ()) -> T:
        """fn(connection) in the worker pool, bounded by the call timeout, every failure an
        ActionError starting with ``failed``; then the named objects are re-read at once
        (their events follow anyway: the tree need not wait for them)."""
        link, conn = self._require_connection()
        result = await self._as_action(link, lambda: fn(conn), failed, doing)
        refs = list(refresh)
        if refs:
            await self._inventory.refresh_now(link, refs)
        return result

    async def run_long(self, fn: Callable[[libvirt.virConnect], T], failed: str) -> T:
        """fn(connection) in a thread of its own, without the call timeout: a transfer
        of gigabytes, which reports progress and is cancelled through its own job."""
        link, conn = self._require_connection()
        try:
            return await asyncio.to_thread(link.executor.counted, fn, conn)
        except libvirt.libvirtError as err:
            raise ActionError(f"{failed}: {readers.error_text(err)}") from None
        except OSError as err:
            raise ActionError(f"{failed}: {err.strerror or err}"
                              + (f" ({err.filename})" if err.filename else "")) from None

    async def refresh_objects(self, refs: Iterable[tuple[ObjectKind, str]]) -> None:
        """Re-read these objects now (a pool's figures after its volumes changed)."""
        link, _conn = self._require_connection()
        await self._inventory.refresh_now(link, list(refs))

    async def run(self, job: Callable[[libvirt.virConnect], T], failed: str, *,
                  timeout_s: float | None = None) -> T:
        """job(connection) in this host's worker pool, for the administration modules
        (Properties, Snapshots, …) that keep their blocking libvirt work in modules of
        their own; ``timeout_s`` for a job that may outlast the call timeout (a memory
        snapshot). libvirt's refusal is one ActionError: "<failed>: <libvirt's reason>"."""
        link, conn = self._require_connection()
        try:
            return await link.call(job, conn, timeout_s=timeout_s)
        except libvirt.libvirtError as err:
            raise ActionError(f"{failed}: {readers.error_text(err)}") from None
        except asyncio.TimeoutError:
            wait = timeout_s if timeout_s is not None else self.settings.call_timeout_s
            raise ActionError(f"{failed}: {self._display} did not answer within "
                              f"{wait:g} s; it may still happen.") from None

    # ---- New VM and Clone (host_facts.py, create_ops.py, clone_ops.py) ----

    async def new_vm_facts(self) -> host_facts.HostFacts:
        """Capabilities, memory, names, pools, networks: what the wizard checks against."""
        link, conn = self._require_connection()
        return await self._as_action(link, lambda: host_facts.read_facts(conn),
                                     f"Could not read what {self._display} offers",
                                     "while reading what it offers")

    async def volume_head(self, pool: str, volume: str) -> bytes:
        """The first bytes of a volume (an ISO's labels), through the connection."""
        link, conn = self._require_connection()
        return await self._as_action(
            link, lambda: host_facts.read_volume_head(conn, pool, volume),
            f"Could not read {volume} in {pool}", f"while reading {volume}")

    async def create_vm(self, spec: create_ops.CreateSpec, job: create_ops.CreateJob) -> str:
        """Makes a VM (create_ops.py); no call timeout: ``job`` cancels and reports.
        Raises CreateFailed / CreateCancelled (ActionErrors) with nothing left behind."""
        link, conn = self._require_connection()
        key = await link.call_unbounded(create_ops.create_domain, conn, spec, job)
        await self._refresh_after(link, key)
        return key

    async def clone_vm(self, spec: clone_ops.CloneSpec, job: clone_ops.CloneJob) -> str:
        link, conn = self._require_connection()
        key = await link.call_unbounded(clone_ops.clone_domain, conn, spec, job)
        await self._refresh_after(link, key)
        return key

    async def _refresh_after(self, link: Link, key: str) -> None:
        """The new VM and every pool in the tree before the task reports done."""
        try:
            await self._inventory.refresh_now(
                link, [(ObjectKind.VM, key)]
                + [(ObjectKind.POOL, p.key) for p in self._inventory.pools.values()])
        except (libvirt.libvirtError, asyncio.TimeoutError):
            pass                 # the events bring it a moment later

    # ---- migration (migration*.py) ----

    async def migration_host_facts(self, name: str) -> MigrationHostFacts:
        """What this host offers a VM moving here (or away), for the pre-check; ``name``
        is how the user knows it."""
        link, conn = self._require_connection()
        return await self._as_action(link, lambda: read_host_facts(conn, name),
                                     f"Could not read what {name} offers",
                                     f"while reading what {name} offers")

    async def vm_migration_facts(self, key: str, dest: LibvirtHost) -> VMFacts:
        """The VM as the pre-check sees it: its definition and disks here, and the
        destination's view of its disks and CPU."""
        link, conn = self._require_connection()
        _dest_link, dest_conn = dest._require_connection()
        name = self._name_of(key)
        return await self._as_action(link, lambda: read_vm_facts(conn, dest_conn, key),
                                     f"Could not check whether {name} can move",
                                     f"while checking whether {name} can move")

    async def migrate_vm(self, key: str, dest: LibvirtHost, options: MigrationOptions,
                         names: Names, on_progress: Callable[[JobProgress], None]
                         ) -> MigrationOutcome:
        """Moves the VM to ``dest`` (migration_run.py: progress, cancel by cancelling the
        awaiting task, one ActionError sentence). Both hosts' records of the VM are read
        again before this returns, so the tree shows it moved as the job ends, whether or
        not the events have arrived yet."""
        link, _conn = self._require_connection()
        dest_link, _dest_conn = dest._require_connection()
        conn = link.hold()
        try:
            dest_conn = dest_link.hold()
        except libvirt.libvirtError:
            link.release()
            raise ActionError(f"Not connected to {dest._display}.") from None
        migration = Migration(conn, dest_conn, key, options)

        def dest_alive() -> bool:
            return dest._link is dest_link and dest.state is ConnState.CONNECTED

        def release() -> None:
            link.release()
            dest_link.release()

        try:
            return await run_migration(migration, link, names, dest_alive=dest_alive,
                                       on_progress=on_progress, release=release)
        finally:
            refreshes = [self._inventory.refresh_now(link, [(ObjectKind.VM, key)])]
            if dest_alive():
                refreshes.append(dest._inventory.refresh_now(dest_link,
                                                             [(ObjectKind.VM, key)]))
            await asyncio.gather(*refreshes, return_exceptions=True)

    async def _as_action(self, link: Link, run: Callable[[], T], failed: str,
                         doing: str) -> T:
        """Runs a user's action in the pool; every way it can fail becomes one ActionError
        in plain words ("Could not start web-01: ...")."""
        try:
            return await link.call(run)
        except libvirt.libvirtError as err:
            raise ActionError(f"{failed}: {readers.error_text(err)}") from None
        except asyncio.TimeoutError:
            raise ActionError(f"{self._display} did not answer within "
                              f"{self.settings.call_timeout_s:g} s {doing}; "
                              "it may still happen.") from None

    async def _domain_call(self, key: str, doing: str,
                           fn: Callable[[libvirt.virDomain], T]) -> T:
        """fn(domain) in the worker pool; every failure an ActionError in plain words."""
        link, conn = self._require_connection()
        try:
            return await link.call(lambda: fn(conn.lookupByUUIDString(key)))
        except libvirt.libvirtError as err:
            raise ActionError(f"Could not {doing} {self._name_of(key)}: "
                              f"{readers.error_text(err)}") from None
        except asyncio.TimeoutError:
            raise ActionError(f"{self._display} did not answer within "
                              f"{self.settings.call_timeout_s:g} s.") from None

    # ---- plumbing ----

    def _require_connection(self) -> tuple[Link, libvirt.virConnect]:
        link = self._link
        if link is None or link.conn is None or self.state is not ConnState.CONNECTED:
            raise ActionError(f"Not connected to {self._display}.")
        return link, link.conn

    def _name_of(self, key: str) -> str:
        vm = self._inventory.vms.get(key)
        return vm.name if vm else key

    def _failure(self, err: BaseException, doing: str) -> str:
        if isinstance(err, asyncio.TimeoutError):
            return (f"{self._display} did not answer within "
                    f"{self.settings.call_timeout_s:g} s while {doing}.")
        return f"Could not connect to {self._display} ({doing}): {readers.error_text(err)}"

    def _set_state(self, state: ConnState, reason: str = "",
                   host: HostInfo | None = None) -> None:
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


__all__ = ["AuthCallback", "LibvirtHost", "Listener"]
