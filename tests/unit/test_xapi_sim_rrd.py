"""/rrd_updates on the simulator: rrdtool's xport XML with xapi's legend
(AVERAGE:vm:<uuid>:cpu0), rows newest first, the archive xapi would pick for the
asked-for range (5 s for the last 10 minutes, 1 minute for an hour, 1 hour for a day or a
week), synthetic values a test can recompute, and a real guest's recorded samples."""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

from tests.xapi_sim_helpers import running_simulator
from xapi_sim.rrd import synthetic

NOW = 1_796_000_000.0  # a fixed clock: 2026-11-30


@pytest.fixture(scope="module")
def pool():
    with running_simulator(hosts=2, vms=10) as running:
        running.extras.rrds.clock = lambda: NOW
        running.session = running.login()
        yield running


def xport(pool, **query) -> tuple[dict, list[str], list[tuple[int, list[str]]]]:
    query.setdefault("session_id", pool.session)
    query.setdefault("cf", "AVERAGE")
    status, body = pool.get("/rrd_updates?" + "&".join(f"{k}={v}" for k, v in query.items()))
    assert status == 200, body
    root = ET.fromstring(body)
    meta = root.find("meta")
    head = {name: int(meta.find(name).text) for name in ("start", "step", "end", "rows",
                                                         "columns")}
    legend = [e.text for e in meta.find("legend")]
    rows = [(int(r.find("t").text), [v.text for v in r.findall("v")])
            for r in root.find("data")]
    return head, legend, rows


def test_without_a_session_there_is_nothing(pool) -> None:
    status, _ = pool.get(f"/rrd_updates?start={int(NOW) - 60}&cf=AVERAGE&host=true")
    assert status == 401


@pytest.mark.parametrize("back, interval, step, count", [
    (600, 5, 5, 120), (3600, 60, 60, 60), (86400, 3600, 3600, 24),
    (7 * 86400, 3600, 3600, 168)])
def test_the_archive_matches_the_range(pool, back, interval, step, count) -> None:
    head, legend, rows = xport(pool, start=int(NOW) - back, interval=interval, host="true")
    assert head["step"] == step
    assert head["rows"] == len(rows) and count <= len(rows) <= count + 1
    assert [t for t, _ in rows] == sorted((t for t, _ in rows), reverse=True)
    assert rows[0][0] == head["end"] and rows[-1][0] == head["start"]
    assert head["columns"] == len(legend) == len(rows[0][1])


def test_columns_name_the_pools_hosts_and_running_vms(pool) -> None:
    head, legend, rows = xport(pool, start=int(NOW) - 30, interval=5, host="true")
    store = pool.sim.store
    running = [v for v in store.table("VM").values()
               if v["power_state"] == "Running" and not v["is_control_domain"]]
    for vm in running:
        assert f"AVERAGE:vm:{vm['uuid']}:cpu0" in legend
        assert f"AVERAGE:vm:{vm['uuid']}:vif_0_rx" in legend
    for host in store.table("host").values():
        assert f"AVERAGE:host:{host['uuid']}:memory_free_kib" in legend
    column = legend.index(f"AVERAGE:vm:{running[0]['uuid']}:cpu0")
    t, values = rows[0]
    assert float(values[column]) == pytest.approx(
        synthetic(running[0]["uuid"], "cpu0", t + 2.5), abs=1e-6)
    only, only_legend, _ = xport(pool, start=int(NOW) - 30, vm_uuid=running[0]["uuid"])
    assert {e.split(":")[2] for e in only_legend} == {running[0]["uuid"]}


def test_a_real_guests_samples_are_what_it_reports(pool) -> None:
    vm = next(v for v in pool.sim.store.table("VM").values()
              if v["power_state"] == "Running" and not v["is_control_domain"])
    rrds = pool.extras.rrds
    for k in range(12):  # a minute of 5 s samples: 0.1, 0.2, ... 1.2
        rrds.record(vm["uuid"], {"cpu0": 0.1 * (k + 1)}, NOW - 60 + 5 * k)
    try:
        head, legend, rows = xport(pool, start=int(NOW) - 60, interval=5)
        column = legend.index(f"AVERAGE:vm:{vm['uuid']}:cpu0")
        by_time = {t: v[column] for t, v in rows}
        assert float(by_time[int(NOW) - 60]) == pytest.approx(0.1)
        assert float(by_time[int(NOW) - 5]) == pytest.approx(1.2)
        memory = legend.index(f"AVERAGE:vm:{vm['uuid']}:memory")
        assert math.isnan(float(rows[0][1][memory])), "a source the guest did not report"
        _, legend, rows = xport(pool, start=int(NOW) - 3600, interval=60)
        column = legend.index(f"AVERAGE:vm:{vm['uuid']}:cpu0")
        by_time = {t: v[column] for t, v in rows}
        minute = int((NOW - 60) // 60) * 60
        in_minute = [0.1 * (k + 1) for k in range(12) if NOW - 60 + 5 * k < minute + 60]
        assert float(by_time[minute]) == pytest.approx(sum(in_minute) / len(in_minute))
    finally:
        rrds.recorded.clear()


def test_a_whole_rrd_has_every_archive(pool) -> None:
    vm = next(v for v in pool.sim.store.table("VM").values()
              if v["power_state"] == "Running" and not v["is_control_domain"])
    status, body = pool.get(f"/vm_rrd?session_id={pool.session}&uuid={vm['uuid']}")
    assert status == 200
    root = ET.fromstring(body)
    assert root.tag == "rrd" and int(root.find("lastupdate").text) == int(NOW)
    names = [ds.find("name").text for ds in root.findall("ds")]
    assert names[0] == "cpu0" and "vif_0_tx" in names
    archives = [(int(r.find("pdp_per_row").text), r.find("database").findall("row"))
                for r in root.findall("rra")]
    assert [(pdp, len(rows)) for pdp, rows in archives] == [(1, 120), (12, 120), (720, 168),
                                                            (17280, 366)]
    last = int(NOW) // 5 * 5
    newest = float(archives[0][1][-1].findall("v")[0].text)
    assert newest == pytest.approx(synthetic(vm["uuid"], "cpu0", last + 2.5), abs=1e-6)
    status, body = pool.get(f"/host_rrd?session_id={pool.session}")
    assert status == 200 and "memory_free_kib" in body.decode()
    status, _ = pool.get(f"/vm_rrd?session_id={pool.session}&uuid=not-a-vm")
    assert status == 404
