"""A VM's snapshots for the Snapshots tab: the tree (parent → children, the current one
marked) as a Qt model, what may be done now with the reason when not, and the actions
(take, revert, delete, edit), each awaited in the host's worker pool.

libvirt sends no events for snapshots, so the model is read again after each action and
whenever the tab shows another VM (or the user asks).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Protocol, TypeVar

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QFont, QStandardItem, QStandardItemModel

from connectors.libvirt import capabilities, snapshot_ops
from connectors.libvirt.capabilities import YES, HostCapabilities, Offer
from connectors.libvirt.model import VMInfo, VMState
from connectors.libvirt.snapshot_ops import (SNAPSHOT_TIMEOUT_S, SnapshotInfo,
                                             SnapshotOffers, TakeRequest)

T = TypeVar("T")
COLUMNS = ("Name", "Taken", "State", "Description")
INFO_ROLE = Qt.ItemDataRole.UserRole + 1

STATE_WORDS = {"running": "with memory (running)", "paused": "with memory (paused)",
               "shutoff": "disk only (shut off)", "disk-snapshot": "disk only",
               "crashed": "disk only (crashed)", "pmsuspended": "with memory (suspended)"}


class SnapshotHost(Protocol):
    def run(self, job: Callable[[Any], T], failed: str, *,
            timeout_s: float | None = None) -> Awaitable[T]: ...


def state_words(info: SnapshotInfo) -> str:
    if info.has_memory:
        return STATE_WORDS.get(info.state, "with memory")
    return STATE_WORDS.get(info.state, "disk only") if info.state != "running" else \
        "disk only (running)"


def when_words(created: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(created)) if created else ""


class SnapshotTreeModel(QStandardItemModel):
    """Name, Taken, State, Description; children under their parent; the current
    snapshot in bold with "(current)" after its name."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(list(COLUMNS))

    def set_snapshots(self, snapshots: list[SnapshotInfo]) -> None:
        self.removeRows(0, self.rowCount())
        rows: dict[str, QStandardItem] = {}
        for info in snapshots:                      # parents come first (topological)
            name = info.name + ("  (current)" if info.current else "")
            items = [QStandardItem(text) for text in (
                name, when_words(info.created),
                f"{state_words(info)}, {info.kind}", info.description)]
            for item in items:
                item.setEditable(False)
                item.setData(info, INFO_ROLE)
                item.setToolTip("\n".join(x for x in (info.description,
                                                      ", ".join(info.files)) if x))
            if info.current:
                bold = QFont()
                bold.setBold(True)
                for item in items:
                    item.setFont(bold)
            holder = rows.get(info.parent or "")
            (holder.appendRow if holder is not None else self.appendRow)(items)
            rows[info.name] = items[0]

    def find(self, name: str) -> QStandardItem | None:
        for item in self._items(self.invisibleRootItem()):
            info = item.data(INFO_ROLE)
            if info is not None and info.name == name:
                return item
        return None

    def _items(self, parent: QStandardItem) -> list[QStandardItem]:
        found = []
        for row in range(parent.rowCount()):
            child = parent.child(row, 0)
            found.append(child)
            found += self._items(child)
        return found


@dataclass(frozen=True)
class Abilities:
    """What the tab's buttons may do for the VM and the selected snapshot."""

    take: Offer
    revert: Offer
    delete: Offer
    edit: Offer


