"""Which VM each record of a bulk answer is, and which running domains a chunked full
tick asks for: against libvirt's real test driver (its handles, ids, names and UUIDs),
with domains started, stopped and created between ticks.

``reference_keyed`` is the per-record loop the column-wise DomainKeys replaced, kept to
show that both key every record alike, cache included.
"""
from __future__ import annotations

import time
import uuid

import libvirt
import pytest

from connectors.libvirt.stats import StatsSampler
from connectors.libvirt.stats_keys import DomainKeys

DOMAIN = """<domain type='test'><name>{name}</name><uuid>{uuid}</uuid>
  <memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os>
  <test:runstate xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>{state}</test:runstate>
</domain>"""


def reference_keyed(records, uuids: dict, full: bool) -> tuple[list, dict]:
    """The loop as it was (StatsSampler._keyed before it went column-wise)."""
    seen: dict = {}
    out = []
    for dom, rec in records:
        try:
            ident = dom.ID()
        except libvirt.libvirtError:
            ident = None
        ident = ident if ident is not None and ident >= 0 else None
        if ident is None:
            key = dom.UUIDString()
        else:
            pair = (dom.name(), ident)
            known = uuids.get(pair)
            key = known if known is not None else dom.UUIDString()
            seen[pair] = key
        out.append((key, ident, rec))
    if full:
        return out, seen
    uuids.update(seen)
    return out, uuids


@pytest.fixture
def host(tmp_path):
    """60 domains, every fourth shut off."""
    domains = "".join(DOMAIN.format(name=f"perf-stats-{i:02d}", uuid=uuid.uuid4(),
                                    state=5 if i % 4 == 3 else 1) for i in range(60))
    path = tmp_path / "host.xml"
    path.write_text(f"<node><cpu><cores>4</cores></cpu><memory>16777216</memory>{domains}"
                    "</node>")
    conn = libvirt.open(f"test://{path}")
    yield conn
    conn.close()


def _change_the_host(conn: libvirt.virConnect, round_: int) -> None:
    running = [d for d in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)]
    stopped = [d for d in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_INACTIVE)]
    for dom in sorted(running, key=lambda d: d.name())[round_::9][:3]:
        dom.destroy()
    for dom in sorted(stopped, key=lambda d: d.name())[:2]:
        dom.create()
    conn.createXML(DOMAIN.format(name=f"perf-stats-new-{round_}", uuid=uuid.uuid4(),
                                 state=1), 0)


@pytest.mark.parametrize("active_only", [True, False])
def test_keys_and_ids_are_the_reference_ones_while_domains_come_and_go(host, active_only):
    keys, uuids = DomainKeys(), {}
    flags = libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE if active_only else 0
    for round_ in range(4):
        records = host.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_STATE, flags)
        new = keys.key(records, full=True)
        old, uuids = reference_keyed(records, uuids, full=True)
        assert new == old
        assert [k for k, _i, _r in new] == [d.UUIDString() for d, _r in records]
        assert [i for _k, i, _r in new] == [d.ID() if d.isActive() else None
                                            for d, _r in records]
        # A tick between full ones asks for a few domains only.
        part = [d for d, _r in records[::7]]
        few = host.domainListGetStats(part, libvirt.VIR_DOMAIN_STATS_STATE, 0)
        old_few, uuids = reference_keyed(few, uuids, full=False)
        assert keys.key(few, full=False) == old_few
        _change_the_host(host, round_)


def test_the_hot_handles_are_those_of_the_wanted_keys(host):
    records = host.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_STATE, 0)
    keyed = DomainKeys().key(records, full=True)
    wanted = frozenset([keyed[3][0], keyed[10][0], "not-on-this-host"])
    handles = DomainKeys.handles_of(records, keyed, wanted)
    assert {k: d.UUIDString() for k, d in handles.items()} == {keyed[3][0]: keyed[3][0],
                                                               keyed[10][0]: keyed[10][0]}
    assert DomainKeys.handles_of(records, keyed, frozenset()) == {}


