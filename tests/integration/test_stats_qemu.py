"""Live statistics from a real QEMU guest under qemu:///system, through the sampler and
the rate calculator the Performance tab uses.

The test guest's init sits idle at its shell once booted, so its CPU must read near 0 %;
paused, its vCPUs stand still; with a busy loop typed into its console shell, its one vCPU
reads busy.
"""
from __future__ import annotations

import asyncio
import math
import random
import statistics
import subprocess

import pytest

from app.perf.rates import DomainRateCalculator, HostRateCalculator
from tests.integration.guest import serial_size, wait_for_serial

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def collect(aloop, sampler, key: str, ticks: int, interval_s: float = 1.0):
    """``ticks`` rate readings of one guest (and the host), ``interval_s`` apart."""
    calc, host_calc = DomainRateCalculator(), HostRateCalculator()
    sampler.prepare = calc.update_batch  # the rates are computed in the worker thread

    async def run():
        out = []
        for i in range(ticks + 1):
            batch = await sampler.sample_once()
            rates = batch.prepared
            host = host_calc.update(batch.host)
            if i:
                out.append((rates, rates.index[key], host))
            await asyncio.sleep(interval_s)
        return out

    return aloop.run_until_complete(asyncio.wait_for(run(), 120))


@pytest.fixture
def sampler(libvirt_uri):
    import libvirt

    from connectors.libvirt.stats import StatsSampler

    conn = libvirt.open(libvirt_uri)
    s = StatsSampler(conn, timeout_s=30)
    yield s
    s.close()
    conn.close()


def test_idle_guest_reads_near_zero_cpu(aloop, booted_guest, sampler):
    key = booted_guest.domain.UUIDString()
    readings = collect(aloop, sampler, key, ticks=4)
    cpu = [r.cpu_percent[i] for r, i, _ in readings]
    assert all(math.isfinite(c) for c in cpu), cpu
    assert statistics.median(cpu) < 15.0, cpu
    rates, i, host = readings[-1]
    assert rates.vcpus[i] == 1
    assert len(rates.vcpu_percent_of(key)) == 1
    assert 0.0 <= host.cpu_percent <= 100.0
    assert host.mem_total_kib > 0 and host.mem_used_kib > 0


def test_paused_guest_reads_zero_not_a_gap(aloop, booted_guest, sampler):
    key = booted_guest.domain.UUIDString()
    booted_guest.domain.suspend()
    try:
        readings = collect(aloop, sampler, key, ticks=2)
    finally:
        booted_guest.domain.resume()
    for rates, i, _ in readings:
        vcpu = rates.vcpu_percent_of(key)
        assert math.isfinite(rates.cpu_percent[i])
        assert rates.cpu_percent[i] < 2.0      # emulator threads may still tick a little
        assert vcpu.tolist() == [0.0]           # the vCPUs themselves stand still


def _type(libvirt_uri: str, name: str, chords: list[list[str]]) -> None:
    for chord in chords:
        # One chord per call: virsh presses all keys of one call together.
        subprocess.run(["virsh", "-c", libvirt_uri, "send-key", name, *chord], check=True,
                       capture_output=True, timeout=60)


_SHIFTED = {"&": "KEY_7", ">": "KEY_DOT", "|": "KEY_BACKSLASH", "_": "KEY_MINUS",
            ":": "KEY_SEMICOLON"}
_NAMED = {" ": "KEY_SPACE", ";": "KEY_SEMICOLON", "\n": "KEY_ENTER", "/": "KEY_SLASH",
          ".": "KEY_DOT", "-": "KEY_MINUS", "=": "KEY_EQUAL"}


def _keys(text: str) -> list[list[str]]:
    """virsh send-key chords for text on a US layout (capitals and symbols shifted)."""
    out = []
    for ch in text:
        if ch in _SHIFTED:
            out.append(["KEY_LEFTSHIFT", _SHIFTED[ch]])
        elif ch in _NAMED:
            out.append([_NAMED[ch]])
        elif ch.isupper():
            out.append(["KEY_LEFTSHIFT", f"KEY_{ch}"])
        else:
            out.append([f"KEY_{ch.upper()}"])
    return out


def start_busy_loop(libvirt_uri: str, guest, attempts: int = 3) -> None:
    """Types a busy loop into the guest's shell, and makes sure it runs: virsh send-key
    can lose a key on a loaded machine, and a loop typed wrong never starts (the shell
    waits for its "done"). The loop announces itself on the serial port; one that did not
    is interrupted and typed again."""
    for attempt in range(attempts):
        marker = f"busy{attempt}x{random.randrange(10**6, 10**7)}"
        after = serial_size(guest.serial_log)
        _type(libvirt_uri, guest.name,
              _keys(f"echo {marker} >/dev/ttyS0; while :; do :; done\n"))
        try:
            wait_for_serial(guest.serial_log, marker, 20, after=after)
            return
        except TimeoutError:
            _type(libvirt_uri, guest.name, [["KEY_LEFTCTRL", "KEY_C"]])
            _type(libvirt_uri, guest.name, [["KEY_ENTER"]])
    raise AssertionError(f"no busy loop ran in {guest.name} after {attempts} attempts")


def test_cpu_burning_guest_reads_most_of_its_vcpu(aloop, booted_guest, sampler, libvirt_uri):
    # A busy loop typed into the guest's console shell keeps its only vCPU busy. The
    # vCPU thread competes with everything else on this 2-core host, so the reading is
    # "clearly busy" (well above the idle guest's), not an exact 100 %.
    key = booted_guest.domain.UUIDString()
    start_busy_loop(libvirt_uri, booted_guest)
    readings = collect(aloop, sampler, key, ticks=4)
    cpu = [r.cpu_percent[i] for r, i, _ in readings]
    vcpu = [r.vcpu_percent_of(key)[0] for r, _, _ in readings]
    assert statistics.median(cpu) > 40.0, cpu
    assert statistics.median(vcpu) > 40.0, vcpu
    assert all(c <= 100.0 for c in cpu)


def test_tiered_and_chunked_calls_give_qemu_s_full_records(booted_guest, sampler,
                                                           monkeypatch):
    """The calls a host with many VMs uses (virDomainListGetStats for the hot VMs between
    full ticks, the full tick in chunks) on a real QEMU guest, made to apply to this small
    host: the same complete records as the one bulk call, under the same UUID."""
    from connectors.libvirt import stats

    key = booted_guest.domain.UUIDString()
    monkeypatch.setattr(stats, "TIERED_FROM", 0)
    sampler.hot_keys = frozenset({key})
    first = sampler.collect()               # full, one bulk call
    hot = sampler.collect()                 # only the hot guest
    assert first.full and not hot.full
    assert [r[0] for r in hot.records] == [key]
    record = hot.records[0][2]
    assert {"cpu.time", "vcpu.0.time", "balloon.current", "block.count"} <= set(record)
    assert hot.records[0][1] == booted_guest.domain.ID()
    sampler.chunk = 1
    chunked = {dom.UUIDString(): rec for dom, rec in sampler._chunked_stats()}
    # (Other guests on a shared libvirtd may come and go between two calls.)
    assert key in chunked
    assert {"cpu.time", "vcpu.0.time", "balloon.current", "block.count"} <= set(chunked[key])
