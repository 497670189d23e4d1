"""What the Performance tab draws for a VM or a server: graphs, their lines and units.

A VM shows CPU (its vCPUs on demand), memory (assigned, used in the guest, held on the
host), and, when it has disks or network interfaces, disk throughput and IOPS (per disk on
demand) and network (per NIC on demand). A server shows its CPU (per core on demand),
memory (total, used, cache and buffers, free: the figures its General tab shows), and the
summed disk and network traffic of its VMs. Bytes are counted in binary units (KiB, MiB)
everywhere, as the tree and the General tab count them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from app.perf.usage import format_bytes

KIB = 1024.0


class DetailSource(Protocol):
    """The monitor's per-vCPU/disk/NIC/core series (app.perf.monitor.PerfMonitor)."""

    def detail_keys(self, conn_id: str, key: str | None, kind: str) -> list[tuple]: ...


@dataclass(frozen=True)
class CurveSpec:
    """One line: ``metric`` of the VM/host from ring buffers + history, or a live-only
    ``detail`` series; values are multiplied by ``scale`` (KiB → bytes)."""

    label: str
    metric: str | None = None
    detail: tuple | None = None
    scale: float = 1.0
    width: float = 2.0


@dataclass(frozen=True)
class GraphSpec:
    title: str
    unit: str           # "%", "B", "B/s", "IO/s"
    curves: tuple[CurveSpec, ...]


def format_value(value: float, unit: str, missing: str = "–") -> str:
    if value != value:
        return missing
    if unit == "%":
        return f"{value:.1f} %"
    if unit == "B":
        return format_bytes(value)
    if unit == "B/s":
        return format_bytes(value, "/s")
    return f"{value:.1f} {unit}"


def vm_graphs(monitor: DetailSource, conn_id: str, key: str, vcpus: bool, disks: bool,
              nics: bool, *, has_disks: bool = True, has_nics: bool = True
              ) -> list[GraphSpec]:
    """``has_disks``/``has_nics``: the VM has any; without, its Disk or Network graphs
    would only ever show zero."""
    def details(kind: str, fields: tuple[str, ...], words: dict) -> tuple[CurveSpec, ...]:
        out = []
        for dk in monitor.detail_keys(conn_id, key, kind):
            if dk[-1] in fields:
                out.append(CurveSpec(f"{dk[2]} {words[dk[-1]]}", detail=dk, width=1.0))
        return tuple(out)

    cpu: tuple[CurveSpec, ...] = (CurveSpec("CPU", "cpu_percent"),)
    if vcpus:
        cpu += tuple(CurveSpec(f"vCPU {dk[2]}", detail=dk, width=1.0)
                     for dk in monitor.detail_keys(conn_id, key, "vcpu"))
    graphs = [GraphSpec("CPU", "%", cpu),
              GraphSpec("Memory", "B", (
                  CurveSpec("Assigned", "mem_assigned_kib", scale=KIB),
                  CurveSpec("Used in guest", "mem_used_kib", scale=KIB),
                  CurveSpec("Held on host", "mem_rss_kib", scale=KIB)))]
    if has_disks:
        disk: tuple[CurveSpec, ...] = (CurveSpec("Read", "disk_rd_bps"),
                                       CurveSpec("Write", "disk_wr_bps"))
        iops: tuple[CurveSpec, ...] = (CurveSpec("Read", "disk_rd_iops"),
                                       CurveSpec("Write", "disk_wr_iops"))
        if disks:
            disk += details("disk", ("rd_bps", "wr_bps"),
                            {"rd_bps": "read", "wr_bps": "write"})
            iops += details("disk", ("rd_iops", "wr_iops"),
                            {"rd_iops": "read", "wr_iops": "write"})
        graphs += [GraphSpec("Disk throughput", "B/s", disk),
                   GraphSpec("Disk IOPS", "IO/s", iops)]
    if has_nics:
        net: tuple[CurveSpec, ...] = (CurveSpec("Received", "net_rx_bps"),
                                      CurveSpec("Sent", "net_tx_bps"))
        if nics:
            net += details("net", ("rx_bps", "tx_bps"),
                           {"rx_bps": "received", "tx_bps": "sent"})
        graphs.append(GraphSpec("Network", "B/s", net))
    return graphs


def host_graphs(monitor: DetailSource, conn_id: str, cores: bool) -> list[GraphSpec]:
    cpu: tuple[CurveSpec, ...] = (CurveSpec("CPU", "cpu_percent"),)
    if cores:
        cpu += tuple(CurveSpec(f"Core {dk[2]}", detail=dk, width=1.0)
                     for dk in monitor.detail_keys(conn_id, None, "core"))
    return [GraphSpec("CPU", "%", cpu),
            GraphSpec("Memory", "B", (CurveSpec("Total", "mem_total_kib", scale=KIB,
                                                width=1.0),
                                      CurveSpec("Used", "mem_used_kib", scale=KIB),
                                      CurveSpec("Free", "mem_free_kib", scale=KIB),
                                      CurveSpec("Cache", "mem_cached_kib", scale=KIB))),
            GraphSpec("Disk (all VMs)", "B/s", (CurveSpec("Read", "vms_disk_rd_bps"),
                                                CurveSpec("Write", "vms_disk_wr_bps"))),
            GraphSpec("Network (all VMs)", "B/s", (CurveSpec("Received", "vms_net_rx_bps"),
                                                   CurveSpec("Sent", "vms_net_tx_bps")))]
