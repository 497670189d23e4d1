"""A small typed builder and reader for libvirt's virtual network XML.

The New Network wizard fills a ``NetworkSpec``; ``problems()`` says, before anything
reaches the host, what the host would refuse or what would clash with its other
networks (an overlapping subnet is refused before the network is defined, not when it
first starts and its bridge collides). Not domain XML: see connectors.libvirt.domxml.
"""
from __future__ import annotations

import ipaddress
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from connectors.libvirt.storage_xml import name_problem

MODES: dict[str, str] = {
    "nat": "NAT: guests reach out through the host's address",
    "route": "Routed: guests' addresses routed by the host, no NAT",
    "isolated": "Isolated: guests and the host only",
    "open": "Open: routed, and the host adds no firewall rules",
    "bridge": "Bridged to a host bridge: guests sit on the host's LAN",
}
_MAC = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")
_DOMAIN = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*"
                     r"[A-Za-z0-9])?)*$")

Interface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class StaticHost:
    """A fixed DHCP answer: this MAC gets this address (and name)."""

    mac: str
    ip: str
    name: str = ""

    def host_xml(self) -> str:
        name = f" name={quoteattr(self.name)}" if self.name else ""
        return f"<host mac={quoteattr(self.mac.lower())}{name} ip={quoteattr(self.ip)}/>"


def parse_subnet(text: str, version: int) -> Interface:
    """"10.0.5.0/24" (the host gets the first address) or "10.0.5.1/24"; ValueError with
    a sentence when it is not a subnet of that IP version."""
    label = "IPv4" if version == 4 else "IPv6"
    try:
        iface = ipaddress.ip_interface(text.strip())
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not an {label} subnet such as "
                         f"{'192.168.100.0/24' if version == 4 else 'fd00:1234::/64'}.") \
            from None
    if iface.version != version or "/" not in text:
        raise ValueError(f"{text.strip()!r} is not an {label} subnet such as "
                         f"{'192.168.100.0/24' if version == 4 else 'fd00:1234::/64'}.")
    net = iface.network
    if net.num_addresses < 4:
        raise ValueError(f"{net} is too small for a network: use /30 or larger.")
    if iface.ip == net.network_address:
        iface = ipaddress.ip_interface(f"{next(net.hosts())}/{net.prefixlen}")
    return iface


