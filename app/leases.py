"""DHCP leases of a host's virtual networks: which VM got which address.

libvirt sends no event when dnsmasq hands out a lease, so the leases of a host are
read every ``INTERVAL_MS`` while something on screen shows them (the network's page, a
VM's General tab) and never otherwise: ``watch(conn_id)`` / ``unwatch(conn_id)``
count the viewers. One read per host and tick covers every network of the host.
"""
from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from app.qt_types import AnyIndex
from app.row_table import RowTable
from app.spawn import spawn
from connectors.libvirt.model import ConnectorError, ConnState, VMInfo
from connectors.libvirt.network_ops import Lease

log = logging.getLogger(__name__)

INTERVAL_MS = 3000
COLUMNS = ("IP address", "MAC address", "Host name", "VM", "Network", "Expires")


class LeaseWatcher(QObject):
    """``changed(conn_id)`` after each read that found something different."""

    changed = Signal(str)

    def __init__(self, manager: Any, parent: QObject | None = None,
                 interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self.manager = manager
        self._leases: dict[str, list[Lease]] = {}
        self._watchers: Counter[str] = Counter()
        self._busy: set[str] = set()
        self._timer = QTimer(self, interval=interval_ms)
        self._timer.timeout.connect(self.poll)

    def watch(self, conn_id: str) -> None:
        self._watchers[conn_id] += 1
        if not self._timer.isActive():
            self._timer.start()
        self._read(conn_id)

    def unwatch(self, conn_id: str) -> None:
        if self._watchers[conn_id] > 0:
            self._watchers[conn_id] -= 1
        if self._watchers[conn_id] <= 0:
            del self._watchers[conn_id]
        if not self._watchers:
            self._timer.stop()

    def leases(self, conn_id: str, network: str | None = None) -> list[Lease]:
        return [lease for lease in self._leases.get(conn_id, ())
                if network is None or lease.network == network]

    def addresses(self, conn_id: str, vm: VMInfo) -> list[Lease]:
        """The VM's leases in the order of its NICs (its first NIC's address first)."""
        order = {nic.mac.lower(): index for index, nic in enumerate(vm.nics)}
        mine = [lease for lease in self._leases.get(conn_id, ()) if lease.mac in order]
        return sorted(mine, key=lambda lease: (order[lease.mac], lease.ipv6, lease.ip))

    def vm_of(self, conn_id: str, mac: str) -> str:
        host = self.manager.host(conn_id)
        if host is None:
            return ""
        for vm in host.vms():
            if any(nic.mac.lower() == mac for nic in vm.nics):
                return str(vm.name)
        return ""

    def poll(self) -> None:
        for conn_id in list(self._watchers):
            self._read(conn_id)

    def _read(self, conn_id: str) -> None:
        if conn_id in self._busy:
            return
        host = self.manager.host(conn_id)
        if host is None or host.state is not ConnState.CONNECTED:
            return
        self._busy.add(conn_id)
        if spawn(self._load(conn_id, host)) is None:
            self._busy.discard(conn_id)

    async def _load(self, conn_id: str, host: Any) -> None:
        try:
            found = await host.networking.leases()
        except ConnectorError as err:
            log.info("leases of %s: %s", conn_id, err)
            return
        finally:
            self._busy.discard(conn_id)
        if found != self._leases.get(conn_id):
            self._leases[conn_id] = found
            self.changed.emit(conn_id)


class LeasesModel(RowTable[tuple[Lease, str]]):
    """The leases of one network (or of a whole host) as rows, with the VM of each."""

    columns = COLUMNS

    def __init__(self, watcher: LeaseWatcher, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.watcher = watcher
        self._where: tuple[str, str | None] | None = None
        watcher.changed.connect(self._changed)

    def show(self, conn_id: str | None, network: str | None = None) -> None:
        """Follow the leases of ``network`` on this host (None: every network)."""
        where = None if conn_id is None else (conn_id, network)
        if where == self._where:
            return
        if self._where is not None:
            self.watcher.unwatch(self._where[0])
        self._where = where
        if where is not None:
            self.watcher.watch(where[0])
        self._reload()

    def _changed(self, conn_id: str) -> None:
        if self._where is not None and self._where[0] == conn_id:
            self._reload()

    def _reload(self) -> None:
        rows: list[tuple[Lease, str]] = []
        if self._where is not None:
            conn_id, network = self._where
            rows = [(lease, self.watcher.vm_of(conn_id, lease.mac))
                    for lease in self.watcher.leases(conn_id, network)]
        self.set_rows(rows)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        row = self.row_at(index.row())
        if role != Qt.ItemDataRole.DisplayRole or row is None:
            return None
        lease, vm = row
        left = max(0, lease.expires - int(time.time()))
        expires = f"in {left // 60} min" if lease.expires else "never"
        return (f"{lease.ip}/{lease.prefix}", lease.mac, lease.hostname or "—", vm or "—",
                lease.network, expires)[index.column()]
