"""The seams between app/'s parts, said once as protocols that mypy checks.

Commands, actions, tabs and the console code used to probe their collaborators
(``getattr(manager, "label", None)``, a signal looked up by name, a factory's signature
sniffed). Each needs a few calls of the connection manager, the inventory or a host, and
which ones is written here: a test double implements exactly these, and a missing
method is a type error instead of a silent fallback at run time.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import SignalInstance

from connectors.libvirt.model import ConnState, HostInfo, VMAction, VMInfo

if TYPE_CHECKING:
    from app.inventory import Node


class Host(Protocol):
    """What app/ asks of one connection (connectors.libvirt.host.LibvirtHost)."""

    uri: str
    state: ConnState
    reason: str
    info: HostInfo | None
    is_demo: bool

    def vms(self) -> list[VMInfo]: ...

    def vm(self, key: str) -> VMInfo | None: ...

    async def vm_action(self, key: str, action: VMAction) -> None: ...

    async def delete_vm(self, key: str, delete_storage: bool) -> list[str]: ...

    async def domain_xml(self, key: str, secure: bool = False) -> str: ...


class Connections(Protocol):
    """The connection manager as commands and views use it (app.connection_manager)."""

    @property
    def stateChanged(self) -> SignalInstance: ...  # noqa: N802 - Qt's signal name

    def host(self, conn_id: str) -> Host | None: ...

    def state(self, conn_id: str) -> tuple[ConnState, str]: ...

    def label(self, conn_id: str) -> str: ...

    def conn_ids(self) -> list[str]: ...

    async def disconnect_server(self, conn_id: str) -> None: ...

    async def reconnect(self, conn_id: str) -> None: ...

    async def remove(self, conn_id: str) -> None: ...


class Inventory(Protocol):
    """The tree's model as commands and views use it (app.inventory.InventoryModel)."""

    @property
    def batchApplied(self) -> SignalInstance: ...  # noqa: N802 - Qt's signal name

    def node(self, conn_id: str, key: str) -> Node | None: ...

    def vms(self, conn_id: str) -> list[VMInfo]: ...