class SnapshotsController(QObject):
    """The tab's snapshots of one VM: read, changed, and what is offered."""

    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = SnapshotTreeModel(self)
        self.host: SnapshotHost | None = None
        self.vm: VMInfo | None = None
        self.snapshots: list[SnapshotInfo] = []
        self.offers: SnapshotOffers | None = None
        self.supported: Offer = YES
        self._host_caps: dict[int, HostCapabilities] = {}

    def set_vm(self, host: SnapshotHost | None, vm: VMInfo | None) -> None:
        self.host, self.vm = host, vm
        self.supported = snapshot_ops.snapshots_supported(vm.domain_type) if vm else YES
        self.snapshots, self.offers = [], None
        self.model.set_snapshots([])
        self.changed.emit()

    async def refresh(self) -> None:
        host, vm = self.host, self.vm
        if host is None or vm is None or not self.supported:
            return
        key = vm.key
        caps = self._host_caps.get(id(host))
        if caps is None:
            caps = await host.run(capabilities.read_host_capabilities,
                                  "Could not read what the host offers")
            self._host_caps[id(host)] = caps
        found = await host.run(lambda c: snapshot_ops.list_snapshots(c, key),
                               f"Could not list the snapshots of {vm.name}")
        offers = await host.run(lambda c: snapshot_ops.offers(c, key, caps),
                                f"Could not read what {vm.name} can snapshot")
        if self.vm is not vm:
            return                                   # another VM was selected meanwhile
        self.snapshots, self.offers = found, offers
        self.model.set_snapshots(found)
        self.changed.emit()

    # ---- what is offered ----

    def current_kind(self) -> str | None:
        return self.offers.existing_kind if self.offers else None

    def abilities(self, selected: SnapshotInfo | None) -> Abilities:
        if not self.supported:
            no = self.supported
            return Abilities(no, no, no, no)
        if self.offers is None or self.vm is None:
            wait = Offer(False, "Reading the VM's snapshots…")
            return Abilities(wait, wait, wait, wait)
        take = YES if (self.offers.internal or self.offers.external) else Offer(
            False, self.offers.internal.reason)
        pick = Offer(False, "Select a snapshot.")
        if selected is None:
            return Abilities(take, pick, pick, pick)
        revert = YES
        if selected.external and not self.offers.revert_external:
            revert = self.offers.revert_external
        return Abilities(take, revert, YES, YES)

    def rename_offer(self, snapshot: SnapshotInfo) -> Offer:
        if snapshot.external:
            return YES
        return Offer(False, "An internal snapshot's name is also its name inside each "
                            "disk image, which libvirt does not rename.")

    def default_name(self) -> str:
        taken = {s.name for s in self.snapshots}
        stamp = time.strftime("%Y-%m-%d %H:%M")
        name, n = stamp, 2
        while name in taken:
            name, n = f"{stamp} ({n})", n + 1
        return name

    def running(self) -> bool:
        return self.vm is not None and self.vm.state in (VMState.RUNNING, VMState.PAUSED)

    # ---- actions ----

    async def take(self, request: TakeRequest) -> SnapshotInfo:
        host, vm = self._target()
        info = await host.run(lambda c: snapshot_ops.take(c, vm.key, request),
                              f"Could not take a snapshot of {vm.name}",
                              timeout_s=SNAPSHOT_TIMEOUT_S)
        await self.refresh()
        return info

    async def revert(self, name: str, running: bool) -> None:
        host, vm = self._target()
        await host.run(lambda c: snapshot_ops.revert(c, vm.key, name, running=running),
                       f"Could not revert {vm.name} to {name}",
                       timeout_s=SNAPSHOT_TIMEOUT_S)
        await self.refresh()

    async def delete(self, name: str, children: bool) -> None:
        host, vm = self._target()
        await host.run(lambda c: snapshot_ops.delete(c, vm.key, name, children=children),
                       f"Could not delete the snapshot {name} of {vm.name}",
                       timeout_s=SNAPSHOT_TIMEOUT_S)
        await self.refresh()

    async def edit(self, name: str, description: str, new_name: str | None) -> None:
        host, vm = self._target()
        await host.run(lambda c: snapshot_ops.edit(c, vm.key, name, description, new_name),
                       f"Could not change the snapshot {name} of {vm.name}")
        await self.refresh()

    def _target(self) -> tuple[SnapshotHost, VMInfo]:
        if self.host is None or self.vm is None:
            raise LookupError("no VM is selected")
        return self.host, self.vm
