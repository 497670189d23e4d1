"""Performance history as xapi keeps it and serves it at ``GET /rrd_updates``.

xapi keeps four round-robin archives per data source: 5 s for 10 minutes (120 rows),
1 minute for 2 hours (120), 1 hour for a week (168) and 1 day for a year (366), so a
client can backfill an hour, a day or a week from the server. ``/rrd_updates?session_id=
&start=T&cf=AVERAGE[&interval=S][&host=true][&vm_uuid=U]`` answers rrdtool's xport XML::

    <xport><meta><start>..</start><step>5</step><end>..</end><rows>N</rows>
    <columns>C</columns><legend><entry>AVERAGE:vm:<uuid>:cpu0</entry>...</legend></meta>
    <data><row><t>..</t><v>0.25</v>...</row>...</data></xport>

rows newest first, one column per (object, data source): the listener's host(s) when
host=true and the VMs running there. The archive is the finest one whose step is at
least ``interval`` and that still reaches back to ``start``.

``/host_rrd`` and ``/vm_rrd?uuid=U`` give one object's whole history, every archive, as
rrdtool's dump XML (<rrd><ds>...</ds><rra><cf>AVERAGE</cf><pdp_per_row>..<database><row>
<v>..</v></row>, oldest row first, the last at <lastupdate>'s step).

A VM bound to a real guest reports what the guest measured (a Sampler feeds record());
every other object gets a deterministic synthetic series, a function of its uuid, the
data source and the time, so a test can compute what it should see."""
from __future__ import annotations

import hashlib
import math
import threading
import time
from typing import TYPE_CHECKING, Callable

from .store import Store, int_field

if TYPE_CHECKING:
    from .server import RequestHandler

ARCHIVES = [(5, 120), (60, 120), (3600, 168), (86400, 366)]
_CFS = ("AVERAGE", "MIN", "MAX")


def vm_sources(vm: dict[str, object]) -> list[str]:
    cpus = max(1, min(int_field(vm, "VCPUs_at_startup"), 64))
    return ([f"cpu{i}" for i in range(cpus)]
            + ["memory", "memory_internal_free", "vbd_xvda_read", "vbd_xvda_write",
               "vif_0_rx", "vif_0_tx"])


def host_sources(cpus: int) -> list[str]:
    return ([f"cpu{i}" for i in range(cpus)]
            + ["cpu_avg", "memory_total_kib", "memory_free_kib", "pif_eth0_rx",
               "pif_eth0_tx", "loadavg"])


