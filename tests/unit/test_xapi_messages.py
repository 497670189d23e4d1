"""XAPI message records as alerts (connectors.xapi.messages): the timestamp forms XAPI
and its clients write, an ALARM's body in words, and both readers fuzzed: whatever a
server sends, they answer something or None and never raise."""
from __future__ import annotations

import calendar

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.libvirt.model import ObjectKind
from connectors.xapi.messages import (alarm_summary, parse_timestamp, server_alert,
                                      severity, title_of)

NOON = calendar.timegm((2026, 12, 3, 12, 0, 0, 0, 0, 0))
CPU_ALARM = ("value: 0.979172\nconfig:\n<variable>\n\t<name value=\"cpu_usage\"/>\n"
             "\t<alarm_trigger_level value=\"0.9\"/>\n\t<alarm_trigger_period value=\"60\"/>\n"
             "\t<alarm_auto_inhibit_period value=\"3600\"/>\n</variable>\n")


def test_timestamps_in_the_forms_xapi_and_its_clients_write():
    assert parse_timestamp("20261203T12:00:00Z") == NOON           # XAPI's own
    assert parse_timestamp("2026-12-03T12:00:00Z") == NOON
    assert parse_timestamp("2026-12-03T12:00:00.250Z") == NOON
    assert parse_timestamp("2026-12-03T13:30:00+01:30") == NOON
    assert parse_timestamp("20261203T12:00:00") == NOON             # no zone: UTC
    for bad in ("", "yesterday", "20261303T12:00:00Z", "2026-12-03", None, 17):
        assert parse_timestamp(bad) is None


def test_names_in_words_and_priorities_as_severities():
    assert title_of("VM_CRASHED") == "VM crashed"
    assert title_of("HA_HOST_FAILED") == "HA host failed"
    assert title_of("HOST_CLOCK_SKEW_DETECTED") == "Host clock skew detected"
    assert title_of("") == "Alert"
    assert [severity(p) for p in (1, 2, 3, 4, 5)] == ["error", "error", "warning", "info",
                                                       "info"]


def test_an_alarm_reads_as_xencenter_words_it():
    assert alarm_summary(CPU_ALARM) == "CPU usage 98 % (alarm level 90 %, for 60 s)"
    free = CPU_ALARM.replace("0.979172", "524288").replace("cpu_usage", "memory_free_kib") \
        .replace('"0.9"', '"1048576"')
    assert alarm_summary(free) == "Free memory 512 MiB (alarm level 1024 MiB, for 60 s)"
    assert alarm_summary("the disk is full") is None
    assert alarm_summary("value: 1\nconfig:\n<variable><oops") is None


def test_a_record_becomes_an_alert_with_its_object_named():
    record = {"uuid": "m-1", "name": "ALARM", "priority": "2", "cls": "VM",
              "obj_uuid": "vm-7", "body": CPU_ALARM, "timestamp": "20261203T12:00:00Z"}
    alert = server_alert(record, lambda kind, key: f"{kind.name}:{key}" if kind else "")
    assert alert is not None
    assert (alert.key, alert.priority, alert.kind, alert.obj_name, alert.wall) == (
        "m-1", 2, ObjectKind.VM, "VM:vm-7", NOON)
    assert alert.title == "Alarm: CPU usage 98 % (alarm level 90 %, for 60 s)"
    assert alert.body == ""
    pool = server_alert({"uuid": "m-2", "name": "POOL_CPU_FEATURES_DOWN", "cls": "Pool",
                         "priority": 4}, lambda kind, key: "the pool" if kind is None else "")
    assert pool is not None and pool.kind is None and pool.obj_name == "the pool"
    assert server_alert({"name": "NO_UUID"}, lambda kind, key: "") is None


_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                       lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
_fields = st.sampled_from(["uuid", "name", "priority", "cls", "obj_uuid", "body",
                           "timestamp"])


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_fields, _values | st.text()))
def test_fuzz_any_record_gives_an_alert_or_none(record):
    alert = server_alert(record, lambda kind, key: "")
    if alert is not None:
        assert isinstance(alert.title, str) and isinstance(alert.priority, int)
        assert alert.key == record["uuid"]


_stamp_text = st.from_regex(r"\A\d{4}-?\d{2}-?\d{2}T\d{2}:?\d{2}:?\d{2}(\.\d+)?"
                            r"(Z|[+-]\d{2}:?\d{2})?\Z")


@settings(max_examples=200, deadline=None)
@given(st.one_of(_stamp_text, st.text(), _values))
def test_fuzz_timestamps_never_raise(value):
    wall = parse_timestamp(value)
    assert wall is None or isinstance(wall, float)


_alarm = st.builds(
    lambda value, name, level, tail: (f"value: {value}\nconfig:\n<variable><name value="
                                      f"\"{name}\"/><alarm_trigger_level value=\"{level}\"/>"
                                      f"{tail}</variable>"),
    st.one_of(st.floats(), st.text(max_size=6)), st.text(max_size=12),
    st.one_of(st.floats(), st.text(max_size=6)), st.text(max_size=20))


@settings(max_examples=200, deadline=None)
@given(st.one_of(_alarm, st.text()))
def test_fuzz_alarm_bodies_never_raise(body):
    summary = alarm_summary(body)
    assert summary is None or isinstance(summary, str)
