"""Alerts on replayed ticks of real captured QEMU statistics, through the real collector
and monitor: "above X for N minutes" fires once per episode, only for the VM above, never
for a gap; host rules; the Alerts list dismisses; the Events log has each alert."""
from __future__ import annotations

import pytest

from app.perf.alerts import ALL_HOSTS, ALL_VMS, AlertEngine, AlertRule, AlertsModel
from app.perf.alerts import format_duration, load_rules, parse_duration, save_rules
from tests.conftest import wait_until
from tests.perf_replay import Load, close_stack, lab, make_perf_stack, replay_only  # noqa: F401


def engine_for(stack, rules):
    engine = AlertEngine(stack.monitor, AlertsModel(), stack.events_log)
    engine.set_rules(rules)
    raised = []
    engine.alertRaised.connect(raised.append)
    return engine, raised


def test_fires_after_the_period_once_and_again_after_recovering(aloop, lab):
    stack, conn_id, (hot, calm) = lab
    engine, raised = engine_for(stack, [AlertRule(ALL_VMS, "cpu_percent", 80.0, 0.1)])
    loads = {hot: Load(cpu_percent=95), calm: Load(cpu_percent=20)}
    replay = aloop.run_until_complete(replay_only(stack, conn_id, loads))
    replay.tick()                     # first tick of the replay: no rate yet (a gap)
    for _ in range(3):                # above for 0, 2, 4 s: not yet 6 s
        replay.tick()
    assert raised == []
    replay.tick()                     # 6 s above
    assert [a.key for a in raised] == [hot]
    assert "CPU usage has been above 80 %" in raised[0].message
    replay.tick()
    replay.tick()
    assert len(raised) == 1, "one alert per episode"
    loads[hot].cpu_percent = 10
    replay.tick()
    loads[hot].cpu_percent = 99
    for _ in range(4):
        replay.tick()
    assert len(raised) == 2
    assert engine.model.rowCount() == 2
    name = stack.manager.host(conn_id).vm(hot).name
    assert engine.model.index(0, 1).data() == name
    log = [stack.events_log.index(r, 3).data() for r in range(stack.events_log.rowCount())]
    assert sum("CPU usage has been above" in m for m in log) == 2
    engine.model.dismiss([0])
    assert engine.model.rowCount() == 1
    engine.model.dismiss_all()
    assert engine.model.rowCount() == 0


def test_single_vm_rule_and_throughput_in_mebibytes(aloop, lab):
    """MiB/s, as the graphs and the tree count bytes."""
    stack, conn_id, (a, b) = lab
    engine, raised = engine_for(stack, [AlertRule(f"vm:{b}", "disk_bps", 5.0, 0.0)])
    loads = {a: Load(disk_rd_bps=50 * 2**20), b: Load(disk_rd_bps=6 * 2**20)}
    replay = aloop.run_until_complete(replay_only(stack, conn_id, loads))
    replay.tick()
    replay.tick()
    assert [x.key for x in raised] == [b]
    assert raised[0].value == pytest.approx(6.0, rel=0.01)


def test_host_rule_on_the_summed_vm_traffic(aloop, lab):
    stack, conn_id, (a, b) = lab
    engine, raised = engine_for(stack, [AlertRule(ALL_HOSTS, "net_bps", 1.0, 0.0)])
    loads = {a: Load(net_rx_bps=0.6e6), b: Load(net_rx_bps=0.6e6)}
    replay = aloop.run_until_complete(replay_only(stack, conn_id, loads))
    replay.tick()
    replay.tick()
    assert [x.key for x in raised] == [conn_id]
    assert raised[0].name == stack.manager.label(conn_id)


def test_no_data_is_not_above(aloop, lab):
    stack, conn_id, keys = lab
    engine, raised = engine_for(stack, [AlertRule(ALL_VMS, "cpu_percent", -1.0, 0.0)])
    # Real test-driver ticks: no counters, every rate NaN.
    aloop.run_until_complete(wait_until(lambda: stack.monitor.latest_tick(conn_id)))
    engine.check(conn_id)
    assert raised == []


def test_rules_round_trip_through_the_preferences(tmp_path, aloop):
    stack = make_perf_stack(tmp_path)
    try:
        rules = [AlertRule(ALL_VMS, "mem_percent", 95.0, 10.0),
                 AlertRule("host:qemu:///system", "cpu_percent", 90.0, 5.0, False)]
        save_rules(stack.preferences, rules)
        assert load_rules(stack.preferences) == rules
        engine = AlertEngine(stack.monitor, preferences=stack.preferences)
        assert engine.rules == rules
        save_rules(stack.preferences, rules[:1])
        assert engine.rules == rules[:1]
    finally:
        aloop.run_until_complete(close_stack(stack))


def test_durations_read_as_people_say_them():
    assert [format_duration(s) for s in (0, 12, 60, 90, 300, 3600, 5400, 86400)] == [
        "0 s", "12 s", "1 min", "1 min 30 s", "5 min", "1 h", "1 h 30 min", "24 h"]
    assert AlertRule(ALL_VMS, "cpu_percent", 90.0, 0.2).describe() == \
        "CPU usage above 90 % for 12 s"
    assert [parse_duration(t) for t in ("5 min", "1 h 30 min", "90 s", "2", "0.2 min",
                                        "1h", "5 min x", "", "soon")] == [
        300, 5400, 90, 120, 12, 3600, None, None, None]


def test_a_firing_alert_ends_when_its_value_drops_its_rule_goes_or_its_server_does(aloop,
                                                                                 lab):
    stack, conn_id, (hot, other) = lab
    rule = AlertRule(ALL_VMS, "cpu_percent", 80.0, 0.0)
    engine, raised = engine_for(stack, [rule])
    counts = []
    engine.model.firingChanged.connect(counts.append)
    loads = {hot: Load(cpu_percent=95), other: Load(cpu_percent=90)}
    replay = aloop.run_until_complete(replay_only(stack, conn_id, loads))
    replay.tick()
    replay.tick()
    assert engine.model.firing_count() == 2 and counts == [1, 2]
    loads[other].cpu_percent = 10
    replay.tick()
    assert engine.model.firing_count() == 1
    now = {engine.model.index(r, 1).data(): engine.model.index(r, 3).data()
           for r in range(2)}
    names = {k: stack.manager.host(conn_id).vm(k).name for k in (hot, other)}
    assert now[names[hot]] == "Firing"
    assert now[names[other]].startswith("Ended ")
    engine.set_rules([])                       # the rule was removed
    assert engine.model.firing_count() == 0
    engine.set_rules([rule])
    replay.tick()
    assert engine.model.firing_count() == 1
    aloop.run_until_complete(stack.manager.disconnect_server(conn_id))   # no more figures
    aloop.run_until_complete(wait_until(lambda: engine.model.firing_count() == 0))
    assert engine.model.rowCount() == 3, "ended alerts stay listed until dismissed"
