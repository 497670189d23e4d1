"""The statistics sampler's schedule (connectors/libvirt/sampling_schedule.py) on libvirt's
test driver: a quiet big host wakes only for its full ticks, a VM becoming hot brings the
next tick back at once, a stuck call is reported once and its late answer dropped, and a
stopped sampler delivers nothing more."""
from __future__ import annotations

import asyncio

import libvirt
import pytest

from connectors.libvirt.sampling_schedule import SamplingRun
from connectors.libvirt.stats import FULL_EVERY, StatsSampler
from tests.conftest import wait_until
from tests.unit.test_perf_tiers import big_host  # noqa: F401 (a fixture)
from tests.unit.test_stats_sampler import Spy


@pytest.fixture
def fired(monkeypatch) -> list[int]:
    """The grid index of every timer firing of every sampler."""
    indexes: list[int] = []
    real = SamplingRun._fire

    def fire(self):
        indexes.append(self._planned)
        real(self)
    monkeypatch.setattr(SamplingRun, "_fire", fire)
    return indexes


@pytest.fixture
def default_conn():
    conn = libvirt.open("test:///default")
    yield conn
    conn.close()


def run(aloop, sampler, interval_s, until, timeout_s=30, errors=None, between=None):
    batches = []

    async def scenario():
        sampler.start(batches.append, interval_s,
                      on_error=errors.append if errors is not None else None)
        if between is not None:
            await between(batches)
        await wait_until(lambda: until(batches), timeout=timeout_s)
        await sampler.stop()

    try:
        aloop.run_until_complete(scenario())
    finally:
        sampler.close()
    return batches


def test_a_quiet_big_host_wakes_only_for_its_full_ticks(aloop, big_host, fired):  # noqa: F811
    conn, _running, _stopped = big_host
    sampler = StatsSampler(conn)
    sampler.host_hot = False
    batches = run(aloop, sampler, 0.02, lambda b: len(b) >= 4)
    assert all(b.full for b in batches)
    # The first full tick tells it the host is big; after that it sleeps from one full
    # tick to the next instead of waking on every grid point to skip it.
    later = [i for i in fired if i > 1]
    assert later and all(i % FULL_EVERY == 0 for i in later), fired
    assert len(fired) <= len(batches) + 2, fired


def test_a_vm_becoming_hot_wakes_a_resting_host_at_the_next_grid_point(aloop, big_host):  # noqa: F811
    conn, running, _stopped = big_host
    sampler = StatsSampler(conn, host=False)
    sampler.host_hot = False
    interval = 0.5
    planned = {}

    async def between(batches):
        await wait_until(lambda: batches and sampler._run._planned >= FULL_EVERY, timeout=10)
        planned["resting"] = sampler._run._planned
        # Seconds away: armed as a coarse wait ending with a short exact timer, so that
        # Qt does not line several hosts' full ticks up on the same second.
        planned["armed"] = sampler._run._handle._callback.__name__
        sampler.hot_keys = frozenset({running[0]})
        planned["woken"] = sampler._run._planned

    batches = run(aloop, sampler, interval, lambda b: any(not x.full for x in b),
                  between=between)
    assert planned["resting"] == FULL_EVERY
    assert planned["armed"] == "_near"
    assert 1 <= planned["woken"] < FULL_EVERY
    hot = next(b for b in batches if not b.full)
    assert [key for key, _ident, _rec in hot.records] == [running[0]]


def test_a_stuck_call_is_reported_once_and_its_late_answer_dropped(aloop, default_conn):
    spy = Spy(default_conn, delay_s=0.6)
    sampler = StatsSampler(spy, host=False, timeout_s=0.15)
    produced = []
    collect = sampler.collect

    def counted_collect():
        batch = collect()
        produced.append(batch)
        spy.delay_s = 0.0        # only the first call is stuck
        return batch
    sampler.collect = counted_collect
    errors = []
    batches = run(aloop, sampler, 0.05, lambda b: len(b) >= 2, errors=errors)
    assert [type(e) for e in errors] == [asyncio.TimeoutError]
    assert spy.max_running == 1, "no second call stacked on the stuck one"
    assert all(b is not produced[0] for b in batches), "the late answer was dropped"
    assert batches[0].skipped_ticks >= 5, "the ticks missed meanwhile are counted"


def test_a_stopped_sampler_delivers_nothing_more(aloop, default_conn):
    spy = Spy(default_conn, delay_s=0.3)
    sampler = StatsSampler(spy, host=False)
    batches = []

    async def scenario():
        done = sampler.start(batches.append, 0.05)
        await wait_until(lambda: spy.running == 1, timeout=5)
        await sampler.stop()
        assert done.cancelled() and not sampler.running
        await asyncio.sleep(0.6)     # the call under way ends meanwhile

    try:
        aloop.run_until_complete(scenario())
    finally:
        sampler.close()
    assert batches == []
    assert spy.running == 0 and spy.count("getAllDomainStats") == 1
