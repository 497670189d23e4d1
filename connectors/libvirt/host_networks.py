"""A host's virtual networks, as async calls: ``LibvirtHost.networking``.

The blocking work is network_ops.py's, run in the host's worker pool with the call
timeout; failures come back as sentences naming the network. Which VMs use a network
comes from the host's live VM records (their NICs), not from another call.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol, TypeVar

import libvirt

from connectors.libvirt import network_ops
from connectors.libvirt.model import NetworkInfo, ObjectKind, VMInfo
from connectors.libvirt.net_xml import NetworkDetails, NetworkSpec, StaticHost
from connectors.libvirt.network_ops import Lease

T = TypeVar("T")
Ref = tuple[ObjectKind, str]


class NetworkRunner(Protocol):
    def vms(self) -> list[VMInfo]: ...
    def networks(self) -> list[NetworkInfo]: ...
    async def run_action(self, fn: Callable[[libvirt.virConnect], T], failed: str,
                         doing: str, refresh: Iterable[Ref] = ()) -> T: ...
    async def refresh_objects(self, refs: Iterable[Ref]) -> None: ...


_OP_WORDS = {"start": "start", "stop": "stop",
             "autostart": "turn on autostart for", "no-autostart": "turn off autostart for"}


class HostNetworks:
    def __init__(self, host: NetworkRunner) -> None:
        self._host = host

    def _name(self, key: str) -> str:
        for found in self._host.networks():
            if found.key == key:
                return found.name
        return key

    def users(self, name: str, running_only: bool = False) -> list[str]:
        return network_ops.users(self._host.vms(), name, running_only)

    async def define(self, spec: NetworkSpec, start: bool = True,
                     autostart: bool = True) -> str:
        key = await self._host.run_action(
            lambda c: network_ops.define_network(c, spec, start, autostart),
            f"Could not create network {spec.name}", f"while creating network {spec.name}")
        await self._host.refresh_objects([(ObjectKind.NETWORK, key)])
        return key

    async def network_op(self, key: str, op: str) -> None:
        name = self._name(key)
        await self._host.run_action(lambda c: network_ops.network_op(c, key, op),
                                    f"Could not {_OP_WORDS[op]} network {name}",
                                    f"while asked to {_OP_WORDS[op]} network {name}",
                                    [(ObjectKind.NETWORK, key)])

    async def delete(self, key: str) -> None:
        name, vms = self._name(key), self._host.vms()
        await self._host.run_action(lambda c: network_ops.delete_network(c, key, vms),
                                    f"Could not delete network {name}",
                                    f"while deleting network {name}",
                                    [(ObjectKind.NETWORK, key)])

    async def details(self, key: str) -> NetworkDetails:
        return await self._host.run_action(lambda c: network_ops.details(c, key),
                                           f"Could not read network {self._name(key)}",
                                           "reading a network")

    async def all_details(self) -> list[NetworkDetails]:
        return await self._host.run_action(network_ops.all_details,
                                           "Could not read the host's networks",
                                           "reading networks")

    async def leases(self, keys: Iterable[str] | None = None) -> list[Lease]:
        wanted = None if keys is None else list(keys)
        return await self._host.run_action(lambda c: network_ops.leases(c, wanted),
                                           "Could not read the DHCP leases",
                                           "reading DHCP leases")

    async def host_bridges(self) -> list[str]:
        return await self._host.run_action(network_ops.host_bridges,
                                           "Could not list the host's bridges",
                                           "listing bridges")

    async def update_dhcp(self, key: str, start: str, end: str,
                          hosts: tuple[StaticHost, ...]) -> None:
        name = self._name(key)
        await self._host.run_action(
            lambda c: network_ops.update_dhcp(c, key, start, end, hosts),
            f"Could not change DHCP of network {name}", f"while changing network {name}",
            [(ObjectKind.NETWORK, key)])
