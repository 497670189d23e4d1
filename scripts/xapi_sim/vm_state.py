"""What a VM's power state implies for the rest of its records, in one place: where it
is resident, its domid, console, attached VBDs and VIFs, metrics, and the
allowed_operations xapi computes for that state. The simulated lifecycle and the real
guest's libvirt events both end here, so the two cannot disagree."""
from __future__ import annotations

from typing import Callable

from . import schema
from .api import now_datetime
from .store import Store, int_field, set_field

NULL = schema.NULL_REF

# After xapi's Xapi_vm_lifecycle: what each power state allows.
_BY_STATE = {
    "Halted": ["start", "start_on", "destroy", "clone", "copy", "export", "snapshot",
               "provision", "changing_memory_limits", "changing_VCPUs", "make_into_template"],
    "Running": ["clean_shutdown", "hard_shutdown", "clean_reboot", "hard_reboot", "suspend",
                "pause", "snapshot", "checkpoint", "pool_migrate", "changing_dynamic_range",
                "changing_VCPUs_live"],
    "Paused": ["unpause", "hard_shutdown", "hard_reboot", "checkpoint"],
    "Suspended": ["resume", "resume_on", "hard_shutdown", "clone", "copy", "export",
                  "snapshot"],
}
_TEMPLATE = ["clone", "copy", "export", "provision", "destroy"]
# An operation in progress leaves only these (force a stuck clean shutdown or reboot).
_DURING = {"clean_shutdown": ["hard_shutdown", "hard_reboot"],
           "clean_reboot": ["hard_shutdown", "hard_reboot"]}


def allowed_operations(vm: dict[str, object]) -> list[str]:
    if vm.get("is_control_domain"):
        return []
    if vm.get("is_a_template") or vm.get("is_a_snapshot"):
        return list(_TEMPLATE)
    current = vm.get("current_operations") or {}
    assert isinstance(current, dict)
    if current:
        ops = set(current.values())
        return [op for op in _BY_STATE.get(str(vm.get("power_state")), [])
                if all(op in _DURING.get(str(o), []) for o in ops)]
    blocked = vm.get("blocked_operations") or {}
    assert isinstance(blocked, dict)
    return [op for op in _BY_STATE.get(str(vm.get("power_state")), []) if op not in blocked]


_VDI_OPS = ["clone", "copy", "snapshot", "resize", "update", "forget", "destroy",
            "generate_config", "mirror"]


def vdi_allowed_operations(attached: bool, kind: str) -> list[str]:
    """A disk in use by a running VM cannot be destroyed, forgotten or resized offline."""
    if kind == "suspend":
        return []
    return [op for op in _VDI_OPS
            if not attached or op not in ("destroy", "forget", "resize")]


def refresh_allowed(store: Store, vm_ref: str) -> None:
    store.mutate("VM", vm_ref, lambda vm: vm.__setitem__("allowed_operations",
                                                          allowed_operations(vm)))


def _add(row: dict[str, object], fieldname: str, ref: str) -> None:
    items = row.setdefault(fieldname, [])
    assert isinstance(items, list)
    if ref not in items:
        items.append(ref)


def _drop(row: dict[str, object], fieldname: str, ref: str) -> None:
    items = row.get(fieldname)
    if isinstance(items, list) and ref in items:
        items.remove(ref)


