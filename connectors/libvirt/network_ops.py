"""What the user does to virtual networks, as blocking calls on one connection (run them
in the host's worker pool: connectors.libvirt.host_networks does).

A network is checked against the host's other networks before it is defined, and a
definition whose start fails is removed again, so a refused network leaves nothing
behind. DHCP ranges and fixed hosts of a running network change through libvirt's
network update, live and in the definition at once, without restarting it.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

import libvirt

from connectors.libvirt.model import ActionError, VMInfo
from connectors.libvirt.net_xml import NetworkDetails, NetworkSpec, StaticHost, parse_network


@dataclass(frozen=True)
class Lease:
    """One DHCP lease dnsmasq handed out on a libvirt network."""

    network: str
    mac: str
    ip: str
    prefix: int
    hostname: str
    expires: int            # seconds since the epoch
    ipv6: bool = False


def network(conn: libvirt.virConnect, key: str) -> libvirt.virNetwork:
    return conn.networkLookupByUUIDString(key)


def all_details(conn: libvirt.virConnect) -> list[NetworkDetails]:
    """Every network as it is now; one removed between the listing and the read of its
    XML (by another client, in that instant) is left out, not an error of the caller's
    (a new network's overlap check failed on somebody else's delete)."""
    found = []
    for net in conn.listAllNetworks(0):
        try:
            found.append(parse_network(net.XMLDesc(0)))
        except libvirt.libvirtError as err:
            if err.get_error_code() != libvirt.VIR_ERR_NO_NETWORK:
                raise
    return found


def details(conn: libvirt.virConnect, key: str) -> NetworkDetails:
    return parse_network(network(conn, key).XMLDesc(0))


def define_network(conn: libvirt.virConnect, spec: NetworkSpec, start: bool = True,
                   autostart: bool = True) -> str:
    """Checks, defines, starts; the network's UUID. Refusals are sentences, and a
    network whose start fails is undefined again."""
    problems = spec.problems(all_details(conn))
    if problems:
        raise ActionError(" ".join(problems))
    net = conn.networkDefineXML(spec.network_xml())
    try:
        if start:
            net.create()
        if autostart:
            net.setAutostart(1)
    except BaseException:
        try:
            if net.isActive():
                net.destroy()
            net.undefine()
        except libvirt.libvirtError:
            pass
        raise
    return net.UUIDString()


def users(vms: Iterable[VMInfo], name: str, running_only: bool = False) -> list[str]:
    """The VMs with a NIC on this network (by name, as their definitions say)."""
    return sorted({vm.name for vm in vms
                   for nic in vm.nics if nic.kind == "network" and nic.source == name
                   if vm.state.is_active or not running_only})


def network_op(conn: libvirt.virConnect, key: str, op: str) -> None:
    net = network(conn, key)
    if op == "start":
        net.create()
    elif op == "stop":
        net.destroy()
    elif op in ("autostart", "no-autostart"):
        net.setAutostart(1 if op == "autostart" else 0)
    else:
        raise ValueError(f"unknown network operation {op!r}")


def delete_network(conn: libvirt.virConnect, key: str, vms: list[VMInfo]) -> None:
    net = network(conn, key)
    name = net.name()
    using = users(vms, name)
    if using:
        raise ActionError(f"{', '.join(using)} {'uses' if len(using) == 1 else 'use'} the "
                          f"network {name}: move {'its' if len(using) == 1 else 'their'} "
                          "network interfaces elsewhere (or delete the VMs) first.")
    if net.isActive():
        net.destroy()
    if net.isPersistent():
        net.undefine()


def leases(conn: libvirt.virConnect, keys: Iterable[str] | None = None) -> list[Lease]:
    """The DHCP leases of these networks (None: every active one)."""
    nets = ([network(conn, k) for k in keys] if keys is not None
            else conn.listAllNetworks(libvirt.VIR_CONNECT_LIST_NETWORKS_ACTIVE))
    found = []
    for net in nets:
        if not net.isActive():
            continue
        name = net.name()
        # libvirt-python returns a list of dicts; its annotation says otherwise.
        for lease in cast("list[dict[str, Any]]", net.DHCPLeases(None, 0)):
            found.append(Lease(
                network=name, mac=str(lease.get("mac", "")).lower(),
                ip=str(lease.get("ipaddr", "")), prefix=int(lease.get("prefix", 0)),
                hostname=str(lease.get("hostname") or ""),
                expires=int(lease.get("expirytime", 0)),
                ipv6=lease.get("type") == libvirt.VIR_IP_ADDR_TYPE_IPV6))
    return sorted(found, key=lambda lease: (lease.network, lease.ip))


def host_bridges(conn: libvirt.virConnect) -> list[str]:
    """The host's own bridges (for "bridge to an existing host bridge"), as libvirt's
    interface driver lists them; none when the host has no interface driver."""
    try:
        interfaces = conn.listAllInterfaces(0)
    except libvirt.libvirtError:
        return []
    bridges = []
    for iface in interfaces:
        try:
            if ET.fromstring(iface.XMLDesc(0)).get("type") == "bridge":
                bridges.append(iface.name())
        except libvirt.libvirtError:
            continue
    return sorted(bridges)


def update_dhcp(conn: libvirt.virConnect, key: str, start: str, end: str,
                hosts: tuple[StaticHost, ...]) -> None:
    """Sets the IPv4 DHCP range and fixed hosts of the network, live (when running) and in
    its definition, without a restart."""
    net = network(conn, key)
    now = parse_network(net.XMLDesc(libvirt.VIR_NETWORK_XML_INACTIVE))
    v4 = [s for s in now.subnets if s.version == 4]
    if not v4:
        raise ActionError(f"The network {now.name} has no IPv4 subnet to hand out "
                          "addresses in.")
    spec = NetworkSpec(now.name, now.mode if now.mode != "isolated" else "isolated",
                       ipv4=str(v4[0]), dhcp_start=start, dhcp_end=end, hosts=hosts)
    problems = spec.problems()
    if problems:
        raise ActionError(" ".join(problems))
    flags = libvirt.VIR_NETWORK_UPDATE_AFFECT_CONFIG
    if net.isActive():
        flags |= libvirt.VIR_NETWORK_UPDATE_AFFECT_LIVE
    section_range = libvirt.VIR_NETWORK_SECTION_IP_DHCP_RANGE
    section_host = libvirt.VIR_NETWORK_SECTION_IP_DHCP_HOST
    delete, add = libvirt.VIR_NETWORK_UPDATE_COMMAND_DELETE, \
        libvirt.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST
    for old_start, old_end in now.dhcp_ranges:
        if (old_start, old_end) != (start, end):
            net.update(delete, section_range, -1,
                       f"<range start='{old_start}' end='{old_end}'/>", flags)
    if start and (start, end) not in now.dhcp_ranges:
        net.update(add, section_range, -1, f"<range start='{start}' end='{end}'/>", flags)
    old_hosts = {h.mac.lower(): h for h in now.hosts}
    new_hosts = {h.mac.lower(): h for h in hosts}
    for mac, host in old_hosts.items():
        if new_hosts.get(mac) != host:
            net.update(delete, section_host, -1, host.host_xml(), flags)
    for mac, host in new_hosts.items():
        if old_hosts.get(mac) != host:
            net.update(add, section_host, -1, host.host_xml(), flags)
