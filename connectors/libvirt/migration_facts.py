"""Reading what the migration pre-check needs from both hosts (blocking: worker threads).

migration_check.py decides; this module only asks. The source is asked about the VM
(its definition, state, snapshots, and for each disk its pool and size); the
destination about itself (capabilities, networks, pools, VMs, memory) and about the VM:
whether it holds the VM's disk paths in one of its pools, and whether its CPU runs the
VM's CPU (compareHypervisorCPU, which answers for the destination's QEMU and machine
type, not just for the bare host CPU; with FAIL_INCOMPATIBLE it names what is missing).
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any, cast

import libvirt

from connectors.libvirt import domxml, readers, wording
from connectors.libvirt.capabilities import parse_host_capabilities
from connectors.libvirt.migration_check import (CpuVerdict, DiskFacts, HostFacts, PoolFacts,
                                                VMFacts)
from connectors.libvirt.model import VMState


def read_host_facts(conn: libvirt.virConnect, name: str) -> HostFacts:
    caps_xml = conn.getCapabilities()
    root = ET.fromstring(caps_xml)
    caps = parse_host_capabilities(caps_xml, 0, 0, None)
    pools = tuple(_pool_facts(p) for p in conn.listAllStoragePools(0))
    networks = frozenset(n.name() for n in conn.listAllNetworks(
        libvirt.VIR_CONNECT_LIST_NETWORKS_ACTIVE))
    domains = tuple((d.name(), d.UUIDString(), True) for d in conn.listAllDomains(
        libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)) + tuple(
        (d.name(), d.UUIDString(), False) for d in conn.listAllDomains(
            libvirt.VIR_CONNECT_LIST_DOMAINS_INACTIVE))
    return HostFacts(name=name, uuid=root.findtext("host/uuid", ""), driver=conn.getType(),
                     arch=caps.host_arch, domain_types=caps.domain_types("hvm"),
                     available_memory_kib=_available_memory_kib(conn), networks=networks,
                     pools=pools, domains=domains)


def _available_memory_kib(conn: libvirt.virConnect) -> int | None:
    """Free memory as Linux counts what it can give back at once: free, buffers and the
    page cache (virNodeGetFreeMemory's "free" alone is a fraction of it)."""
    try:
        stats = cast("dict[str, int]", conn.getMemoryStats(
            libvirt.VIR_NODE_MEMORY_STATS_ALL_CELLS, 0))
    except libvirt.libvirtError:
        return None
    return sum(int(stats.get(k, 0)) for k in ("free", "buffers", "cached")) or None


def _pool_facts(pool: libvirt.virStoragePool) -> PoolFacts:
    root = ET.fromstring(pool.XMLDesc(0))
    info = cast("list[int]", pool.info())
    return PoolFacts(name=pool.name(), type=root.get("type", ""),
                     active=info[0] == libvirt.VIR_STORAGE_POOL_RUNNING,
                     available=int(info[3]), path=root.findtext("target/path", ""))


def _pool_of(conn: libvirt.virConnect, path: str) -> PoolFacts | None:
    try:
        vol = conn.storageVolLookupByPath(path)
        return _pool_facts(vol.storagePoolLookupByVolume())
    except libvirt.libvirtError:
        return None


def read_vm_facts(source: libvirt.virConnect, dest: libvirt.virConnect,
                  uuid: str) -> VMFacts:
    dom = source.lookupByUUIDString(uuid)
    state_code = int(cast("list[int]", dom.state(0))[0])
    managed_save = bool(dom.hasManagedSaveImage(0))
    state = wording.DOMAIN_STATES.get(state_code, VMState.UNKNOWN)
    if state is VMState.SHUTOFF and managed_save:
        state = VMState.SUSPENDED
    live = state in (VMState.RUNNING, VMState.PAUSED)
    flags = libvirt.VIR_DOMAIN_XML_INACTIVE if not live else 0
    definition = domxml.parse(dom.XMLDesc(flags))
    try:
        snapshots = int(dom.snapshotNum(0))
    except libvirt.libvirtError:
        snapshots = 0
    disks = tuple(_disk_facts(source, dest, dom, disk) for disk in definition.disks)
    cpu = read_cpu_verdict(source, dest, definition) if live else CpuVerdict()
    return VMFacts(uuid=uuid, name=dom.name(), state=state, definition=definition,
                   persistent=bool(dom.isPersistent()), managed_save=managed_save,
                   snapshots=snapshots,
                   memory_kib=definition.current_memory_kib or definition.memory_kib or 0,
                   disks=disks, cpu=cpu)


def _disk_facts(source: libvirt.virConnect, dest: libvirt.virConnect, dom: libvirt.virDomain,
                disk: domxml.Disk) -> DiskFacts:
    kind = disk.type or "file"
    path = disk.source_path
    source_pool = dest_pool = None
    capacity = allocation = 0
    if kind == "volume" and disk.source_pool and disk.source_volume:
        source_pool = _named_pool(source, disk.source_pool)
        dest_pool = _named_pool(dest, disk.source_pool)
    elif kind in ("file", "block") and path:
        source_pool = _pool_of(source, path)
        dest_pool = _pool_of(dest, path)
    if path and kind != "network" and disk.target_dev:
        try:
            info = cast("list[int]", dom.blockInfo(disk.target_dev, 0))
            capacity, allocation = int(info[0]), int(info[1])
        except libvirt.libvirtError:
            pass
    return DiskFacts(target=disk.target_dev or "", device=disk.device, source_type=kind,
                     path=path, readonly=disk.readonly or disk.device == "cdrom",
                     format=disk.driver_type or "raw",
                     capacity=capacity, allocation=allocation, source_pool=source_pool,
                     dest_pool=dest_pool)


def _named_pool(conn: libvirt.virConnect, name: str) -> PoolFacts | None:
    try:
        return _pool_facts(conn.storagePoolLookupByName(name))
    except libvirt.libvirtError:
        return None


def read_cpu_verdict(source: libvirt.virConnect, dest: libvirt.virConnect,
                     definition: domxml.Domain) -> CpuVerdict:
    """The destination's verdict on a running VM's CPU. A VM that takes the host's CPU as
    it is (host-passthrough) needs the source host's CPU on the destination."""
    os = definition.os_if_any
    arch = os.arch if os is not None else None
    machine = os.machine if os is not None else None
    virt_type = definition.type
    cpu = definition.cpu
    if cpu is not None and cpu.mode in ("host-passthrough", "maximum"):
        cpu_xml = _host_cpu_xml(source)
    elif cpu is not None and (cpu.model or cpu.mode == "host-model"):
        cpu_xml = cpu.to_xml()
    else:
        return CpuVerdict(True)           # the hypervisor's default model: no demands
    if not cpu_xml:
        return CpuVerdict()
    # libvirt-python annotates these as str; libvirt takes None for "the default".
    emulator: Any = definition.emulator
    try:
        result = dest.compareHypervisorCPU(
            emulator, cast(Any, arch), cast(Any, machine), cast(Any, virt_type), cpu_xml,
            libvirt.VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE)
    except libvirt.libvirtError as err:
        if err.get_error_code() != libvirt.VIR_ERR_CPU_INCOMPATIBLE:
            return CpuVerdict(None, readers.error_text(err))
        return CpuVerdict(False, readers.error_text(err),
                          _shared_model(source, dest, definition))
    if result == libvirt.VIR_CPU_COMPARE_INCOMPATIBLE:
        return CpuVerdict(False, "", _shared_model(source, dest, definition))
    return CpuVerdict(True)


def _host_cpu_xml(conn: libvirt.virConnect) -> str:
    found = ET.fromstring(conn.getCapabilities()).find("host/cpu")
    return ET.tostring(found, encoding="unicode") if found is not None else ""


def _shared_model(source: libvirt.virConnect, dest: libvirt.virConnect,
                  definition: domxml.Domain) -> str:
    """A CPU model both hosts run (baselineHypervisorCPU of the two host CPUs), to say
    what the VM could use instead; "" when the hosts cannot tell."""
    os = definition.os_if_any
    try:
        cpus = [_host_cpu_xml(source), _host_cpu_xml(dest)]
        if not all(cpus):
            return ""
        # Annotated as str; libvirt takes None for "the default" (see above).
        none: Any = None
        xml = dest.baselineHypervisorCPU(
            definition.emulator or none, (os.arch if os is not None else None) or none,
            (os.machine if os is not None else None) or none, definition.type or none,
            cpus, 0)
    except libvirt.libvirtError:
        return ""
    return ET.fromstring(xml).findtext("model", "")