class Counting:
    """The real connection, counting what the sampler asks of it."""

    def __init__(self, conn: libvirt.virConnect) -> None:
        self._conn = conn
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str):
        attr = getattr(self._conn, name)
        if not callable(attr):
            return attr

        def counted(*args, **kwargs):
            self.calls[name] = self.calls.get(name, 0) + 1
            return attr(*args, **kwargs)
        return counted


def test_a_chunked_full_tick_asks_for_every_running_domain_and_only_looks_up_new_ones(host):
    spy = Counting(host)
    sampler = StatsSampler(spy, host=False)   # type: ignore[arg-type]
    sampler.chunk, sampler.full_every = 10, 1
    try:
        for round_ in range(4):
            spy.calls.clear()
            batch = sampler.collect()
            expected = {d.UUIDString(): d.ID() for d in
                        host.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)}
            assert batch.full
            assert {k: i for k, i, _r in batch.records} == expected
            assert len(batch.records) == len(expected)
            if round_ == 0:       # one bulk call; its handles are kept
                assert spy.calls.get("getAllDomainStats") == 1
            else:                 # chunks of the kept handles; the new ones looked up
                assert "listAllDomains" not in spy.calls
                assert spy.calls["listDomainsID"] == 1
                assert spy.calls["domainListGetStats"] == -(-len(expected) // 10)
                assert spy.calls.get("lookupByID", 0) == (0 if round_ == 1 else 3)
            if round_:
                _change_the_host(host, round_)    # 3 stopped, 2 started, 1 created
    finally:
        sampler.close()


def test_a_domain_gone_between_the_listing_and_its_lookup_is_left_out(host):
    sampler = StatsSampler(host, host=False)
    sampler.chunk, sampler.full_every = 10, 1
    try:
        sampler.collect()
        started = host.createXML(DOMAIN.format(name="perf-stats-brief", uuid=uuid.uuid4(),
                                               state=1), 0)
        ident = started.ID()
        real_lookup = host.lookupByID

        class GoneOnLookup:
            def __getattr__(self, name):
                return getattr(host, name)

            def lookupByID(self, wanted):  # noqa: N802 (libvirt\'s name)
                if wanted == ident:
                    started.destroy()
                return real_lookup(wanted)

        sampler._conn = GoneOnLookup()   # type: ignore[assignment]
        batch = sampler.collect()
        expected = {d.UUIDString() for d in
                    host.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)}
        assert {k for k, _i, _r in batch.records} == expected
    finally:
        sampler.close()


def test_closing_the_sampler_lets_the_kept_handles_go_on_a_thread_of_its_own(host):
    """Freeing 10,000 handles costs 30 ms: not on the loop thread that drops a sampler."""
    import threading
    import weakref

    sampler = StatsSampler(host, host=False)
    sampler.chunk, sampler.full_every = 10, 1
    sampler.collect()
    kept = sampler._running
    assert len(kept) == len(host.listDomainsID()) > 0
    one = weakref.ref(next(iter(kept._by_id.values())))
    released_on: list[str] = []
    real_clear = dict.clear

    class Watched(dict):
        def clear(self) -> None:
            released_on.append(threading.current_thread().name)
            real_clear(self)

    kept._by_id = Watched(kept._by_id)
    sampler.close()
    deadline = time.monotonic() + 5
    while (not released_on or one() is not None) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert released_on == ["hvconsole-stats-release"] and one() is None
    assert len(kept) == 0 and kept.release() is None


def test_the_kept_handles_follow_the_running_domains_on_small_hosts_too(host):
    """A host asked in one call never lists: its full answers alone keep the handles
    current, so VMs started and stopped over days leave no handle behind."""
    sampler = StatsSampler(host, host=False)
    sampler.full_every = 1
    try:
        for round_ in range(3):
            sampler.collect()
            assert sorted(sampler._running._by_id) == sorted(host.listDomainsID())
            _change_the_host(host, round_)
    finally:
        sampler.close()
