"""Simulated VMs backed by real guests under a local libvirtd.

A VM is bound to a libvirt domain by ``other_config:hvconsole_libvirt_domain=NAME`` in
the database (or ``--bind-domain "VM label=NAME"``, which writes that key). For a bound
VM the lifecycle calls act on the domain (start = create, clean_shutdown = ACPI
shutdown, hard_shutdown = destroy, suspend = managed save, pause = suspend, ...), the
power state follows the guest through libvirt's lifecycle events (a guest that powers
itself off is Halted in XAPI too), its RRD samples are the guest's own statistics every
5 s, and its console CONNECT is relayed to the guest's VNC server.

libvirt's default event loop runs in its own thread; the store is changed from there and
from the sampler thread, both under the store's lock."""
from __future__ import annotations

import threading
import time
import xml.etree.ElementTree as ET
from typing import Any

import libvirt

from .api import stopwatch
from .errors import Failure
from .rrd import Rrds
from .store import Store, map_field
from .vm_state import NULL, PowerStates

KEY = "hvconsole_libvirt_domain"
SAMPLE_SECONDS = 5.0
CLEAN_TIMEOUT = 120.0


def _power_state(domain: libvirt.virDomain) -> str:
    state = domain.state()[0]
    if state in (libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_BLOCKED):
        return "Running"
    if state in (libvirt.VIR_DOMAIN_PAUSED, libvirt.VIR_DOMAIN_PMSUSPENDED):
        return "Paused"
    if state == libvirt.VIR_DOMAIN_SHUTDOWN:
        return "Running"  # shutting down: still running until it is off
    return "Suspended" if domain.hasManagedSaveImage(0) else "Halted"


