"""Reading libvirt objects into the plain records of model.py.

Every function here blocks (each libvirt call is an RPC on a remote host) and is meant to
run in a host connection's worker thread, never on the event loop. A domain's XML is read
through the domain XML model (connectors.libvirt.domxml), like everywhere else; network,
pool and capabilities documents are small and read here directly.
"""
from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from typing import Callable, cast

import libvirt

from connectors.libvirt import domxml, wording
from connectors.libvirt.model import (DiskInfo, GraphicsInfo, HostInfo, NetworkInfo, NicInfo,
                                      PoolInfo, VMInfo, VMState)

def is_missing(err: libvirt.libvirtError) -> bool:
    """True when libvirt says the object does not exist (any more)."""
    return err.get_error_code() in (libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_NO_NETWORK,
                                    libvirt.VIR_ERR_NO_STORAGE_POOL,
                                    libvirt.VIR_ERR_NO_STORAGE_VOL)


def error_text(err: BaseException) -> str:
    """libvirt's own message without its "virDomainCreate() failed" wrapper."""
    if isinstance(err, libvirt.libvirtError):
        message = err.get_error_message() or str(err)
    else:
        message = str(err) or type(err).__name__
    message = message.strip()
    return message[:1].upper() + message[1:] if message else "Unknown error"


def virtualization_label(domain_type: str, os_type: str) -> str:
    if domain_type == "kvm":
        return "Hardware-assisted (KVM + QEMU)"
    if domain_type == "qemu":
        return "Emulated (QEMU TCG)"
    if domain_type == "xen":
        if os_type == "hvm":
            return "Hardware-assisted (Xen HVM)"
        if os_type == "xenpvh":
            return "Xen PVH"
        return "Paravirtualized (Xen PV)"
    if domain_type == "test":
        return "Test driver"
    return domain_type.upper() if domain_type else "Unknown"


def _word(text: str) -> str:
    """One shared copy of a word that thousands of VMs repeat ("virtio", "x86_64", "vda",
    a network's name): parsed, each VM's XML gave it a string of its own, and the records
    of 10,000 VMs took 13.3 MB instead of 9.0 MB (tracemalloc)."""
    return sys.intern(text)


def _word_or_none(text: str | None) -> str | None:
    return None if text is None else sys.intern(text)


def _disk(disk: domxml.Disk) -> DiskInfo:
    return DiskInfo(target=_word(disk.target_dev or ""), device=_word(disk.device),
                    bus=_word(disk.bus or ""), source=disk.source_path,
                    driver_type=_word_or_none(disk.driver_type), readonly=disk.readonly)


def _nic(nic: domxml.Interface) -> NicInfo:
    return NicInfo(mac=nic.mac or "", kind=_word(nic.type or ""),
                   source=_word_or_none(nic.source), model=_word_or_none(nic.model))


def _graphics(graphics: domxml.Graphics) -> GraphicsInfo:
    port = graphics.port if graphics.port is not None else graphics.tls_port
    return GraphicsInfo(type=graphics.type or "", listen=graphics.listen_address,
                        port=port if port is not None and port > 0 else None,
                        autoport=graphics.autoport is True, socket=graphics.listen_socket,
                        has_password=graphics.passwd is not None)


def domain_xml(dom: libvirt.virDomain) -> str:
    """The XML with secrets when the connection may see them (to know a VNC password is
    set); plain otherwise (read-only connections refuse the secure flag)."""
    try:
        return str(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_SECURE))
    except libvirt.libvirtError as err:
        if is_missing(err):
            raise
        return str(dom.XMLDesc(0))


def read_vm(dom: libvirt.virDomain, driver: str) -> VMInfo:
    """One domain as a VMInfo (about five RPCs): for a refresh after an event. A whole
    host is read in bulk by connectors.libvirt.inventory_read instead."""
    # libvirt-python annotates state() as str; it returns [state, reason].
    state, reason = cast("list[int]", dom.state(0))[:2]
    model = domxml.parse(domain_xml(dom))
    persistent = bool(dom.isPersistent())
    managed_save = persistent and asked(lambda: dom.hasManagedSaveImage(0))
    autostart = persistent and asked(dom.autostart)
    return vm_from_domain(model, driver, state=state, reason=reason, persistent=persistent,
                       autostart=autostart, managed_save=managed_save)


def asked(question: Callable[[], int]) -> bool:
    """A yes/no flag of one domain; no when the driver cannot tell (a vanished domain
    still raises)."""
    try:
        return bool(question())
    except libvirt.libvirtError as err:
        if is_missing(err):
            raise
        return False