class PowerStates:
    """Moves a VM to a power state with every record xapi would change with it."""

    def __init__(self, store: Store, console_location: Callable[[str, str], str]) -> None:
        self.store = store
        self.console_location = console_location
        self._next_domid = 1

    def apply(self, vm_ref: str, state: str, host: str = NULL, reboot: bool = False) -> None:
        store = self.store
        with store.lock:
            vm = store.get("VM", vm_ref)
            before = vm.get("power_state")
            old_host = str(vm.get("resident_on", NULL))
            live = state in ("Running", "Paused")
            if not live:
                host = NULL
            elif host == NULL:
                host = old_host
            fields: dict[str, object] = {"power_state": state, "resident_on": host}
            if live and (before not in ("Running", "Paused") or reboot):
                fields["domid"] = self._next_domid
                self._next_domid += 1
            if not live:
                fields["domid"] = -1
            if old_host != host:
                if old_host in store.table("host"):
                    store.mutate("host", old_host, lambda h: _drop(h, "resident_VMs", vm_ref))
                if host in store.table("host"):
                    store.mutate("host", host, lambda h: _add(h, "resident_VMs", vm_ref))
            store.update("VM", vm_ref, **fields)
            for changed in {old_host, host} - {NULL}:
                self.host_memory(changed)
            self._devices(vm_ref, live)
            self._console(vm_ref, live)
            self._metrics(vm_ref, state, starting=live and before not in ("Running", "Paused"))
            refresh_allowed(store, vm_ref)

    def host_memory(self, host: str) -> None:
        """host_metrics.memory_free: the total less what the resident domains take."""
        store = self.store
        record = store.table("host").get(host)
        if record is None:
            return
        metrics = str(record.get("metrics"))
        if metrics not in store.table("host_metrics"):
            return
        vms = store.table("VM")
        used = sum(int_field(vms[v], "memory_target") or int_field(vms[v], "memory_static_max")
                   for v in set_field(record, "resident_VMs") if v in vms)
        total = int_field(store.table("host_metrics")[metrics], "memory_total")
        store.update("host_metrics", metrics, memory_free=max(0, total - used),
                     last_updated=now_datetime())

    def _devices(self, vm_ref: str, live: bool) -> None:
        vm = self.store.get("VM", vm_ref)
        for cls, fieldname in (("VBD", "VBDs"), ("VIF", "VIFs")):
            for ref in list(vm.get(fieldname, [])):  # type: ignore[call-overload]
                device = self.store.table(cls).get(ref)
                if device is None:
                    continue
                self.store.update(cls, ref, currently_attached=live)
                disk = str(device.get("VDI", NULL))
                if cls == "VBD" and disk in self.store.table("VDI"):
                    kind = str(self.store.table("VDI")[disk].get("type"))
                    self.store.update("VDI", disk,
                                      allowed_operations=vdi_allowed_operations(live, kind))

    def _console(self, vm_ref: str, live: bool) -> None:
        store = self.store
        vm = store.get("VM", vm_ref)
        consoles = [c for c in vm.get("consoles", []) if c in store.table("console")]  # type: ignore[attr-defined]
        if live and not consoles:
            record = schema.new_record("console", protocol="rfb", VM=vm_ref)
            ref = store.add("console", record)
            store.update("console", ref, location=self.console_location(ref, vm_ref))
            store.mutate("VM", vm_ref, lambda v: _add(v, "consoles", ref))
        elif not live and consoles:
            for ref in consoles:
                store.remove("console", ref)
            store.mutate("VM", vm_ref, lambda v: v.__setitem__("consoles", []))

    def _metrics(self, vm_ref: str, state: str, starting: bool) -> None:
        store = self.store
        guest = str(store.get("VM", vm_ref).get("guest_metrics", NULL))
        if guest in store.table("VM_guest_metrics"):
            store.update("VM_guest_metrics", guest, live=state == "Running",
                         last_updated=now_datetime())
        metrics = str(store.get("VM", vm_ref).get("metrics", NULL))
        if metrics not in store.table("VM_metrics"):
            return
        fields: dict[str, object] = {"state": [state.lower()], "last_updated": now_datetime()}
        vm = store.get("VM", vm_ref)
        live = state in ("Running", "Paused")
        fields["memory_actual"] = (int_field(vm, "memory_target")
                                   or int_field(vm, "memory_static_max")) if live else 0
        if starting:
            fields["start_time"] = now_datetime()
        store.update("VM_metrics", metrics, **fields)

