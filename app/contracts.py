"""The seams between app/'s parts, said once as protocols that mypy checks.

Commands, actions, tabs and the console code used to probe their collaborators
(``getattr(manager, "label", None)``, a signal looked up by name, a factory's signature
sniffed). Each needs a few calls of the connection manager, the inventory or a host, and
which ones is written here: a test double implements exactly these, and a missing
method is a type error instead of a silent fallback at run time.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Protocol

from PySide6.QtCore import SignalInstance

from connectors.libvirt.domxml.organize import OrgChange, Organization
from connectors.libvirt.host_networks import HostNetworks
from connectors.libvirt.host_storage import HostStorage
from connectors.libvirt.model import (ConnState, HostInfo, NetworkInfo, PoolInfo, VMAction,
                                      VMInfo)
from connectors.xapi.pool import XapiPool

if TYPE_CHECKING:
    from app.inventory import Node


class LifecycleHost(Protocol):
    """What VM lifecycle actions ask of any connection: a libvirt host or a XenAPI pool
    (connectors.xapi.pool.XapiPool)."""

    uri: str
    state: ConnState
    reason: str
    info: HostInfo | None
    is_demo: bool

    def vms(self) -> list[VMInfo]: ...

    def vm(self, key: str) -> VMInfo | None: ...

    def pools(self) -> list[PoolInfo]: ...

    def networks(self) -> list[NetworkInfo]: ...

    async def vm_action(self, key: str, action: VMAction,
                        progress: Callable[[float], None] | None = None) -> None:
        """``progress`` hears the fraction done, where the hypervisor reports it."""

    async def delete_vm(self, key: str, delete_storage: bool) -> list[str]: ...


class Host(LifecycleHost, Protocol):
    """What app/ asks of one libvirt connection (connectors.libvirt.host.LibvirtHost)."""

    storage: HostStorage            # pools and volumes (connectors/libvirt/host_storage.py)
    networking: HostNetworks        # virtual networks and leases (host_networks.py)

    async def domain_xml(self, key: str, secure: bool = False) -> str: ...

    async def change_organization(self, key: str, change: OrgChange) -> Organization: ...

    async def set_description(self, key: str, text: str) -> None: ...


class Connections(Protocol):
    """The connection manager as commands and views use it (app.connection_manager)."""

    @property
    def stateChanged(self) -> SignalInstance: ...  # noqa: N802 - Qt's signal name

    def host(self, conn_id: str) -> Host | None: ...

    def server(self, conn_id: str) -> LifecycleHost | None: ...

    def pool(self, conn_id: str) -> XapiPool | None: ...

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

    def host_node(self, conn_id: str) -> Node | None: ...

    def vms(self, conn_id: str) -> list[VMInfo]: ...

    def control_domain(self, conn_id: str) -> VMInfo | None:
        """A Xen host's Dom0: not a row of the tree, shown with its host."""


class UsageSource(Protocol):
    """What fills the CPU and Memory columns (app.perf.usage.UsageColumns)."""

    def usage(self, node: Node, for_sorting: bool = False
              ) -> tuple[float, float, str] | None:
        """(cpu_percent, memory fraction, memory text); ``for_sorting``: the sort proxy
        asks, not a painted cell."""

    def tooltip(self, node: Node, column: int) -> str | None:
        """The numbers behind a cell (asked only when hovered)."""

    def header_tooltip(self, column: int) -> str | None:
        """What the column means."""