def vm_from_domain(model: domxml.Domain, driver: str, *, state: int, reason: int,
                   persistent: bool, autostart: bool, managed_save: bool) -> VMInfo:
    """A VMInfo from the domain's XML and the facts the XML does not hold (libvirt's state
    and reason, and its persistent/autostart/managed-save flags). Name, UUID and ID come
    from the XML too, so reading a domain needs no further call."""
    dom_id = model.id
    dom_id = None if dom_id is None or dom_id < 0 else dom_id
    vm_state = wording.DOMAIN_STATES.get(state, VMState.UNKNOWN)
    if vm_state is VMState.SHUTOFF and managed_save:
        vm_state = VMState.SUSPENDED
    reason_text = ("saved (resume restores it)" if vm_state is VMState.SUSPENDED
                   else wording.state_reason(state, reason))
    os = model.os_if_any
    os_type = _word((os.type or "").strip() if os is not None else "")
    arch = _word((os.arch or "") if os is not None else "")
    domain_type = _word(model.type or "")
    max_memory = model.memory_kib or 0
    org = model.organization
    return VMInfo(
        key=(model.uuid or "").strip(), name=(model.name or "").strip(),
        state=vm_state, state_reason=reason_text,
        domain_type=domain_type, os_type=os_type, arch=arch,
        virtualization=virtualization_label(domain_type, os_type),
        vcpus=model.vcpus, max_vcpus=model.max_vcpus,
        memory_kib=model.current_memory_kib or max_memory, max_memory_kib=max_memory,
        persistent=persistent, autostart=autostart, managed_save=managed_save,
        dom_id=dom_id, title=(model.title or "").strip(),
        description=(model.description or "").strip(),
        is_control_domain=driver == "xen" and dom_id == 0,
        disks=tuple(_disk(d) for d in model.disks),
        nics=tuple(_nic(n) for n in model.interfaces),
        graphics=tuple(_graphics(g) for g in model.graphics),
        tags=org.tags, folder=org.folder, custom_fields=org.custom_fields,
        os_id=(model.os_id or "").strip())


def read_network(net: libvirt.virNetwork) -> NetworkInfo:
    root = ET.fromstring(net.XMLDesc(0))
    bridge = root.find("bridge")
    forward = root.find("forward")
    persistent = bool(net.isPersistent())
    return NetworkInfo(key=net.UUIDString(), name=net.name(), active=bool(net.isActive()),
                       persistent=persistent,
                       autostart=persistent and bool(net.autostart()),
                       bridge=bridge.get("name") if bridge is not None else None,
                       forward=forward.get("mode", "nat") if forward is not None else None)


def read_pool(pool: libvirt.virStoragePool) -> PoolInfo:
    # libvirt-python annotates info() as str; it returns [state, capacity, allocation,
    # available].
    state, capacity, allocation, available = cast("list[int]", pool.info())[:4]
    root = ET.fromstring(pool.XMLDesc(0))
    persistent = bool(pool.isPersistent())
    state_text = (wording.POOL_STATES[state] if 0 <= state < len(wording.POOL_STATES)
                  else "inaccessible")
    return PoolInfo(key=pool.UUIDString(), name=pool.name(), state=state_text,
                    pool_type=root.get("type", ""), persistent=persistent,
                    autostart=persistent and bool(pool.autostart()),
                    capacity=capacity, allocation=allocation, available=available,
                    path=root.findtext("target/path"))


def read_host(conn: libvirt.virConnect, uri: str, driver: str, is_demo: bool) -> HostInfo:
    # libvirt-python annotates getInfo() as str; it returns [model, memory in MiB, cpus,
    # MHz, NUMA nodes, sockets, cores, threads].
    info = cast("tuple[str, int, int, int, int, int, int, int]", conn.getInfo()[:8])
    model, memory_mib, cpus, mhz, _nodes, sockets, cores, threads = info
    kind = conn.getType()
    try:
        hv_version = wording.version_text(conn.getVersion())
    except libvirt.libvirtError:
        hv_version = ""
    lib_version = wording.version_text(conn.getLibVersion())
    caps = ET.fromstring(conn.getCapabilities())
    cpu_model = (caps.findtext("host/cpu/model") or "").strip() or model
    arch = (caps.findtext("host/cpu/arch") or "").strip() or model
    try:
        free_kib = conn.getFreeMemory() // 1024
    except libvirt.libvirtError:
        free_kib = None
    if driver == "test":
        label = "Test driver"
    elif driver == "xen":
        major_minor = ".".join(hv_version.split(".")[:2])
        label = f"Xen {major_minor} (libxl)" if major_minor else "Xen (libxl)"
    elif driver == "qemu":
        has_kvm = any(d.get("type") == "kvm" for d in caps.iter("domain"))
        label = f"KVM (QEMU {hv_version})" if has_kvm else f"QEMU {hv_version} (TCG)"
    else:
        label = f"{kind} {hv_version}".strip()
    return HostInfo(uri=uri, hostname=conn.getHostname(), driver=kind,
                    hypervisor_label=label, hypervisor_version=hv_version,
                    libvirt_version=lib_version, arch=arch, cpu_model=cpu_model, cpus=cpus,
                    sockets=sockets, cores=cores, threads=threads, mhz=mhz,
                    memory_kib=memory_mib * 1024, free_memory_kib=free_kib, is_demo=is_demo)
