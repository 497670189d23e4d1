"""XAPI records as the records app/ already shows: VMInfo, ServerInfo, NetworkInfo,
PoolInfo (an SR) and the pool's HostInfo.

XAPI's JSON-RPC sends 64-bit numbers as JSON numbers, its XML-RPC as strings, and a
database dump keeps them as text: every number goes through ``_int``. Records are read
defensively (a missing field takes its XAPI default), since a pool's database carries
fields from many XAPI versions.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.libvirt.model import (GraphicsInfo, HostInfo, NetworkInfo, PoolInfo,
                                      ServerInfo, VMInfo, VMState)

Record = Mapping[str, Any]
NULL_REF = "OpaqueRef:NULL"

_XAPI_CONSOLE = (GraphicsInfo("vnc", autoport=True),)
_POWER = {"halted": VMState.SHUTOFF, "running": VMState.RUNNING,
          "paused": VMState.PAUSED, "suspended": VMState.SUSPENDED}


def _int(value: object, default: int = 0) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, (str, float)):
        try:
            return int(float(value))
        except (ValueError, OverflowError):
            return default
    return default


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _set(value: object) -> frozenset[str]:
    if isinstance(value, (list, tuple)):
        return frozenset(v for v in value if isinstance(v, str))
    return frozenset()


def is_vm_row(record: Record) -> bool:
    """Templates and snapshots are not VM rows (a snapshot shows on its VM)."""
    return not record.get("is_a_template") and not record.get("is_a_snapshot")


def vm_info(record: Record, server_uuid: Mapping[str, str]) -> VMInfo:
    """``server_uuid`` maps host refs to UUIDs (``resident_on`` is a ref)."""
    power = _str(record.get("power_state")).lower()
    state = _POWER.get(power, VMState.UNKNOWN)
    hvm = bool(_str(record.get("HVM_boot_policy"))) or \
        _str(record.get("domain_type")) in ("hvm", "pvh")
    domain_type = _str(record.get("domain_type")) or ("hvm" if hvm else "pv")
    domid = _int(record.get("domid"), -1)
    resident = _str(record.get("resident_on"))
    memory = _int(record.get("memory_target")) or _int(record.get("memory_dynamic_max"))
    max_memory = _int(record.get("memory_static_max")) or memory
    vcpus_max = _int(record.get("VCPUs_max"), 1)
    return VMInfo(
        key=_str(record.get("uuid")),
        name=_str(record.get("name_label")),
        state=state,
        state_reason="",            # XAPI gives no reason beside the power state
        domain_type="xapi",
        os_type="hvm" if hvm else "xen",
        arch="x86_64",
        virtualization={"hvm": "Hardware-assisted (Xen HVM)", "pvh": "Xen PVH",
                        "pv": "Paravirtualized (Xen PV)"}.get(domain_type, domain_type),
        vcpus=_int(record.get("VCPUs_at_startup"), vcpus_max),
        max_vcpus=vcpus_max,
        memory_kib=memory // 1024,
        max_memory_kib=max_memory // 1024,
        persistent=True,
        autostart=_str(_map(record.get("other_config")).get("auto_poweron")) == "true",
        managed_save=state is VMState.SUSPENDED,
        dom_id=domid if domid >= 0 and state.is_active else None,
        description=_str(record.get("name_description")),
        is_control_domain=bool(record.get("is_control_domain")),
        server_key=server_uuid.get(resident, "") if resident != NULL_REF else "",
        allowed_operations=_set(record.get("allowed_operations")),
        snapshots=len(record.get("snapshots") or ()),
        # Every guest's screen is an RFB console XAPI serves while it runs (reached by
        # CONNECT to the console's location: connectors/xapi/console.py).
        graphics=() if record.get("is_control_domain") else _XAPI_CONSOLE,
    )


def server_info(record: Record, metrics: Record | None, is_master: bool,
                control_domain: VMInfo | None = None) -> ServerInfo:
    cpu = _map(record.get("cpu_info"))
    software = _map(record.get("software_version"))
    total = _int(metrics.get("memory_total")) if metrics else 0
    free = _int(metrics.get("memory_free")) if metrics else 0
    return ServerInfo(
        key=_str(record.get("uuid")),
        name=_str(record.get("name_label")) or _str(record.get("hostname")),
        address=_str(record.get("address")),
        enabled=bool(record.get("enabled", True)),
        live=bool(metrics.get("live", True)) if metrics else True,
        is_master=is_master,
        cpus=_int(cpu.get("cpu_count")),
        cpu_model=_str(cpu.get("modelname")),
        memory_kib=total // 1024,
        free_memory_kib=free // 1024,
        version=product_label(software),
        allowed_operations=_set(record.get("allowed_operations")),
        control_domain=control_domain,
    )


def product_label(software: Mapping[str, Any]) -> str:
    brand = _str(software.get("product_brand")) or _str(software.get("platform_name"))
    version = _str(software.get("product_version")) or \
        _str(software.get("platform_version"))
    return " ".join(p for p in (brand or "XenServer", version) if p)


def network_info(record: Record) -> NetworkInfo:
    return NetworkInfo(key=_str(record.get("uuid")), name=_str(record.get("name_label")),
                       active=True, persistent=True, autostart=False,
                       bridge=_str(record.get("bridge")) or None, forward=None)


def sr_info(record: Record) -> PoolInfo:
    size = _int(record.get("physical_size"))
    used = _int(record.get("physical_utilisation"))
    return PoolInfo(key=_str(record.get("uuid")), name=_str(record.get("name_label")),
                    state="running", pool_type=_str(record.get("type")),
                    persistent=True, autostart=False, capacity=size, allocation=used,
                    available=max(size - used, 0),
                    path=_str(_map(record.get("other_config")).get("path")) or None)


def pool_host_info(uri: str, pool: Record | None, master: Record | None,
                   servers: list[ServerInfo]) -> HostInfo:
    """The connection's own record: the pool, named after itself or its master."""
    master = master or {}
    software = _map(master.get("software_version"))
    cpu = _map(master.get("cpu_info"))
    name = _str(pool.get("name_label")) if pool else ""
    label = product_label(software)
    version = _str(software.get("product_version")) or \
        _str(software.get("platform_version"))
    return HostInfo(
        uri=uri,
        hostname=name or _str(master.get("name_label")) or _str(master.get("hostname")),
        driver="XAPI",
        hypervisor_label=f"{label} pool" if len(servers) != 1 else label,
        hypervisor_version=version,
        libvirt_version="",
        arch="x86_64",
        cpu_model=_str(cpu.get("modelname")),
        cpus=sum(s.cpus for s in servers),
        sockets=_int(cpu.get("socket_count")),
        cores=0, threads=0,
        mhz=_int(cpu.get("speed")),
        memory_kib=sum(s.memory_kib for s in servers),
        free_memory_kib=sum(s.free_memory_kib for s in servers),
    )