@dataclass(frozen=True)
class NetworkSpec:
    name: str
    mode: str = "nat"
    bridge: str = ""                # bridge mode: the host's bridge; else "" = virbrN
    forward_dev: str = ""           # nat/route: the host interface to leave through
    ipv4: str = ""                  # "192.168.100.0/24"
    dhcp_start: str = ""
    dhcp_end: str = ""
    hosts: tuple[StaticHost, ...] = ()
    ipv6: str = ""
    dhcp6_start: str = ""
    dhcp6_end: str = ""
    domain: str = ""                # DNS domain the guests' names are answered in

    def problems(self, others: Iterable[NetworkDetails] = ()) -> list[str]:
        found: list[str] = []
        if problem := name_problem(self.name, "network"):
            found.append(problem)
        if self.mode not in MODES:
            return found + [f"HVConsole does not know the network mode {self.mode!r}."]
        if self.mode == "bridge":
            if not self.bridge:
                found.append("Choose the host bridge the guests join.")
            return found
        v4 = self._subnet(self.ipv4, 4, found)
        v6 = self._subnet(self.ipv6, 6, found)
        if not self.ipv4 and not self.ipv6 and self.mode in ("route", "open"):
            found.append("A routed network needs a subnet to route.")
        if v4 is not None:
            self._range(v4, self.dhcp_start, self.dhcp_end, "DHCP", found)
            for host in self.hosts:
                if not _MAC.match(host.mac):
                    found.append(f"{host.mac!r} is not a MAC address such as "
                                 "52:54:00:12:34:56.")
                self._inside(v4, host.ip, f"The fixed address for {host.mac}", found)
            macs = [h.mac.lower() for h in self.hosts]
            if len(set(macs)) != len(macs):
                found.append("Each MAC address may have one fixed address only.")
        elif self.dhcp_start or self.dhcp_end or self.hosts:
            found.append("DHCP needs an IPv4 subnet.")
        if v6 is not None:
            self._range(v6, self.dhcp6_start, self.dhcp6_end, "DHCPv6", found)
        if self.domain and not _DOMAIN.match(self.domain):
            found.append(f"{self.domain!r} is not a DNS domain such as lab.example.")
        for other in others:
            if other.name == self.name:
                found.append(f"This host already has a network named {self.name}.")
                continue
            for mine in (v4, v6):
                if mine is None:
                    continue
                for theirs in other.subnets:
                    if mine.network.overlaps(theirs.network):
                        found.append(f"{mine.network} overlaps {theirs.network} of the "
                                     f"network {other.name}: choose another subnet.")
            if self.bridge and self.bridge == other.bridge:
                found.append(f"The network {other.name} already uses the bridge "
                             f"{self.bridge}.")
        return found

    @staticmethod
    def _subnet(text: str, version: int, found: list[str]) -> Interface | None:
        if not text.strip():
            return None
        try:
            return parse_subnet(text, version)
        except ValueError as err:
            found.append(str(err))
            return None

    @staticmethod
    def _inside(subnet: Interface, text: str, what: str, found: list[str]) -> None:
        try:
            address = ipaddress.ip_address(text.strip())
        except ValueError:
            found.append(f"{what} ({text.strip() or 'empty'}) is not an IP address.")
            return
        if address not in subnet.network or address in (subnet.network.network_address,
                                                         subnet.ip):
            found.append(f"{what} ({address}) must be a guest address inside "
                         f"{subnet.network}, not the host's {subnet.ip}.")

    def _range(self, subnet: Interface, start: str, end: str, what: str,
               found: list[str]) -> None:
        if not start and not end:
            return
        before = len(found)
        self._inside(subnet, start, f"The {what} range's start", found)
        self._inside(subnet, end, f"The {what} range's end", found)
        if len(found) == before and int(ipaddress.ip_address(start)) > int(
                ipaddress.ip_address(end)):
            found.append(f"The {what} range starts after it ends ({start} > {end}).")

    def network_xml(self) -> str:
        parts = [f"<name>{escape(self.name)}</name>"]
        if self.mode == "bridge":
            parts.append("<forward mode='bridge'/>")
            parts.append(f"<bridge name={quoteattr(self.bridge)}/>")
            return f"<network>{''.join(parts)}</network>"
        if self.mode != "isolated":
            dev = f" dev={quoteattr(self.forward_dev)}" if self.forward_dev else ""
            parts.append(f"<forward mode={quoteattr(self.mode)}{dev}/>")
        bridge = f"name={quoteattr(self.bridge)} " if self.bridge else ""
        parts.append(f"<bridge {bridge}stp='on' delay='0'/>")
        if self.domain:
            parts.append(f"<domain name={quoteattr(self.domain)} localOnly='yes'/>")
        if self.ipv4:
            v4 = parse_subnet(self.ipv4, 4)
            dhcp = ""
            if self.dhcp_start or self.hosts:
                inner = ""
                if self.dhcp_start:
                    inner += (f"<range start={quoteattr(self.dhcp_start)} "
                              f"end={quoteattr(self.dhcp_end)}/>")
                inner += "".join(h.host_xml() for h in self.hosts)
                dhcp = f"<dhcp>{inner}</dhcp>"
            parts.append(f"<ip address='{v4.ip}' netmask='{v4.netmask}'>{dhcp}</ip>")
        if self.ipv6:
            v6 = parse_subnet(self.ipv6, 6)
            dhcp = ""
            if self.dhcp6_start:
                dhcp = (f"<dhcp><range start={quoteattr(self.dhcp6_start)} "
                        f"end={quoteattr(self.dhcp6_end)}/></dhcp>")
            parts.append(f"<ip family='ipv6' address='{v6.ip}' prefix='{v6.network.prefixlen}'>"
                         f"{dhcp}</ip>")
        return f"<network>{''.join(parts)}</network>"


@dataclass(frozen=True)
class NetworkDetails:
    """A defined network read back: for the overlap check and the network's page."""

    name: str
    mode: str                       # nat, route, open, bridge, isolated, ...
    bridge: str = ""
    forward_dev: str = ""
    subnets: tuple[Interface, ...] = ()
    dhcp_ranges: tuple[tuple[str, str], ...] = ()
    hosts: tuple[StaticHost, ...] = field(default=())
    domain: str = ""


def parse_network(text: str) -> NetworkDetails:
    root = ET.fromstring(text)
    forward = root.find("forward")
    mode = forward.get("mode", "nat") if forward is not None else "isolated"
    subnets: list[Interface] = []
    ranges: list[tuple[str, str]] = []
    hosts: list[StaticHost] = []
    for ip in root.findall("ip"):
        address = ip.get("address")
        if not address:
            continue
        prefix = ip.get("prefix") or ip.get("netmask") or (
            "64" if ip.get("family") == "ipv6" else "24")
        try:
            subnets.append(ipaddress.ip_interface(f"{address}/{prefix}"))
        except ValueError:
            continue
        for rng in ip.findall("dhcp/range"):
            ranges.append((rng.get("start", ""), rng.get("end", "")))
        for host in ip.findall("dhcp/host"):
            hosts.append(StaticHost(host.get("mac", ""), host.get("ip", ""),
                                    host.get("name", "")))
    bridge = root.find("bridge")
    domain = root.find("domain")
    return NetworkDetails(
        name=root.findtext("name", ""), mode=mode,
        bridge=bridge.get("name", "") if bridge is not None else "",
        forward_dev=forward.get("dev", "") if forward is not None else "",
        subnets=tuple(subnets), dhcp_ranges=tuple(ranges), hosts=tuple(hosts),
        domain=domain.get("name", "") if domain is not None else "")
