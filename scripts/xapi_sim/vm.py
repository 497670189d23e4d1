"""VM lifecycle calls with xapi's checks and errors: start, start_on, clean/hard
shutdown, clean/hard reboot, suspend, resume, pause, unpause, destroy, and VDI.destroy.

Each call first checks the operation against the VM (VM_BAD_POWER_STATE with the
expected and actual state, VM_IS_TEMPLATE, OTHER_OPERATION_IN_PROGRESS,
OPERATION_BLOCKED, OPERATION_NOT_ALLOWED), marks it in current_operations (which also
narrows allowed_operations, as xapi does), then runs it: on the real guest when the VM is
bound to a libvirt domain (a Backing), otherwise simulated with progress steps."""
from __future__ import annotations

from typing import Any, Protocol

from . import schema
from .api import Api, Context, stopwatch
from .errors import Failure
from .store import int_field, link, map_field, new_ref, set_field, unlink
from .vm_state import NULL, PowerStates, refresh_allowed

# Power states an operation needs, spelt as xapi's VM_BAD_POWER_STATE reports them.
_NEEDS = {"start": ["halted"], "start_on": ["halted"], "clean_shutdown": ["running"],
          "hard_shutdown": ["running", "paused", "suspended"], "clean_reboot": ["running"],
          "hard_reboot": ["running", "paused"], "suspend": ["running"],
          "resume": ["suspended"], "resume_on": ["suspended"], "pause": ["running"],
          "unpause": ["paused"], "destroy": ["halted", "suspended"]}


class Backing(Protocol):
    """A real guest behind a simulated VM (libvirt_backing.LibvirtBacking)."""

    def bound(self, vm_ref: str) -> bool: ...

    def perform(self, vm_ref: str, operation: str, host: str) -> None: ...


