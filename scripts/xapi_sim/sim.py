"""The simulator put together: a store loaded from a state.db, the API with its call
modules, one HTTPS listener for the pool master and one per member that should answer,
and the database written back (debounced) after changes, as xapi flushes its own."""
from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from . import statedb
from .api import Api, Options
from .events import Events
from .host import HostCalls
from .server import HttpHandlers, Listener
from .store import Store
from .tasks import Tasks
from .tls import Identity
from .vm import Backing, VmCalls
from .vm_state import NULL, PowerStates, allowed_operations


@dataclass
class Served:
    role: str  # "master" or "member"
    host: str
    address: str


@dataclass
class Simulator:
    db: statedb.Database
    options: Options = field(default_factory=Options)
    identity: Identity = field(default_factory=Identity)
    db_path: str | None = None
    save_interval: float = 2.0
    backing: Backing | None = None

    def __post_init__(self) -> None:
        self.store = Store(self.db)
        self.api = Api(self.store, self.options)
        self.api.master_address = self._master_address
        self.tasks = Tasks(self.api)
        self.events = Events(self.api)
        self.states = PowerStates(self.store, self._console_location)
        self.vms = VmCalls(self.api, self.states, self.backing)
        self.hosts = HostCalls(self.api, self.states, self.vms.free_memory)
        self.handlers: list[HttpHandlers] = []
        self.listeners: list[Listener] = []
        self._dirty = threading.Event()
        self._rows: dict[tuple[str, str], str] = {}
        self._stop = threading.Event()
        self.store.on_change(self._changed)
        self._saver = threading.Thread(target=self._save_loop, name="xapi-sim save",
                                       daemon=True)

    # --- addresses ------------------------------------------------------------------------
    def _master_address(self) -> str:
        pools = list(self.store.table("pool").values())
        master = str(pools[0].get("master")) if pools else NULL
        return str(self.store.table("host").get(master, {}).get("address", ""))

    def served_hosts(self, listener_host: str) -> list[str]:
        """The hosts a listener answers for: its own, and on the master every host that
        has no listener of its own (so one listener is enough for a whole pool's RRDs)."""
        own = {listener.host for listener in self.listeners}
        if not self.api.is_master(listener_host):
            return [listener_host]
        return [listener_host] + [h for h in self.store.table("host") if h not in own]

    def _host_live(self, host: str) -> bool:
        record = self.store.table("host").get(host, {})
        metrics = self.store.table("host_metrics").get(str(record.get("metrics")), {})
        return bool(metrics.get("live", True))

    def address_of(self, host: str) -> str:
        for listener in self.listeners:
            if listener.host == host:
                return listener.address
        return self._master_address()

    def _console_location(self, console: str, vm: str) -> str:
        host = str(self.store.table("VM").get(vm, {}).get("resident_on", NULL))
        return f"https://{self.address_of(host)}/console?ref={console}"

    def make_master(self, which: str) -> str:
        """Make the host named by ``which`` (name_label, UUID or ref) the pool master, as
        a member promoted after its master died; its ref (LookupError: no such host)."""
        with self.store.lock:
            hosts = self.store.table("host")
            found = [ref for ref, row in hosts.items()
                     if which in (ref, row.get("uuid"), row.get("name_label"))]
            if len(found) != 1:
                raise LookupError(f"no single host is called {which!r}")
            pool = next(iter(self.store.table("pool")))
            self.store.update("pool", pool, master=found[0])
            return found[0]

    # --- serving --------------------------------------------------------------------------
    def serve(self, master: tuple[str, int],
              members: list[tuple[str, int]] | None = None) -> list[Served]:
        """Listen for the pool master and for the first len(members) other hosts."""
        pools = list(self.store.table("pool").values())
        if not pools:
            raise ValueError("the database has no pool")
        master_ref = str(pools[0]["master"])
        others = [h for h in self.store.table("host") if h != master_ref]
        members = members or []
        if len(members) > len(others):
            raise ValueError(f"--member-listen given {len(members)} times; the pool has "
                             f"{len(others)} other hosts")
        context = self.identity.server_context()
        served = []
        for host, address, role in [(master_ref, master, "master")] + [
                (h, a, "member") for h, a in zip(others, members, strict=False)]:
            listener = Listener(address, self.api, host, context, self.handlers)
            listener.is_up = functools.partial(self._host_live, host)
            self.listeners.append(listener)
            self.store.update("host", host, address=listener.address)
            served.append(Served(role, host, listener.address))
        master_address = self.listeners[0].address
        for host in others[len(members):]:
            self.store.update("host", host, address=master_address)
        self._prepare()
        for listener in self.listeners:
            listener.thread.start()
        self._saver.start()
        return served

    def _prepare(self) -> None:
        """What a starting xapi does: no operation survives a restart; consoles follow
        the VMs that run and point at this server."""
        with self.store.lock:
            for ref, vm in self.store.table("VM").items():
                live = vm.get("power_state") in ("Running", "Paused")
                if vm.get("current_operations") or vm.get("allowed_operations") != \
                        allowed_operations(vm):
                    self.store.update("VM", ref, current_operations={})
                    self.store.update("VM", ref, allowed_operations=allowed_operations(vm))
                if live and not vm.get("is_control_domain"):
                    self.states.apply(ref, str(vm["power_state"]), str(vm["resident_on"]))
            for host in list(self.store.table("host")):
                self.states.host_memory(host)
            for ref, console in list(self.store.table("console").items()):
                vm_ref = str(console.get("VM"))
                self.store.update("console", ref,
                                  location=self._console_location(ref, vm_ref))

    def _changed(self, cls: str, ref: str) -> None:
        if cls not in statedb.TRANSIENT:
            self._rows.pop((cls, ref), None)
            self._dirty.set()

    def _row_text(self, cls: str, ref: str, row: dict[str, object]) -> str:
        text = self._rows.get((cls, ref))
        if text is None:
            text = self._rows[(cls, ref)] = statedb.render_row(self.db, cls, ref, row)
        return text

    def _save_loop(self) -> None:
        if not self.db_path:
            return       # nothing to write; a loop here would spin on the set event
        while not self._stop.is_set():
            if self._dirty.wait(0.5):
                time.sleep(self.save_interval)
                self.save()

    def save(self) -> None:
        """Write the database back. Rows are rendered once and kept until they change;
        the first rendering goes in slices, so 5,000 VMs never hold the store for long."""
        if not self.db_path:
            return
        with self.store.lock:
            self._dirty.clear()
            keys = [(cls, ref) for cls, rows in self.db.tables.items()
                    if cls not in statedb.TRANSIENT for ref in rows
                    if (cls, ref) not in self._rows]
        for start in range(0, len(keys), 500):
            with self.store.lock:
                for cls, ref in keys[start:start + 500]:
                    row = self.db.tables.get(cls, {}).get(ref)
                    if row is not None:
                        self._row_text(cls, ref, row)
        with self.store.lock:
            self.db.manifest["generation_count"] = str(self.store.generation)
            statedb.dump(self.db, self.db_path, self._row_text)

    def close(self, save: bool = True) -> None:
        self._stop.set()
        for listener in self.listeners:
            listener.shutdown()
            listener.server_close()
        if save:
            self.save()

    def attach(self, handler: Any) -> None:
        self.handlers.append(handler)
