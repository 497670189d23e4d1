"""What the New VM wizard needs to know about a host before it offers anything: the
hypervisors and firmware it has (capabilities.py), the memory it can give, the names
already taken, its pools and their volumes, its networks and bridges.

One blocking read (``read_facts``) in the host's worker pool when the wizard opens,
so every page checks against the same answers without a round trip per keystroke.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import libvirt

from connectors.libvirt import capabilities as caps
from connectors.libvirt.iso9660 import HEAD_BYTES


@dataclass(frozen=True)
class VolumeFacts:
    name: str
    path: str
    capacity: int
    allocation: int
    format: str                 # raw, qcow2, iso, ... as the pool probed it


@dataclass(frozen=True)
class PoolFacts:
    name: str
    active: bool
    pool_type: str
    path: str
    capacity: int
    available: int
    volumes: tuple[VolumeFacts, ...] = ()

    def volume(self, name: str) -> VolumeFacts | None:
        return next((v for v in self.volumes if v.name == name), None)


@dataclass(frozen=True)
class HostFacts:
    driver: str                                   # QEMU, Xen
    host: caps.HostCapabilities
    # (domain type, os type) -> the host's answer for x86_64 (None: it has none)
    domain_caps: dict[tuple[str, str], caps.DomainCapabilities | None]
    total_memory_kib: int
    available_memory_kib: int
    names: frozenset[str]
    pools: tuple[PoolFacts, ...]
    networks: tuple[tuple[str, bool], ...]         # (name, active)
    bridges: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())    # what could not be read, in words

    @property
    def is_xen(self) -> bool:
        return self.driver.lower() == "xen"

    def pool(self, name: str) -> PoolFacts | None:
        return next((p for p in self.pools if p.name == name), None)

    def caps_for(self, domain_type: str, os_type: str = "hvm") -> caps.DomainCapabilities | None:
        return self.domain_caps.get((domain_type, os_type))


def _domain_caps(conn: libvirt.virConnect, host: caps.HostCapabilities, xen: bool
                 ) -> dict[tuple[str, str], caps.DomainCapabilities | None]:
    found: dict[tuple[str, str], caps.DomainCapabilities | None] = {}
    wanted: list[tuple[str, str, str | None]] = []
    if xen:
        if host.guest("xen", "x86_64") is not None:
            wanted.append(("xen", "xen", "xenpv"))
        if host.guest("hvm", "x86_64") is not None:
            wanted.append(("xen", "hvm", "xenfv"))
    else:
        for domain_type in host.domain_types("hvm", "x86_64"):
            wanted.append((domain_type, "hvm", "q35"))
    for domain_type, os_type, machine in wanted:
        try:
            found[(domain_type, os_type)] = caps.read_domain_capabilities(
                conn, "x86_64", domain_type, machine)
        except libvirt.libvirtError:
            found[(domain_type, os_type)] = None
    return found


def _memory(conn: libvirt.virConnect) -> tuple[int, int]:
    """(total, available) KiB: free plus what the kernel would give back at once (page
    cache and buffers), where the host reports them; else its plain free memory."""
    total = cast("list[int]", conn.getInfo())[1] * 1024
    try:
        stats = cast("dict[str, int]",
                     conn.getMemoryStats(libvirt.VIR_NODE_MEMORY_STATS_ALL_CELLS, 0))
        available = sum(stats.get(k, 0) for k in ("free", "buffers", "cached"))
    except libvirt.libvirtError:
        available = conn.getFreeMemory() // 1024
    return total, min(total, available)


def _pool(pool: libvirt.virStoragePool) -> PoolFacts:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(pool.XMLDesc(0))
    info = cast("list[int]", pool.info())
    active = bool(pool.isActive())
    volumes: list[VolumeFacts] = []
    if active:
        for vol in pool.listAllVolumes(0):
            try:
                vroot = ET.fromstring(vol.XMLDesc(0))
                vinfo = cast("list[int]", vol.info())
            except libvirt.libvirtError:
                continue            # removed meanwhile
            fmt = vroot.find("target/format")
            volumes.append(VolumeFacts(vol.name(), vol.path(), vinfo[1], vinfo[2],
                                       fmt.get("type", "") if fmt is not None else ""))
    return PoolFacts(pool.name(), active, root.get("type", ""),
                     root.findtext("target/path", ""), info[1], info[3],
                     tuple(sorted(volumes, key=lambda v: v.name)))


def _bridges(conn: libvirt.virConnect) -> tuple[str, ...]:
    try:
        return tuple(sorted(i.name() for i in conn.listAllInterfaces(0)
                            if "type='bridge'" in i.XMLDesc(0)))
    except libvirt.libvirtError:
        return ()


def read_facts(conn: libvirt.virConnect) -> HostFacts:
    """Blocking: a dozen calls plus one per pool and volume."""
    notes: list[str] = []
    host = caps.read_host_capabilities(conn)
    driver = conn.getType()
    xen = driver.lower() == "xen"
    total, available = _memory(conn)
    names = frozenset(d.name() for d in conn.listAllDomains(0))
    pools: list[PoolFacts] = []
    try:
        for pool in conn.listAllStoragePools(0):
            try:
                pools.append(_pool(pool))
            except libvirt.libvirtError as err:
                notes.append(f"Storage pool {pool.name()}: {err.get_error_message()}")
    except libvirt.libvirtError as err:
        notes.append(f"This host lists no storage pools: {err.get_error_message()}")
    networks: tuple[tuple[str, bool], ...] = ()
    try:
        networks = tuple(sorted((n.name(), bool(n.isActive()))
                                for n in conn.listAllNetworks(0)))
    except libvirt.libvirtError as err:
        notes.append(f"This host lists no virtual networks: {err.get_error_message()}")
    return HostFacts(driver=driver, host=host, domain_caps=_domain_caps(conn, host, xen),
                     total_memory_kib=total, available_memory_kib=available, names=names,
                     pools=tuple(sorted(pools, key=lambda p: p.name)),
                     networks=networks, bridges=_bridges(conn), notes=tuple(notes))


def read_volume_head(conn: libvirt.virConnect, pool: str, volume: str,
                     length: int = HEAD_BYTES) -> bytes:
    """The first ``length`` bytes of a volume, through the connection (an ISO's labels
    on a remote host without copying the disc). Blocking."""
    vol = conn.storagePoolLookupByName(pool).storageVolLookupByName(volume)
    stream = conn.newStream(0)
    vol.download(stream, 0, length, 0)
    chunks: list[bytes] = []
    got = 0
    try:
        while got < length:
            data = stream.recv(min(65536, length - got))
            if isinstance(data, int) or not data:
                break
            chunks.append(data)
            got += len(data)
        stream.finish()
    except libvirt.libvirtError:
        try:
            stream.abort()
        except libvirt.libvirtError:
            pass
        raise
    return b"".join(chunks)