def _seed(uuid: str, source: str) -> float:
    digest = hashlib.sha256(f"{uuid}/{source}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32


def synthetic(uuid: str, source: str, t: float, scale: float = 1.0) -> float:
    """The deterministic value of a data source at time t (cpu as a 0..1 fraction,
    memory in bytes or KiB as xapi reports, I/O in bytes per second)."""
    seed = _seed(uuid, source)
    wave = 0.5 + 0.35 * math.sin(t / (300 + 900 * seed) + 6.283 * seed) \
        + 0.15 * math.sin(t / 37.0 + 3.1 * seed)
    if source.startswith("cpu") or source == "loadavg":
        return round(max(0.0, min(1.0, 0.05 + 0.6 * seed * wave)), 6)
    if source in ("memory", "memory_total_kib"):
        return scale
    if source in ("memory_internal_free", "memory_free_kib"):
        return round(scale * (0.2 + 0.5 * seed * wave))
    return round(2_000_000 * seed * wave, 3)  # vbd_*, vif_*, pif_*: bytes per second


class Archive:
    """One data source's recorded samples, consolidated into xapi's four archives."""

    def __init__(self) -> None:
        self.slots: list[dict[int, tuple[float, int]]] = [{} for _ in ARCHIVES]

    def add(self, t: float, value: float) -> None:
        for (step, rows), slots in zip(ARCHIVES, self.slots, strict=True):
            slot = int(t // step) * step
            total, count = slots.get(slot, (0.0, 0))
            slots[slot] = (total + value, count + 1)
            if len(slots) > rows + 1:
                del slots[min(slots)]

    def value(self, index: int, slot: int) -> float:
        total, count = self.slots[index].get(slot, (math.nan, 0))
        return total / count if count else math.nan


class Rrds:
    """The /rrd_updates handler and the recorded archives of real-guest-backed VMs."""

    def __init__(self, store: Store, served_hosts: Callable[[str], list[str]],
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.served_hosts = served_hosts
        self.clock = clock
        self.recorded: dict[tuple[str, str], Archive] = {}
        self.lock = threading.Lock()

    def record(self, uuid: str, values: dict[str, float], t: float | None = None) -> None:
        """A real guest's sample (its data sources by name) at time t."""
        when = self.clock() if t is None else t
        with self.lock:
            for source, value in values.items():
                self.recorded.setdefault((uuid, source), Archive()).add(when, value)

    def is_recorded(self, uuid: str) -> bool:
        with self.lock:
            return any(key[0] == uuid for key in self.recorded)

    # --- the HTTP side ----------------------------------------------------------------
    def get(self, request: "RequestHandler", path: str, query: dict[str, str]) -> bool:
        if path in ("/host_rrd", "/vm_rrd"):
            if request.session_ok(query):
                body = self._whole_rrd(request.server.host, path == "/vm_rrd", query)
                if body is None:
                    request.reply(404, b"no such object, or it is not running here\n")
                else:
                    request.reply(200, body.encode(), "text/xml")
            return True
        if path != "/rrd_updates":
            return False
        if not request.session_ok(query):
            return True
        try:
            start = int(float(query.get("start", "0")))
            interval = int(float(query.get("interval", "0") or 0))
        except ValueError:
            request.reply(400, b"start and interval are numbers of seconds\n")
            return True
        cf = query.get("cf", "AVERAGE").upper()
        if cf not in _CFS:
            request.reply(400, b"cf is AVERAGE, MIN or MAX\n")
            return True
        body = self.xport(request.server.host, start, interval, cf,
                          query.get("host", "false").lower() == "true", query.get("vm_uuid"))
        request.reply(200, body.encode(), "text/xml")
        return True

    def connect(self, request: "RequestHandler", path: str, query: dict[str, str]) -> bool:
        return False

    def columns(self, listener_host: str, with_host: bool,
                vm_uuid: str | None) -> list[tuple[str, str, str, float]]:
        """(kind, uuid, data source, scale) for each column, in legend order."""
        store = self.store
        out: list[tuple[str, str, str, float]] = []
        with store.lock:
            hosts = self.served_hosts(listener_host)
            if with_host and vm_uuid is None:
                for ref in hosts:
                    host = store.table("host")[ref]
                    metrics = store.table("host_metrics").get(str(host.get("metrics")), {})
                    total_kib = int_field(metrics, "memory_total") / 1024
                    cpu_info = host.get("cpu_info")
                    cpus = int(cpu_info.get("cpu_count", "4")) if isinstance(cpu_info, dict) \
                        else 4
                    for source in host_sources(min(cpus, 64)):
                        out.append(("host", str(host["uuid"]), source, total_kib))
            for vm in store.table("VM").values():
                if vm.get("power_state") != "Running" or vm.get("resident_on") not in hosts:
                    continue
                if vm_uuid is not None and vm.get("uuid") != vm_uuid:
                    continue
                memory = float(int_field(vm, "memory_target")
                               or int_field(vm, "memory_static_max"))
                for source in vm_sources(vm):
                    scale = memory / 1024 if source == "memory_internal_free" else memory
                    out.append(("vm", str(vm["uuid"]), source, scale))
        return out

    def _values(self) -> Callable[[str, str, float, int, int], float]:
        """value(uuid, source, scale, archive index, slot time) over a snapshot of the
        recorded archives: recorded, NaN for a real guest's unmeasured source, or synthetic."""
        with self.lock:
            recorded = dict(self.recorded)
        real_guests = {key[0] for key in recorded}

        def value(uuid: str, source: str, scale: float, index: int, t: int) -> float:
            archive = recorded.get((uuid, source))
            if archive is not None:
                return archive.value(index, t)
            if uuid in real_guests:
                return math.nan
            return synthetic(uuid, source, t + ARCHIVES[index][0] / 2, scale)
        return value

    def _whole_rrd(self, listener_host: str, of_vm: bool, query: dict[str, str]) -> str | None:
        """/host_rrd and /vm_rrd?uuid=: every archive of one object, as rrdtool's dump
        (what XenCenter reads for the long history before following /rrd_updates)."""
        if of_vm:
            columns = [c for c in self.columns(listener_host, False, query.get("uuid", ""))
                       if c[0] == "vm"]
        else:
            wanted = query.get("uuid")
            columns = [c for c in self.columns(listener_host, True, None) if c[0] == "host"]
            uuid0 = wanted or (columns[0][1] if columns else "")
            columns = [c for c in columns if c[1] == uuid0]
        if not columns:
            return None
        now = int(self.clock())
        value = self._values()
        ds = "".join(f"<ds><name>{source}</name><type>{_ds_type(source)}</type>"
                     "<minimal_heartbeat>300.0000</minimal_heartbeat><min>0.0</min>"
                     "<max>Infinity</max><last_ds>0.0</last_ds><value>0.0</value>"
                     "<unknown_sec>0</unknown_sec></ds>" for _k, _u, source, _s in columns)
        rras = []
        for index, (step, rows) in enumerate(ARCHIVES):
            last = now // step * step
            prep = "".join("<ds><primary_value>0.0</primary_value><secondary_value>0.0"
                           "</secondary_value><value>0.0</value><unknown_datapoints>0"
                           "</unknown_datapoints></ds>" for _ in columns)
            body = "".join(
                "<row>" + "".join(f"<v>{_number(value(uuid, source, scale, index, t))}</v>"
                                  for _k, uuid, source, scale in columns) + "</row>"
                for t in range(last - (rows - 1) * step, last + 1, step))
            rras.append(f"<rra><cf>AVERAGE</cf><pdp_per_row>{step // ARCHIVES[0][0]}"
                        "</pdp_per_row><params><xff>0.5000</xff></params>"
                        f"<cdp_prep>{prep}</cdp_prep><database>{body}</database></rra>")
        return ('<?xml version="1.0" encoding="UTF-8"?>\n<rrd><version>0003</version>'
                f"<step>{ARCHIVES[0][0]}</step><lastupdate>{now}</lastupdate>{ds}"
                f"{''.join(rras)}</rrd>")

    def xport(self, listener_host: str, start: int, interval: int, cf: str,
              with_host: bool, vm_uuid: str | None) -> str:
        now = self.clock()
        index = _archive_for(now, start, interval)
        step, rows = ARCHIVES[index]
        end = int(now // step) * step
        first = max(start, end - (rows - 1) * step)
        first = -(-first // step) * step
        times = list(range(end, first - 1, -step))
        columns = self.columns(listener_host, with_host, vm_uuid)
        legend = "".join(f"<entry>{cf}:{kind}:{uuid}:{source}</entry>"
                         for kind, uuid, source, _ in columns)
        value = self._values()
        data = []
        for t in times:
            values = "".join(f"<v>{_number(value(uuid, source, scale, index, t))}</v>"
                             for _kind, uuid, source, scale in columns)
            data.append(f"<row><t>{t}</t>{values}</row>")
        return ('<?xml version="1.0" encoding="UTF-8"?>\n<xport><meta>'
                f"<start>{times[-1] if times else end}</start><step>{step}</step>"
                f"<end>{end}</end><rows>{len(times)}</rows><columns>{len(columns)}</columns>"
                f"<legend>{legend}</legend></meta><data>{''.join(data)}</data></xport>")


def _ds_type(source: str) -> str:
    return "GAUGE" if source.startswith("memory") or source == "loadavg" else "DERIVE"


def _archive_for(now: float, start: int, interval: int) -> int:
    for index, (step, rows) in enumerate(ARCHIVES):
        if step >= interval and now - start <= step * rows:
            return index
    return len(ARCHIVES) - 1


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return format(value, ".12g")
