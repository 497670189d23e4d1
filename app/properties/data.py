"""Everything the Properties pages show, read from the host in one go before the dialog
opens: the definition (next start and running), the host's and hypervisor's
capabilities (what the pages offer), the pools' volumes (existing disks, ISO images),
the host's networks and its USB devices.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Protocol, TypeVar

from connectors.libvirt import capabilities, domain_ops, domxml, nodedev
from connectors.libvirt.capabilities import DomainCapabilities, HostCapabilities
from connectors.libvirt.domain_ops import DomainFacts, PoolVolume
from connectors.libvirt.model import ActionError, NetworkInfo, PoolInfo, VMInfo
from connectors.libvirt.nodedev import UsbDevice

T = TypeVar("T")


class PropertiesHost(Protocol):
    """What Properties and Snapshots need of a host connection (LibvirtHost has it)."""

    def run(self, job: Callable[[Any], T], failed: str, *,
            timeout_s: float | None = None) -> Awaitable[T]: ...
    def vm(self, key: str) -> VMInfo | None: ...
    def vms(self) -> list[VMInfo]: ...
    def networks(self) -> list[NetworkInfo]: ...
    def pools(self) -> list[PoolInfo]: ...


@dataclass(frozen=True)
class PropertiesData:
    vm: VMInfo
    facts: DomainFacts
    host: HostCapabilities
    domain: DomainCapabilities | None           # None: the host did not say (Xen, test)
    volumes: tuple[PoolVolume, ...] = ()
    networks: tuple[NetworkInfo, ...] = ()
    pools: tuple[PoolInfo, ...] = ()
    usb: tuple[UsbDevice, ...] = ()
    notes: tuple[str, ...] = field(default=())  # what could not be read, in words
    other_names: frozenset[str] = frozenset()    # the host's other VMs (rename clashes)

    @property
    def isos(self) -> list[PoolVolume]:
        return [v for v in self.volumes if v.is_iso]

    @property
    def running(self) -> bool:
        return self.facts.active


async def load(host: PropertiesHost, key: str) -> PropertiesData:
    """Raises ActionError when the VM or its definition cannot be read; what only some
    pages need (capabilities, volumes, USB devices) becomes a note instead."""
    vm = host.vm(key)
    if vm is None:
        raise ActionError("The VM is no longer on this host.")
    facts = await host.run(lambda c: domain_ops.read_facts(c, key),
                           f"Could not read the definition of {vm.name}")
    notes: list[str] = []
    host_caps = await host.run(capabilities.read_host_capabilities,
                               f"Could not read what {vm.name}'s host offers")
    domain_caps: DomainCapabilities | None = None
    definition = domxml.parse(facts.config_xml)
    os_node = definition.os_if_any
    if vm.domain_type in ("kvm", "qemu"):
        try:
            domain_caps = await host.run(
                lambda c: capabilities.read_domain_capabilities(
                    c, os_node.arch if os_node else None, vm.domain_type,
                    os_node.machine if os_node else None),
                "Could not read what the hypervisor offers")
        except ActionError as err:
            notes.append(str(err))
    volumes: list[PoolVolume] = []
    try:
        volumes = await host.run(domain_ops.pool_volumes, "Could not list the volumes")
    except ActionError as err:
        notes.append(str(err))
    usb: list[UsbDevice] = []
    try:
        usb = await host.run(nodedev.usb_devices, "Could not list the host's USB devices")
    except ActionError as err:
        notes.append(str(err))
    return PropertiesData(vm, facts, host_caps, domain_caps, tuple(volumes),
                          tuple(host.networks()), tuple(host.pools()), tuple(usb),
                          tuple(notes),
                          frozenset(v.name for v in host.vms() if v.key != key))