class VmCalls:
    def __init__(self, api: Api, states: PowerStates, backing: Backing | None = None) -> None:
        self.api = api
        self.store = api.store
        self.states = states
        self.backing = backing
        reg = api.register
        reg("VM.start", lambda ctx, s, vm, paused=False, force=False:
            self._start(vm, None, bool(paused)))
        reg("VM.start_on", lambda ctx, s, vm, host, paused=False, force=False:
            self._start(vm, str(host), bool(paused)))
        for op in ("clean_shutdown", "hard_shutdown", "clean_reboot", "hard_reboot",
                   "suspend", "pause", "unpause"):
            reg(f"VM.{op}", self._simple(op))
        reg("VM.shutdown", self._simple("clean_shutdown"))
        reg("VM.resume", lambda ctx, s, vm, paused=False, force=False:
            self._resume(vm, None, bool(paused)))
        reg("VM.resume_on", lambda ctx, s, vm, host, paused=False, force=False:
            self._resume(vm, str(host), bool(paused)))
        reg("VM.destroy", lambda ctx, s, vm: self._destroy(str(vm)))
        reg("VDI.destroy", lambda ctx, s, vdi: self._destroy_vdi(str(vdi)))

    # --- checks ---------------------------------------------------------------------------
    def check(self, vm_ref: str, op: str) -> dict[str, object]:
        vm = self.store.get("VM", vm_ref)
        blocked = vm.get("blocked_operations") or {}
        if isinstance(blocked, dict) and op in blocked:
            raise Failure("OPERATION_BLOCKED", vm_ref, blocked[op])
        if op in vm.get("allowed_operations", []):  # type: ignore[operator]
            return vm
        if vm.get("is_control_domain"):
            raise Failure("OPERATION_NOT_ALLOWED", "This operation is not allowed on dom0")
        if (vm.get("is_a_template") or vm.get("is_a_snapshot")) and op in _NEEDS:
            raise Failure("VM_IS_TEMPLATE", vm_ref, op)
        state = str(vm.get("power_state")).lower()
        if op in _NEEDS and state not in _NEEDS[op]:
            raise Failure("VM_BAD_POWER_STATE", vm_ref, _NEEDS[op][0], state)
        if vm.get("current_operations"):
            raise Failure("OTHER_OPERATION_IN_PROGRESS", "VM", vm_ref)
        raise Failure("OPERATION_NOT_ALLOWED", f"VM {vm_ref} does not allow {op} now")

    def _begin(self, vm_ref: str, op: str) -> str:
        key = stopwatch(0.0).task or new_ref()
        with self.store.lock:
            self.check(vm_ref, op)
            self.store.mutate("VM", vm_ref, lambda vm: map_field(vm, "current_operations")
                              .__setitem__(key, op))
            refresh_allowed(self.store, vm_ref)
        return key

    def _end(self, vm_ref: str, key: str) -> None:
        with self.store.lock:
            if vm_ref in self.store.table("VM"):
                self.store.mutate("VM", vm_ref, lambda vm: map_field(
                    vm, "current_operations").pop(key, None))
                refresh_allowed(self.store, vm_ref)

    def _run(self, vm_ref: str, op: str, target: str, host: str = NULL,
             reboot: bool = False) -> str:
        key = self._begin(vm_ref, op)
        try:
            watch = stopwatch(self.api.options.op_seconds)
            if self.backing is not None and self.backing.bound(vm_ref):
                watch.run(0.0, 0.2, steps=1)
                self.backing.perform(vm_ref, op, host)
            else:
                watch.run()
            self.states.apply(vm_ref, target, host, reboot=reboot)
        finally:
            self._end(vm_ref, key)
        return ""

    # --- the calls ------------------------------------------------------------------------
    def _choose_host(self, vm: dict[str, object], host: str | None) -> str:
        hosts = self.store.table("host")
        if host is not None:
            if host not in hosts:
                raise Failure("HANDLE_INVALID", "host", host)
            if not hosts[host].get("enabled"):
                raise Failure("HOST_DISABLED", host)
            candidates = [host]
        else:
            affinity = str(vm.get("affinity", NULL))
            candidates = ([affinity] if affinity in hosts and hosts[affinity].get("enabled")
                          else []) + [h for h, r in hosts.items() if r.get("enabled")]
            if not candidates:
                raise Failure("NO_HOSTS_AVAILABLE")
        need = int_field(vm, "memory_static_max")
        for candidate in candidates:
            if need <= self.free_memory(candidate):
                return candidate
        raise Failure("HOST_NOT_ENOUGH_FREE_MEMORY", need, self.free_memory(candidates[0]))

    def free_memory(self, host: str) -> int:
        with self.store.lock:
            record = self.store.get("host", host)
            metrics = self.store.table("host_metrics").get(str(record.get("metrics")), {})
            total = int_field(metrics, "memory_total")
            vms = self.store.table("VM")
            used = sum(int_field(vms[v], "memory_target") or int_field(vms[v], "memory_static_max")
                       for v in set_field(record, "resident_VMs") if v in vms)
            return total - used

    def _start(self, vm_ref: Any, host: str | None, paused: bool) -> str:
        vm = self.check(str(vm_ref), "start_on" if host else "start")
        chosen = self._choose_host(vm, host)
        return self._run(str(vm_ref), "start_on" if host else "start",
                         "Paused" if paused else "Running", chosen)

    def _resume(self, vm_ref: Any, host: str | None, paused: bool) -> str:
        vm = self.check(str(vm_ref), "resume_on" if host else "resume")
        chosen = self._choose_host(vm, host)
        result = self._run(str(vm_ref), "resume_on" if host else "resume",
                           "Paused" if paused else "Running", chosen)
        self._drop_suspend_vdi(str(vm_ref))
        return result

    def _simple(self, op: str) -> Any:
        target = {"clean_shutdown": "Halted", "hard_shutdown": "Halted",
                  "clean_reboot": "Running", "hard_reboot": "Running",
                  "suspend": "Suspended", "pause": "Paused", "unpause": "Running"}[op]

        def call(ctx: Context, session: str, vm: Any) -> str:
            was = str(self.store.get("VM", str(vm)).get("power_state"))
            result = self._run(str(vm), op, target, reboot=op.endswith("reboot"))
            if op == "suspend":
                self._make_suspend_vdi(str(vm))
            elif op == "hard_shutdown" and was == "Suspended":
                self._drop_suspend_vdi(str(vm))
            return result
        return call

    def _make_suspend_vdi(self, vm_ref: str) -> None:
        store = self.store
        with store.lock:
            vm = store.get("VM", vm_ref)
            pools = list(store.table("pool").values())
            sr = str(pools[0].get("suspend_image_SR", NULL)) if pools else NULL
            if sr not in store.table("SR"):
                return
            size = int_field(vm, "memory_static_max")
            vdi = store.add("VDI", schema.new_record(
                "VDI", name_label=f"Suspend image for {vm.get('name_label')}", SR=sr,
                type="suspend", virtual_size=size, physical_utilisation=size))
            link(store, "SR", sr, "VDIs", vdi)
            store.update("VM", vm_ref, suspend_VDI=vdi)

    def _drop_suspend_vdi(self, vm_ref: str) -> None:
        store = self.store
        with store.lock:
            vdi = str(store.get("VM", vm_ref).get("suspend_VDI", NULL))
            store.update("VM", vm_ref, suspend_VDI=NULL)
            if vdi in store.table("VDI"):
                self._forget_vdi(vdi)

    def _destroy(self, vm_ref: str) -> str:
        store = self.store
        with store.lock:
            vm = self.check(vm_ref, "destroy")
            if self.backing is not None and self.backing.bound(vm_ref):
                self.backing.perform(vm_ref, "destroy", NULL)
            for vbd in list(set_field(vm, "VBDs")):
                row = store.table("VBD").get(vbd)
                if row is not None:
                    unlink(store, "VDI", str(row.get("VDI")), "VBDs", vbd)
                    store.remove("VBD", vbd)
            for vif in list(set_field(vm, "VIFs")):
                row = store.table("VIF").get(vif)
                if row is not None:
                    unlink(store, "network", str(row.get("network")), "VIFs", vif)
                    store.remove("VIF", vif)
            for cls, fieldname in (("VM_metrics", "metrics"),
                                   ("VM_guest_metrics", "guest_metrics")):
                ref = str(vm.get(fieldname))
                if ref in store.table(cls):
                    store.remove(cls, ref)
            unlink(store, "VM", str(vm.get("snapshot_of", NULL)), "snapshots", vm_ref)
            store.remove("VM", vm_ref)
        return ""

    def _destroy_vdi(self, vdi_ref: str) -> str:
        store = self.store
        with store.lock:
            vdi = store.get("VDI", vdi_ref)
            for vbd in set_field(vdi, "VBDs"):
                if store.table("VBD").get(vbd, {}).get("currently_attached"):
                    raise Failure("VDI_IN_USE", vdi_ref, "destroy")
            for vbd in list(set_field(vdi, "VBDs")):
                row = store.table("VBD").get(vbd)
                if row is not None:
                    unlink(store, "VM", str(row.get("VM")), "VBDs", vbd)
                    store.remove("VBD", vbd)
            self._forget_vdi(vdi_ref)
        return ""

    def _forget_vdi(self, vdi_ref: str) -> None:
        store = self.store
        vdi = store.get("VDI", vdi_ref)
        sr = str(vdi.get("SR"))
        if sr in store.table("SR"):
            size = int_field(vdi, "physical_utilisation")
            unlink(store, "SR", sr, "VDIs", vdi_ref)
            store.update("SR", sr, physical_utilisation=max(
                0, int_field(store.table("SR")[sr], "physical_utilisation") - size))
        store.remove("VDI", vdi_ref)
