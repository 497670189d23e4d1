"""The pool's objects as XAPI last described them, and the tree's changes they make.

XenCenter's way (XenObjectDownloader): one ``event.from`` stream of add/mod/del per
object, applied to a cache by reference; here each applied event also yields the
``Change`` records the tree consumes (connectors.libvirt.model), worked out from the cache
so that cross references resolve: a VM's ``resident_on`` is a host *ref*, shown as the
member's UUID; a host's liveness sits in its host_metrics; which host is the master is a
field of the pool. Templates and snapshots are kept (a VM counts its snapshots) but are
never VM rows; a VM that becomes a template leaves the tree.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from connectors.libvirt.model import (Change, HostInfo, InventoryObject, ObjectKind,
                                      ServerInfo)
from connectors.xapi import records

# What the tree and the commands need; "message" feeds Alerts and Events.
CLASSES = ("pool", "host", "host_metrics", "VM", "SR", "network", "task", "message")
# XAPI names classes in events in lower case ("vm", "sr"); the API calls them VM, SR.
_CANONICAL = {name.lower(): name for name in CLASSES}
_KIND = {"VM": ObjectKind.VM, "host": ObjectKind.SERVER, "SR": ObjectKind.POOL,
         "network": ObjectKind.NETWORK}


@dataclass(frozen=True)
class XapiEvent:
    cls: str
    operation: str          # "add", "mod", "del"
    ref: str
    snapshot: Mapping[str, Any] | None


def parse_events(batch: object) -> tuple[list[XapiEvent], str]:
    """event.from's answer: its events and the next token (ValueError if malformed)."""
    if not isinstance(batch, Mapping):
        raise ValueError("event.from did not answer a struct")
    token = batch.get("token")
    events = batch.get("events")
    if not isinstance(token, str) or not isinstance(events, list):
        raise ValueError("event.from's answer lacks its events or token")
    out = []
    for raw in events:
        if not isinstance(raw, Mapping):
            continue
        cls, op, ref = raw.get("class"), raw.get("operation"), raw.get("ref")
        if not isinstance(cls, str) or not isinstance(op, str) or not isinstance(ref, str):
            continue
        snapshot = raw.get("snapshot")
        out.append(XapiEvent(_CANONICAL.get(cls.lower(), cls), op, ref,
                             snapshot if isinstance(snapshot, Mapping) else None))
    return out, token


class PoolCache:
    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.objects: dict[str, dict[str, Mapping[str, Any]]] = {c: {} for c in CLASSES}
        self._shown: dict[str, tuple[ObjectKind, str]] = {}    # ref -> row shown

    # ---- lookups ----

    def ref_of(self, cls: str, uuid: str) -> str | None:
        for ref, record in self.objects[cls].items():
            if record.get("uuid") == uuid:
                return ref
        return None

    def record(self, cls: str, ref: str) -> Mapping[str, Any] | None:
        return self.objects.get(cls, {}).get(ref)

    @property
    def master_ref(self) -> str:
        for pool in self.objects["pool"].values():
            return str(pool.get("master", ""))
        return ""

    def server_uuids(self) -> dict[str, str]:
        return {ref: str(r.get("uuid", "")) for ref, r in self.objects["host"].items()}

    def host_address(self, ref: str) -> str:
        record = self.objects["host"].get(ref)
        return str(record.get("address", "")) if record else ""

    def servers(self) -> list[ServerInfo]:
        return [self._server(ref) for ref in self.objects["host"]]

    def pool_info(self) -> HostInfo:
        pool = next(iter(self.objects["pool"].values()), None)
        return records.pool_host_info(self.uri, pool, self.objects["host"].get(
            self.master_ref), self.servers())

    # ---- applying ----

    def load(self, events: Iterable[XapiEvent]) -> list[Change]:
        """A whole picture (event.from with an empty token): every row, for a full
        InventoryChanged; no per-event bookkeeping (5,000 VMs load in one pass)."""
        for event in events:
            table = self.objects.get(event.cls)
            if table is not None and event.snapshot is not None and event.operation != "del":
                table[event.ref] = event.snapshot
        return self.snapshot()

    def apply(self, events: Iterable[XapiEvent]) -> list[Change]:
        """Applies events in order; the tree's net changes, one per row touched."""
        touched: dict[str, None] = {}
        master_before = self.master_ref
        for event in events:
            table = self.objects.get(event.cls)
            if table is None:
                continue
            if event.operation == "del":
                table.pop(event.ref, None)
            elif event.snapshot is not None:
                table[event.ref] = event.snapshot
            touched.update(self._rows_behind(event))
        master_after = self.master_ref
        if master_after != master_before:
            touched.update({master_before: None, master_after: None})
        return [change for ref in touched if (change := self._change(ref)) is not None]

    def _rows_behind(self, event: XapiEvent) -> dict[str, None]:
        """The refs of the rows an event changes."""
        if event.cls in _KIND:
            rows = {event.ref: None}
            if event.cls == "VM" and event.snapshot is not None and \
                    event.snapshot.get("is_control_domain"):
                # A dom0 shows with its host.
                rows.update({ref: None for ref, host in self.objects["host"].items()
                             if host.get("control_domain") == event.ref})
            if event.cls == "host":
                # The VMs resident on it show its UUID: a new host makes them movable.
                rows.update({ref: None for ref, vm in self.objects["VM"].items()
                             if vm.get("resident_on") == event.ref})
            return rows
        if event.cls == "host_metrics":
            return {ref: None for ref, host in self.objects["host"].items()
                    if host.get("metrics") == event.ref}
        return {}

    def _change(self, ref: str, servers: Mapping[str, str] | None = None) -> Change | None:
        for cls, kind in _KIND.items():
            record = self.objects[cls].get(ref)
            if record is None:
                continue
            if cls == "VM" and not records.is_vm_row(record):
                break           # a template or snapshot: gone from the tree if shown
            key = str(record.get("uuid", ""))
            self._shown[ref] = (kind, key)
            return Change(kind, key, self._build(cls, ref, record, servers))
        shown = self._shown.pop(ref, None)
        if shown is None:
            return None
        return Change(shown[0], shown[1], None)

    def _build(self, cls: str, ref: str, record: Mapping[str, Any],
               servers: Mapping[str, str] | None = None) -> InventoryObject:
        if cls == "VM":
            return records.vm_info(record, self.server_uuids() if servers is None
                                   else servers)
        if cls == "host":
            return self._server(ref)
        if cls == "SR":
            return records.sr_info(record)
        return records.network_info(record)

    def _server(self, ref: str) -> ServerInfo:
        record = self.objects["host"][ref]
        metrics = self.objects["host_metrics"].get(str(record.get("metrics", "")))
        dom0 = self.objects["VM"].get(str(record.get("control_domain", "")))
        return records.server_info(record, metrics, ref == self.master_ref,
                                   records.vm_info(dom0, {}) if dom0 else None)

    def snapshot(self) -> list[Change]:
        """Every row, for a full InventoryChanged after (re)connecting."""
        self._shown.clear()
        servers = self.server_uuids()
        refs = [ref for cls in _KIND for ref in self.objects[cls]]
        return [change for ref in refs
                if (change := self._change(ref, servers)) is not None]