class LibvirtBacking:
    def __init__(self, uri: str, store: Store, states: PowerStates, rrds: Rrds,
                 bindings: dict[str, str]) -> None:
        self.uri = uri
        self.store = store
        self.states = states
        self.rrds = rrds
        self.bindings = bindings
        self._stop = threading.Event()
        self._last: dict[str, tuple[float, dict[str, float]]] = {}
        libvirt.virEventRegisterDefaultImpl()
        self._events = threading.Thread(target=self._run_events, name="xapi-sim libvirt events",
                                        daemon=True)
        self._events.start()
        self.conn = libvirt.open(uri)
        self.conn.setKeepAlive(5, 3)
        self._bind()

    # --- binding ----------------------------------------------------------------------
    def _bind(self) -> None:
        with self.store.lock:
            for label, domain in self.bindings.items():
                refs = self.store.find("VM", name_label=label)
                if not refs:
                    raise ValueError(f"--bind-domain: no VM is called {label!r}")
                self._bind_one(refs[0], domain)

    def _bind_one(self, vm_ref: str, domain: str) -> None:
        def change(vm: dict[str, object]) -> None:
            map_field(vm, "other_config")[KEY] = domain
        self.store.mutate("VM", vm_ref, change)

    def domain_name(self, vm_ref: str) -> str | None:
        vm = self.store.table("VM").get(vm_ref)
        if vm is None:
            return None
        name = map_field(vm, "other_config").get(KEY)
        return name or None

    def bound(self, vm_ref: str) -> bool:
        return self.domain_name(vm_ref) is not None

    def _domain(self, vm_ref: str) -> libvirt.virDomain:
        name = self.domain_name(vm_ref)
        try:
            return self.conn.lookupByName(name or "")
        except libvirt.libvirtError as err:
            raise Failure("INTERNAL_ERROR", f"the real guest {name} is not there: {err}") from err

    def _vm_of(self, domain_name: str) -> str | None:
        with self.store.lock:
            for ref, vm in self.store.table("VM").items():
                if map_field(vm, "other_config").get(KEY) == domain_name:
                    return ref
        return None

    def start(self) -> None:
        """Take each bound VM's state from its guest, then follow the guest."""
        self.conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                         self._on_lifecycle, None)
        with self.store.lock:
            bound = [ref for ref in self.store.table("VM") if self.bound(ref)]
        for ref in bound:
            self._sync(ref)
        threading.Thread(target=self._sample_loop, name="xapi-sim guest stats",
                         daemon=True).start()

    def close(self) -> None:
        self._stop.set()

    def _run_events(self) -> None:
        while not self._stop.is_set():
            libvirt.virEventRunDefaultImpl()

    def _on_lifecycle(self, conn: Any, domain: Any, event: int, detail: int, opaque: Any) -> None:
        vm_ref = self._vm_of(domain.name())
        if vm_ref is not None:
            threading.Thread(target=self._sync, args=(vm_ref,), daemon=True).start()

    def _sync(self, vm_ref: str) -> None:
        try:
            state = _power_state(self._domain(vm_ref))
        except (Failure, libvirt.libvirtError):
            return
        with self.store.lock:
            vm = self.store.table("VM").get(vm_ref)
            if vm is None or vm.get("current_operations"):
                return  # the operation in progress sets the state when it ends
            host = str(vm.get("resident_on", NULL))
            if host == NULL:
                pools = list(self.store.table("pool").values())
                host = str(pools[0].get("master")) if pools else NULL
            if vm.get("power_state") != state:
                self.states.apply(vm_ref, state, host)

    # --- operations -------------------------------------------------------------------
    def perform(self, vm_ref: str, operation: str, host: str) -> None:
        domain = self._domain(vm_ref)
        try:
            self._perform(domain, operation)
        except libvirt.libvirtError as err:
            raise Failure("INTERNAL_ERROR", f"{operation} of the real guest: {err}") from err

    def _perform(self, domain: libvirt.virDomain, operation: str) -> None:
        state = _power_state(domain)
        if operation in ("start", "start_on", "resume", "resume_on"):
            domain.create()
            self._wait(domain, "Running")
        elif operation == "clean_shutdown":
            domain.shutdown()
            self._wait(domain, "Halted", CLEAN_TIMEOUT)
        elif operation == "hard_shutdown":
            if state in ("Running", "Paused"):
                domain.destroy()
            elif state == "Suspended":
                domain.managedSaveRemove(0)
        elif operation == "clean_reboot":
            domain.reboot(0)
        elif operation == "hard_reboot":
            domain.reset(0)
        elif operation == "suspend":
            domain.managedSave(0)
            self._wait(domain, "Suspended", CLEAN_TIMEOUT)
        elif operation == "pause":
            domain.suspend()
        elif operation == "unpause":
            domain.resume()
        # destroy: the VM record goes; the libvirt domain is not the simulator's to remove

    @staticmethod
    def _wait(domain: libvirt.virDomain, state: str, timeout: float = 60.0) -> None:
        watch = stopwatch(0.0)
        deadline = time.monotonic() + timeout
        while _power_state(domain) != state:
            if watch.cancelled():
                raise Failure("TASK_CANCELLED", "")
            if time.monotonic() > deadline:
                raise Failure("VM_SHUTDOWN_TIMEOUT" if state == "Halted" else "INTERNAL_ERROR",
                              f"the real guest did not become {state} in {timeout:.0f} s")
            time.sleep(0.2)

    # --- console ----------------------------------------------------------------------
    def vnc_address(self, vm_ref: str) -> tuple[str, int] | None:
        if not self.bound(vm_ref):
            return None
        try:
            xml = ET.fromstring(self._domain(vm_ref).XMLDesc(0))
        except (Failure, libvirt.libvirtError, ET.ParseError):
            return None
        graphics = xml.find("devices/graphics[@type='vnc']")
        if graphics is None or int(graphics.get("port", "-1")) <= 0:
            return None
        listen = graphics.get("listen") or "127.0.0.1"
        port = int(graphics.get("port", "0"))
        return ("127.0.0.1" if listen in ("0.0.0.0", "::") else listen, port)

    # --- statistics -------------------------------------------------------------------
    def _sample_loop(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            with self.store.lock:
                bound = [(ref, str(vm.get("uuid"))) for ref, vm in self.store.table("VM").items()
                         if vm.get("power_state") == "Running" and self.bound(ref)]
            for ref, uuid in bound:
                try:
                    self._sample(ref, uuid)
                except (Failure, libvirt.libvirtError):
                    continue

    def _sample(self, vm_ref: str, uuid: str) -> None:
        domain = self._domain(vm_ref)
        now = time.time()
        counters: dict[str, float] = {}
        vcpus: list[Any] = list(domain.vcpus()[0])
        for number, _state, cpu_time, _cpu in vcpus:
            counters[f"cpu{number}"] = float(cpu_time) / 1e9
        xml = ET.fromstring(domain.XMLDesc(0))
        disk = xml.find("devices/disk[@device='disk']/target")
        if disk is not None:
            block: list[Any] = list(domain.blockStats(disk.get("dev", "")))
            counters["vbd_xvda_read"] = float(block[1])
            counters["vbd_xvda_write"] = float(block[3])
        iface = xml.find("devices/interface/target")
        if iface is not None:
            net: list[Any] = list(domain.interfaceStats(iface.get("dev", "")))
            counters["vif_0_rx"], counters["vif_0_tx"] = float(net[0]), float(net[4])
        values: dict[str, float] = {}
        last = self._last.get(uuid)
        if last is not None and now > last[0]:
            elapsed = now - last[0]
            for name, value in counters.items():
                if name in last[1]:
                    values[name] = max(0.0, (value - last[1][name]) / elapsed)
        self._last[uuid] = (now, counters)
        stats: Any = domain.memoryStats()
        memory: dict[str, Any] = dict(stats)
        if "actual" in memory:
            values["memory"] = float(memory["actual"]) * 1024.0
        if "unused" in memory:
            values["memory_internal_free"] = float(memory["unused"])
        if values:
            self.rrds.record(uuid, values, now)
