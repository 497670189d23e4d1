"""The pool's object cache (connectors/xapi/cache.py) fed any event stream: every Change
it gives names a row consistently (an object shown once is updated or removed, never
left behind), templates and snapshots never become rows, and the rows after any
sequence of events are exactly what a fresh load of the final objects shows."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings, strategies as st

from connectors.libvirt.model import ObjectKind, ServerInfo, VMInfo
from connectors.xapi.cache import PoolCache, XapiEvent, parse_events

FUZZ = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
HOSTS = ["OpaqueRef:h1", "OpaqueRef:h2"]
VMS = ["OpaqueRef:v1", "OpaqueRef:v2", "OpaqueRef:v3"]


def vm_record(ref: str, power: str, resident: str, template: bool, snapshot: bool) -> dict:
    return {"uuid": f"uuid-{ref[-2:]}", "name_label": f"name-{ref[-2:]}",
            "power_state": power, "resident_on": resident, "is_a_template": template,
            "is_a_snapshot": snapshot, "VCPUs_max": "2", "memory_target": 1 << 30,
            "allowed_operations": ["start"]}


vm_events = st.builds(
    lambda ref, op, power, resident, template, snapshot: XapiEvent(
        "VM", op, ref, None if op == "del" else vm_record(ref, power, resident, template,
                                                          snapshot)),
    st.sampled_from(VMS), st.sampled_from(["add", "mod", "del"]),
    st.sampled_from(["Running", "Halted", "Paused", "Suspended", "Weird"]),
    st.sampled_from(HOSTS + ["OpaqueRef:NULL"]), st.booleans(), st.booleans())
host_events = st.builds(
    lambda ref, op, enabled: XapiEvent("host", op, ref, None if op == "del" else {
        "uuid": f"uuid-{ref[-2:]}", "name_label": ref[-2:], "enabled": enabled,
        "metrics": "OpaqueRef:NULL"}),
    st.sampled_from(HOSTS), st.sampled_from(["add", "mod", "del"]), st.booleans())
pool_events = st.builds(
    lambda master: XapiEvent("pool", "mod", "OpaqueRef:p", {"uuid": "p", "master": master}),
    st.sampled_from(HOSTS))


@FUZZ
@given(st.lists(st.one_of(vm_events, host_events, pool_events), max_size=40),
       st.integers(1, 8))
def test_any_event_stream_leaves_the_rows_a_fresh_load_shows(events, batch):
    cache = PoolCache("xapi://pool")
    rows: dict[tuple[ObjectKind, str], object] = {}
    for start in range(0, len(events), batch):
        for change in cache.apply(events[start:start + batch]):
            if change.obj is None:
                assert (change.kind, change.key) in rows
                del rows[(change.kind, change.key)]
            else:
                rows[(change.kind, change.key)] = change.obj
    fresh = PoolCache("xapi://pool")
    loaded = fresh.load(XapiEvent(cls, "add", ref, record)
                        for cls, table in cache.objects.items()
                        for ref, record in table.items())
    assert rows == {(c.kind, c.key): c.obj for c in loaded}
    for obj in rows.values():
        if isinstance(obj, VMInfo):
            assert obj.server_key in ("", "uuid-h1", "uuid-h2")
        else:
            assert isinstance(obj, ServerInfo)


@FUZZ
@given(st.recursive(st.none() | st.text(max_size=5) | st.integers(),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                        st.sampled_from(["events", "token", "class", "operation", "ref",
                                         "snapshot"]), inner, max_size=6), max_leaves=15))
def test_event_from_answers_parse_or_raise_value_error(answer):
    try:
        events, token = parse_events(answer)
    except ValueError:
        return
    assert isinstance(token, str) and all(isinstance(e, XapiEvent) for e in events)
