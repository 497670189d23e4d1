"""Opens the New Storage Pool and New Network wizards for a host, after asking the host
what they need to be honest (its pool types, its other networks and bridges), and hands
their answers to app's tasks."""
from __future__ import annotations

import asyncio
import socket
from typing import Any

from PySide6.QtWidgets import QWidget

from app.actions.base import ActionContext
from app.networks import NetworkActions
from app.storage import StorageActions
from connectors.libvirt.model import ConnectorError
from connectors.libvirt.storage_xml import POOL_TYPES
from widgets.dialogs.new_network.wizard import NewNetworkWizard
from widgets.dialogs.new_pool.wizard import NewPoolWizard


class AdminWizards:
    def __init__(self, window: Any, manager: Any, ctx: ActionContext) -> None:
        self.window, self.manager = window, manager
        self.storage = StorageActions(ctx)
        self.networks = NetworkActions(ctx)
        self.open_dialog: QWidget | None = None

    def new_pool(self, conn_id: str) -> None:
        asyncio.ensure_future(self._new_pool(conn_id))

    def new_network(self, conn_id: str) -> None:
        asyncio.ensure_future(self._new_network(conn_id))

    async def _new_pool(self, conn_id: str) -> NewPoolWizard | None:
        host = self.manager.host(conn_id)
        if host is None:
            return None
        try:
            caps = await host.storage.capabilities()
        except ConnectorError as err:
            self.window.show_warning("New Storage Pool", str(err))
            return None
        offers = {kind: caps.pool_type(kind) for kind in POOL_TYPES}
        hostname = host.info.hostname if host.info is not None else socket.gethostname()
        initiator = f"iqn.2026-01.org.hvconsole:{hostname.split('.')[0] or 'host'}"
        wizard = NewPoolWizard(self.manager.label(conn_id), offers,
                               {p.name for p in host.pools()}, host.storage.find_sources,
                               initiator, self.window)
        wizard.accepted.connect(lambda: self.storage.define_pool(conn_id, wizard.new_pool()))
        wizard.finished.connect(wizard.deleteLater)
        self.open_dialog = wizard
        wizard.open()
        return wizard

    async def _new_network(self, conn_id: str) -> NewNetworkWizard | None:
        host = self.manager.host(conn_id)
        if host is None:
            return None
        try:
            others = await host.networking.all_details()
            bridges = await host.networking.host_bridges()
        except ConnectorError as err:
            self.window.show_warning("New Network", str(err))
            return None
        wizard = NewNetworkWizard(self.manager.label(conn_id), others, bridges, self.window)
        wizard.accepted.connect(lambda: self.networks.define(
            conn_id, wizard.spec(), wizard.start_now(), wizard.autostart()))
        wizard.finished.connect(wizard.deleteLater)
        self.open_dialog = wizard
        wizard.open()
        return wizard
