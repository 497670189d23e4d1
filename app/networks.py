"""A network's definition for its page, and network work as tasks.

The tree's ``NetworkInfo`` says name, state, bridge and mode; the page also shows the
subnets, DHCP range, fixed hosts and DNS domain, read from the network's XML when it is
shown and again whenever its record changes (libvirt's network events, our own actions).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from app.actions.base import ActionContext
from app.actions.storage import DefineNetwork, UpdateDhcp
from app.spawn import spawn
from connectors.libvirt.model import ConnectorError, NetworkInfo
from connectors.libvirt.net_xml import NetworkDetails, NetworkSpec, StaticHost

if TYPE_CHECKING:
    from app.tasks import Task


class NetworkPage(QObject):
    """``loaded(details or None)``; ``failed(sentence)``."""

    loaded = Signal(object)
    failed = Signal(str)

    def __init__(self, manager: Any, inventory: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.manager, self.inventory = manager, inventory
        self.conn_id: str | None = None
        self.key: str | None = None
        self.details: NetworkDetails | None = None
        self._last: NetworkInfo | None = None
        inventory.batchApplied.connect(self._on_batch)

    def show(self, conn_id: str | None, key: str | None) -> None:
        if (conn_id, key) == (self.conn_id, self.key):
            return
        self.conn_id, self.key = conn_id, key
        self.details = None
        self._last = self.network()
        self.reload()

    def network(self) -> NetworkInfo | None:
        if self.conn_id is None or self.key is None:
            return None
        node = self.inventory.node(self.conn_id, self.key)
        return node.obj if node is not None and isinstance(node.obj, NetworkInfo) else None

    def reload(self, *_args: object) -> None:
        if self.conn_id is None or self.key is None:
            self.loaded.emit(None)
            return
        spawn(self._load(self.conn_id, self.key))

    async def _load(self, conn_id: str, key: str) -> None:
        host = self.manager.host(conn_id)
        if host is None:
            return
        try:
            details = await host.networking.details(key)
        except ConnectorError as err:
            if (conn_id, key) == (self.conn_id, self.key):
                self.failed.emit(str(err))
            return
        if (conn_id, key) == (self.conn_id, self.key):
            self.details = details
            self.loaded.emit(details)

    def _on_batch(self, keys: set[tuple[str, str]]) -> None:
        if self.conn_id is not None and (self.conn_id, self.key) in keys:
            now = self.network()
            if now != self._last:
                self._last = now
                self.reload()


class NetworkActions:
    """New networks and DHCP changes as tasks (app/actions/storage.py)."""

    def __init__(self, ctx: ActionContext) -> None:
        self.ctx = ctx

    def define(self, conn_id: str, spec: NetworkSpec, start: bool, autostart: bool) -> Task:
        return self.ctx.tasks.run_action(DefineNetwork(self.ctx, conn_id, spec, start,
                                                       autostart))

    def update_dhcp(self, conn_id: str, network: NetworkInfo, start: str, end: str,
                    hosts: tuple[StaticHost, ...]) -> Task:
        return self.ctx.tasks.run_action(UpdateDhcp(self.ctx, conn_id, network.key,
                                                    network.name, start, end, hosts))
