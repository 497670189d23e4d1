"""Host and pool calls: disable/enable, evacuate, reboot, shutdown (a host must be
disabled and empty first, as xapi insists), and pool.designate_new_master, after which
the old master answers HOST_IS_SLAVE with the new master's address and every session is
gone (xapi restarts on a master change), so a client has to follow. A host that is down
(rebooting, shut down) answers nothing: its listener closes every connection until it is
back, and a master that went down comes back without the sessions it had."""
from __future__ import annotations

import threading
from typing import Any, Callable

from .api import Api, Context, Stopwatch, stopwatch
from .errors import Failure
from .store import map_field, new_ref
from .vm_state import NULL, PowerStates

_HOST_OPS = ["provision", "evacuate", "reboot", "shutdown", "vm_start", "vm_resume",
             "vm_migrate"]


class HostCalls:
    def __init__(self, api: Api, states: PowerStates,
                 free_memory: Callable[[str], int], reboot_seconds: float = 3.0) -> None:
        self.api = api
        self.store = api.store
        self.states = states
        self.free_memory = free_memory
        self.reboot_seconds = reboot_seconds
        reg = api.register
        reg("host.disable", lambda ctx, s, host: self._enable(str(host), False))
        reg("host.enable", lambda ctx, s, host: self._enable(str(host), True))
        reg("host.evacuate", lambda ctx, s, host, network=NULL, batch=0:
            self._evacuate(str(host)))
        reg("host.get_vms_which_prevent_evacuation", lambda ctx, s, host:
            self._blockers(str(host)))
        reg("host.reboot", lambda ctx, s, host: self._power(str(host), reboot=True))
        reg("host.shutdown", lambda ctx, s, host: self._power(str(host), reboot=False))
        reg("host.power_on", lambda ctx, s, host: self._power_on(str(host)))
        reg("pool.designate_new_master", self._designate)

    def _guests(self, host: str) -> list[str]:
        vms = self.store.table("VM")
        return [v for v in self.store.get("host", host).get("resident_VMs", [])  # type: ignore[attr-defined]
                if v in vms and not vms[v].get("is_control_domain")]

    def _enable(self, host: str, enabled: bool) -> str:
        with self.store.lock:
            self.store.get("host", host)
            self.store.update("host", host, enabled=enabled,
                              allowed_operations=list(_HOST_OPS) if enabled else
                              [op for op in _HOST_OPS if not op.startswith("vm_")])
        return ""

    def _blockers(self, host: str) -> dict[str, list[str]]:
        others = [h for h, r in self.store.table("host").items() if h != host and r.get("enabled")]
        if others:
            return {}
        return {vm: ["NO_HOSTS_AVAILABLE"] for vm in self._guests(host)}

    def _evacuate(self, host: str) -> str:
        store = self.store
        with store.lock:
            store.get("host", host)
            guests = self._guests(host)
            others = [h for h, r in store.table("host").items()
                      if h != host and r.get("enabled")]
            if guests and not others:
                raise Failure("NO_HOSTS_AVAILABLE")
        watch = stopwatch(self.api.options.op_seconds)
        key = watch.task or new_ref()
        store.mutate("host", host, lambda h: map_field(h, "current_operations")
                     .__setitem__(key, "evacuate"))
        try:
            self._move_guests(host, guests, others, watch)
        finally:
            store.mutate("host", host, lambda h: map_field(h, "current_operations").pop(key, None))
        return ""

    def _move_guests(self, host: str, guests: list[str], others: list[str],
                     watch: Stopwatch) -> None:
        store = self.store
        for i, vm in enumerate(guests):
            watch.run(i / len(guests), (i + 1) / len(guests), steps=1)  # the migration
            need = int(store.get("VM", vm).get("memory_static_max", 0))  # type: ignore[call-overload]
            target = next((h for h in others if self.free_memory(h) >= need), None)
            if target is None:
                raise Failure("HOST_NOT_ENOUGH_FREE_MEMORY", need, self.free_memory(others[0]))
            state = str(store.get("VM", vm).get("power_state"))
            self.states.apply(vm, state, target)

    def _power(self, host: str, reboot: bool) -> str:
        store = self.store
        with store.lock:
            record = store.get("host", host)
            if record.get("enabled"):
                raise Failure("HOST_NOT_DISABLED")
            if self._guests(host):
                raise Failure("HOST_IN_USE", host, "VM", self._guests(host)[0])
            self._set_live(host, False)
        if self.api.is_master(host):  # the master's xapi goes down: every session with it
            threading.Timer(0.2, self.api.drop_sessions).start()
        if reboot:
            timer = threading.Timer(self.reboot_seconds, self._back_up, args=(host,))
            timer.daemon = True
            timer.start()
        return ""

    def _power_on(self, host: str) -> str:
        self.store.get("host", host)
        self._back_up(host)
        return ""

    def _back_up(self, host: str) -> None:
        with self.store.lock:
            if host in self.store.table("host"):
                self._set_live(host, True)
                self._enable(host, True)

    def _set_live(self, host: str, live: bool) -> None:
        metrics = str(self.store.get("host", host).get("metrics"))
        if metrics in self.store.table("host_metrics"):
            self.store.update("host_metrics", metrics, live=live)

    def _designate(self, ctx: Context, session: str, host: Any) -> str:
        store = self.store
        with store.lock:
            store.get("host", str(host))
            pools = list(store.table("pool"))
            if not pools:
                raise Failure("HANDLE_INVALID", "pool", "")
            if store.table("pool")[pools[0]].get("master") == str(host):
                return ""
            store.update("pool", pools[0], master=str(host))
        # The reply reaches the caller first; then the old master "restarts".
        threading.Timer(0.2, self.api.drop_sessions).start()
        return ""
