"""Reading libvirt objects into the plain records of model.py.

Every function here blocks (each libvirt call is an RPC on a remote host) and is meant to
run in a host connection's worker thread, never on the event loop.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Callable, cast

import libvirt

from connectors.libvirt import wording
from connectors.libvirt.model import (DiskInfo, GraphicsInfo, HostInfo, NetworkInfo, NicInfo,
                                      PoolInfo, VMInfo, VMState)

_UNIT_KIB = {"b": 1 / 1024, "bytes": 1 / 1024, "k": 1, "kib": 1, "kb": 1000 / 1024,
             "m": 1024, "mib": 1024, "mb": 1_000_000 / 1024, "g": 1024 ** 2,
             "gib": 1024 ** 2, "gb": 1e9 / 1024, "t": 1024 ** 3, "tib": 1024 ** 3}


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


def _kib(element: ET.Element | None) -> int:
    if element is None or not (element.text or "").strip():
        return 0
    factor = _UNIT_KIB.get(element.get("unit", "KiB").lower(), 1)
    try:
        return int(int((element.text or "").strip()) * factor)
    except ValueError:
        return 0


def _disk(element: ET.Element) -> DiskInfo:
    source = element.find("source")
    path = None
    if source is not None:
        if source.get("pool") and source.get("volume"):
            path = f"{source.get('pool')}/{source.get('volume')}"
        else:
            path = (source.get("file") or source.get("dev") or source.get("dir")
                    or source.get("name") or source.get("volume"))
    target = element.find("target")
    driver = element.find("driver")
    return DiskInfo(target=target.get("dev", "") if target is not None else "",
                    device=element.get("device", "disk"),
                    bus=target.get("bus", "") if target is not None else "",
                    source=path,
                    driver_type=driver.get("type") if driver is not None else None,
                    readonly=element.find("readonly") is not None)


def _nic(element: ET.Element) -> NicInfo:
    mac = element.find("mac")
    source = element.find("source")
    model = element.find("model")
    source_name = None
    if source is not None:
        source_name = (source.get("network") or source.get("bridge") or source.get("dev")
                       or source.get("path"))
    return NicInfo(mac=mac.get("address", "") if mac is not None else "",
                   kind=element.get("type", ""), source=source_name,
                   model=model.get("type") if model is not None else None)


def _graphics(element: ET.Element) -> GraphicsInfo:
    listen = element.get("listen")
    socket = element.get("socket")
    for child in element.findall("listen"):
        if child.get("type") == "socket":
            socket = socket or child.get("socket")
        elif child.get("address"):
            listen = listen or child.get("address")
    port_text = element.get("port") or element.get("tlsPort")
    try:
        port = int(port_text) if port_text else None
    except ValueError:
        port = None
    if port is not None and port <= 0:
        port = None
    return GraphicsInfo(type=element.get("type", ""), listen=listen, port=port,
                        autoport=element.get("autoport") == "yes", socket=socket,
                        has_password=element.get("passwd") is not None)


def domain_xml(dom: libvirt.virDomain) -> str:
    """The XML with secrets when the connection may see them (to know a VNC password is
    set); plain otherwise (read-only connections refuse the secure flag)."""
    try:
        return dom.XMLDesc(libvirt.VIR_DOMAIN_XML_SECURE)
    except libvirt.libvirtError as err:
        if is_missing(err):
            raise
        return dom.XMLDesc(0)


def read_vm(dom: libvirt.virDomain, driver: str) -> VMInfo:
    """One domain as a VMInfo (about five RPCs): for a refresh after an event. A whole
    host is read in bulk by connectors.libvirt.inventory_read instead."""
    # libvirt-python annotates state() as str; it returns [state, reason].
    state, reason = cast("list[int]", dom.state(0))[:2]
    root = ET.fromstring(domain_xml(dom))
    persistent = bool(dom.isPersistent())
    managed_save = persistent and asked(lambda: dom.hasManagedSaveImage(0))
    autostart = persistent and asked(dom.autostart)
    return vm_from_xml(root, driver, state=state, reason=reason, persistent=persistent,
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


def vm_from_xml(root: ET.Element, driver: str, *, state: int, reason: int, persistent: bool,
                autostart: bool, managed_save: bool) -> VMInfo:
    """A VMInfo from the domain's XML and the facts the XML does not hold (libvirt's state
    and reason, and its persistent/autostart/managed-save flags). Name, UUID and ID come
    from the XML too, so reading a domain needs no further call."""
    id_text = root.get("id")
    dom_id = int(id_text) if id_text and id_text.lstrip("-").isdigit() else None
    dom_id = None if dom_id is None or dom_id < 0 else dom_id
    vm_state = wording.DOMAIN_STATES.get(state, VMState.UNKNOWN)
    if vm_state is VMState.SHUTOFF and managed_save:
        vm_state = VMState.SUSPENDED
    reason_text = ("saved (resume restores it)" if vm_state is VMState.SUSPENDED
                   else wording.state_reason(state, reason))

    os_type_el = root.find("os/type")
    os_type = (os_type_el.text or "").strip() if os_type_el is not None else ""
    arch = os_type_el.get("arch", "") if os_type_el is not None else ""
    domain_type = root.get("type", "")
    vcpu_el = root.find("vcpu")
    max_vcpus = int((vcpu_el.text or "1").strip()) if vcpu_el is not None else 1
    vcpus = int(vcpu_el.get("current", max_vcpus)) if vcpu_el is not None else max_vcpus
    max_memory = _kib(root.find("memory"))
    memory = _kib(root.find("currentMemory")) or max_memory
    devices = root.find("devices")
    disks: tuple[DiskInfo, ...] = ()
    nics: tuple[NicInfo, ...] = ()
    graphics: tuple[GraphicsInfo, ...] = ()
    if devices is not None:
        disks = tuple(_disk(e) for e in devices.findall("disk"))
        nics = tuple(_nic(e) for e in devices.findall("interface"))
        graphics = tuple(_graphics(e) for e in devices.findall("graphics"))
    return VMInfo(
        key=(root.findtext("uuid") or "").strip(), name=(root.findtext("name") or "").strip(),
        state=vm_state, state_reason=reason_text,
        domain_type=domain_type, os_type=os_type, arch=arch,
        virtualization=virtualization_label(domain_type, os_type),
        vcpus=vcpus, max_vcpus=max_vcpus, memory_kib=memory, max_memory_kib=max_memory,
        persistent=persistent, autostart=autostart, managed_save=managed_save,
        dom_id=dom_id, title=(root.findtext("title") or "").strip(),
        description=(root.findtext("description") or "").strip(),
        is_control_domain=driver == "xen" and dom_id == 0,
        disks=disks, nics=nics, graphics=graphics)


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
