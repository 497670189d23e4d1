"""HVConsole's keepalive: a host whose calls get no answer is lost; a host busy with one
long call answers the probe and is not.

The record (AnswerWatch) runs on a hand-moved clock. The watch runs on a real Link over
libvirt's in-process test driver; only the "host that never answers" is made up (a call
blocked on an Event, and a probe that blocks the same way), because a real silent host
needs the network namespace of tests/integration/test_bad_networks.py.
"""
from __future__ import annotations

import asyncio
import threading

import libvirt
import pytest

from connectors.libvirt import answer_watch
from connectors.libvirt.answer_watch import AnswerWatch, watch_answers
from connectors.libvirt.link import Link


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_silence_counts_from_the_oldest_waiting_call_or_the_last_answer():
    clock = Clock()
    watch = AnswerWatch(clock)
    assert watch.silent_s() == 0.0, "an idle connection is not silent"
    first = watch.begin()
    clock.now += 4
    second = watch.begin()
    clock.now += 3
    assert watch.silent_s() == 7.0
    watch.end(second)                  # the host answered something
    assert watch.silent_s() == 0.0
    clock.now += 5
    assert watch.silent_s() == 5.0, "the first call still waits, with no answer since"
    watch.end(first)
    assert watch.silent_s() == 0.0
    clock.now += 2
    assert watch.quiet_s() == 2.0, "quiet: since the last answer, calls waiting or not"


@pytest.fixture
def fast_checks(monkeypatch):
    monkeypatch.setattr(answer_watch, "CHECK_EVERY_S", 0.05)


class SilentLink(Link):
    """A Link whose host never answers the probe either."""

    def __init__(self, never: threading.Event) -> None:
        super().__init__("silent.example", 2, 1, lambda: 30.0)
        self.never = never

    def probe(self) -> None:
        self.executor.counted(self.never.wait, 10)


def _run_watch(link: Link, seconds: float) -> list[str]:
    lost: list[str] = []

    async def scenario() -> None:
        watching = asyncio.ensure_future(watch_answers(link, 0.1, 15, lost.append))
        await asyncio.sleep(seconds)
        watching.cancel()

    asyncio.run(scenario())
    return lost


def test_a_host_answering_nothing_is_lost_with_the_silence_in_words(fast_checks):
    never = threading.Event()
    link = SilentLink(never)
    link.conn = libvirt.open("test:///default")
    try:
        link.executor.submit(never.wait, 10)       # a call that gets no answer
        lost = _run_watch(link, 3.0)
    finally:
        never.set()
        link.executor.shutdown(wait=True)
        link.conn.close()
    assert len(lost) == 1, lost
    assert lost[0].startswith("the host stopped answering (no reply for ")


def test_a_host_busy_with_one_long_call_answers_the_probe_and_stays(fast_checks):
    link = Link("busy.example", 2, 1, lambda: 30.0)
    link.conn = libvirt.open("test:///default")
    release = threading.Event()
    try:
        link.executor.submit(release.wait, 10)     # a long job, the host otherwise idle
        lost = _run_watch(link, 3.0)
    finally:
        release.set()
        link.executor.shutdown(wait=True)
        link.conn.close()
    assert lost == [], "the probe's answer shows the host is alive"


def test_the_watch_ends_when_the_connection_is_let_go(fast_checks):
    link = Link("gone.example", 1, 1, lambda: 30.0)
    link.conn = libvirt.open("test:///default")

    async def scenario() -> bool:
        watching = asyncio.ensure_future(watch_answers(link, 0.1, 15, lambda _w: None))
        await asyncio.sleep(0.2)
        assert not link.socket_closed(), "the test driver's connection is open"
        link.let_go()
        await asyncio.wait_for(watching, 2)
        return watching.done()

    assert asyncio.run(scenario())
    link.executor.shutdown(wait=True)
