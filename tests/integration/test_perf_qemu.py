"""A real QEMU guest in the real window: a busy loop typed into its shell shows as high
CPU in its Performance tab and in the tree's CPU column; the history written before a
restart of the app is in the 1-day range afterwards.

Disk and network rates are not checked on a real guest here: the test guest's kernel has
its virtio, ATA and NIC drivers as modules that its initramfs does not carry, so the guest
cannot do any disk or network I/O (tests/unit/test_perf_* and the widget tests replay
captured QEMU counters through the same code instead).
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app import preferences as prefs
from app.inventory import CPU_COLUMN, MEMORY_COLUMN, USAGE_ROLE
from app.perf.usage import format_bytes
from connectors.libvirt.model import ConnState
from tests.conftest import unavailable, wait_until
from tests.integration.test_stats_qemu import _keys, _type, start_busy_loop
from widgets.launcher import Session
from widgets.perf.readout import stamp

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def start_session(aloop, uri: str) -> tuple[Session, str]:
    session = Session(argparse.Namespace(connect=[uri], show_domain=None, screenshot=None,
                                         debug=False))
    window = session.build()
    window.resize(1400, 950)
    window.show()
    session.preferences.set_value(prefs.SAMPLING_INTERVAL, 1.0)
    conn_id = session.manager.open(uri, save=False)
    aloop.run_until_complete(wait_until(
        lambda: session.manager.host(conn_id).state is ConnState.CONNECTED, timeout=30))
    return session, conn_id


def stop_session(aloop, session: Session) -> None:
    session.preferences.set_value(prefs.SAMPLING_INTERVAL, 2.0)
    aloop.run_until_complete(session.shutdown())
    session.window.close()


def show_vm(aloop, session: Session, conn_id: str, key: str):
    window = session.window
    aloop.run_until_complete(wait_until(lambda: window.tree.select_node(conn_id, key),
                                        timeout=15))
    window.tabs.setCurrentWidget(window.performance_tab)
    return window.performance_tab


def cpu_line(tab):
    for title, label, _unit, t, v in tab.shown_data():
        if (title, label) == ("CPU", "CPU"):
            return t, v
    raise AssertionError("no CPU line")


def test_busy_guest_in_the_tab_the_tree_and_after_a_restart(aloop, booted_guest,
                                                            libvirt_uri, tmp_path, qapp):
    qapp.setQuitOnLastWindowClosed(False)
    key = booted_guest.domain.UUIDString()
    session, conn_id = start_session(aloop, libvirt_uri)
    try:
        tab = show_vm(aloop, session, conn_id, key)
        tab.vcpu_box.setChecked(True)
        start_busy_loop(libvirt_uri, booted_guest)

        def busy() -> bool:
            _t, v = cpu_line(tab)
            finite = v[np.isfinite(v)]
            return len(finite) >= 4 and statistics.median(finite[-4:]) > 40.0
        try:
            aloop.run_until_complete(wait_until(busy, timeout=60, interval=0.2))
        except AssertionError:
            raise AssertionError(f"the CPU line never read busy: {cpu_line(tab)[1][-12:]}")
        labels = [c.label for c in tab.specs[0].curves]
        assert labels == ["CPU", "vCPU 0"]
        # The guest has no disk and no network interface: no Disk or Network graphs.
        assert [chart.title.text() for chart in tab.charts] == ["CPU (%)", "Memory (MiB)"]
        # One instant, one set of values: the read-out of the newest point.
        tab.set_paused(True)
        t, v = cpu_line(tab)
        text = tab.readout_at(0, t[-1])
        assert text.startswith(f"CPU at {stamp(t[-1])} — CPU: {v[-1]:.1f} %, vCPU 0: ")
        assert "no data" not in text
        tab.set_paused(False)
        index = session.inventory.index_of(conn_id, key, CPU_COLUMN)
        aloop.run_until_complete(wait_until(lambda: (index.data(USAGE_ROLE) or 0) > 0.4,
                                            timeout=10))
        assert index.data().endswith("%")
        # The guest has no balloon driver: no memory figure of its own, its process's
        # RSS (more than its 128 MiB) only in the tooltip, never as its use.
        memory = session.inventory.index_of(conn_id, key, MEMORY_COLUMN)
        assert memory.data() == "–"
        assert "(RSS)" in memory.data(Qt.ItemDataRole.ToolTipRole)
        assert tab.save_png(str(tmp_path / "busy-guest.png"))
        session.window.grab().save(str(tmp_path / "window.png"))
        restarted_at = time.time()
    finally:
        stop_session(aloop, session)

    session, conn_id = start_session(aloop, libvirt_uri)
    try:
        tab = show_vm(aloop, session, conn_id, key)
        tab.set_range(86400.0)
        aloop.run_until_complete(wait_until(tab.history_ready, timeout=15))
        t, v = cpu_line(tab)
        before = v[(t < restarted_at) & np.isfinite(v)]
        assert len(before) >= 1, "the 1-day range shows what was sampled before the restart"
        # A 1-minute average: it mixes the idle seconds before the busy loop with the busy
        # ones, so it is clearly above an idle guest's (< 15 %) but not near 100 %.
        assert before.max() > 20.0, before
    finally:
        stop_session(aloop, session)


def test_a_real_hosts_memory_is_the_same_on_every_tab(aloop, libvirt_uri, qapp):
    """The local host's memory on the General tab, in the Performance tab's Memory graph
    and in the tree's Memory column: one figure, from one sample."""
    qapp.setQuitOnLastWindowClosed(False)
    session, conn_id = start_session(aloop, libvirt_uri)
    try:
        window = session.window
        aloop.run_until_complete(wait_until(
            lambda: window.tree.select_node(conn_id, conn_id), timeout=15))
        window.tabs.setCurrentWidget(window.performance_tab)
        tab = window.performance_tab
        aloop.run_until_complete(wait_until(
            lambda: session.monitor.host_memory(conn_id) is not None, timeout=30))
        # Hold the sampling still so that every tab shows the same tick.
        aloop.run_until_complete(session.monitor.collector(conn_id).stop())
        mem = session.monitor.host_memory(conn_id)
        tab.refresh()
        memory_t = next(d[3] for d in tab.shown_data() if d[:2] == ("Memory", "Free"))
        text = tab.readout_at(1, memory_t[-1])
        total, used, free = (format_bytes(x * 1024.0) for x in
                             (mem.total_kib, mem.used_kib, mem.free_kib))
        assert f"Total: {total}, Used: {used}, Free: {free}" in text, text
        window.tabs.setCurrentWidget(window.general_tab)
        window.general_tab.refresh()
        general = dict(next(rows for header, rows in window.general_tab.sections()
                            if header == "Memory"))
        assert general["Total"] == total and general["Free"] == free
        assert general["Used"].startswith(used + " (")
        cell = session.inventory.index_of(conn_id, conn_id, MEMORY_COLUMN)
        assert cell.data() == used
        assert cell.data(Qt.ItemDataRole.ToolTipRole).startswith(
            f"Used: {used} of {total}")
    finally:
        stop_session(aloop, session)


# ---- disk and network: a guest with virtio drivers, a disk and a NIC ----

NET_NAME = "hvconsole-test-perfnet"
NET_BRIDGE = "hvptest0"
HOST_IP, GUEST_IP = "10.251.77.1", "10.251.77.2"
@pytest.fixture
def io_initrd():
    import subprocess
    from pathlib import Path
    repo = Path(__file__).resolve().parents[2]
    result = subprocess.run(["bash", str(repo / "scripts" / "build-test-guest-io.sh")],
                            capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        unavailable(f"no I/O initramfs: {result.stderr.strip()[-300:]}")
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture
def isolated_network(libvirt_uri):
    """A libvirt network with no forwarding: host side HOST_IP, nothing leaves it."""
    import libvirt
    conn = libvirt.open(libvirt_uri)
    try:
        old = conn.networkLookupByName(NET_NAME)
        if old.isActive():
            old.destroy()
        old.undefine()
    except libvirt.libvirtError:
        pass
    net = conn.networkDefineXML(
        f"<network><name>{NET_NAME}</name><bridge name='{NET_BRIDGE}' stp='off'/>"
        f"<ip address='{HOST_IP}' netmask='255.255.255.0'/></network>")
    net.create()
    yield NET_NAME
    try:
        net.destroy()
    finally:
        net.undefine()
        conn.close()


def test_disk_and_network_rates_of_a_real_guest(aloop, guest_factory, io_initrd,
                                                isolated_network, libvirt_uri, qapp):
    import socket
    qapp.setQuitOnLastWindowClosed(False)
    guest = guest_factory("io", with_disk=True, initrd=io_initrd)
    xml = guest.domain.XMLDesc(0).replace(
        "</devices>", f"<interface type='network'><source network='{isolated_network}'/>"
                      "<model type='virtio'/></interface></devices>")
    guest.domain = guest.domain.connect().defineXML(xml)
    guest.start()
    guest.wait_ready()
    key = guest.domain.UUIDString()
    _type(libvirt_uri, guest.name, _keys(
        f"ip link set eth0 up; ip addr add {GUEST_IP}/24 dev eth0\n"
        f"ping -s 1400 {HOST_IP} >/dev/null &\n"
        "while true; do dd if=/dev/vda of=/dev/null bs=64k; "
        "echo 3 >/proc/sys/vm/drop_caches; done >/dev/null 2>/dev/null &\n"))
    session, conn_id = start_session(aloop, libvirt_uri)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    try:
        tab = show_vm(aloop, session, conn_id, key)
        tab.disk_box.setChecked(True)
        tab.nic_box.setChecked(True)

        def line(graph: str, label: str) -> np.ndarray:
            for title, name, _unit, _t, v in tab.shown_data():
                if (title, name) == (graph, label):
                    return v[np.isfinite(v)]
            return np.empty(0)

        async def traffic_until(predicate):
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 90
            while not predicate():
                sender.sendto(b"x" * 1200, ("10.251.77.255", 9))  # into the guest's NIC
                if loop.time() > deadline:
                    raise AssertionError("rates did not move")
                await asyncio.sleep(0.005)

        def moving() -> bool:
            read, rx, tx = (line("Disk throughput", "Read"), line("Network", "Received"),
                            line("Network", "Sent"))
            return (len(read) and read.max() > 100e3 and len(rx) and rx.max() > 20e3
                    and len(tx) and tx.max() > 500)
        aloop.run_until_complete(traffic_until(moving))
        disk_lines = [c.label for c in tab.specs[2].curves]
        assert "vda read" in disk_lines
        assert any(c.label.endswith(" received") for c in tab.specs[4].curves)
        assert line("Disk IOPS", "Read").max() > 1
        session.window.grab().save("/tmp/hvconsole-perf-io-window.png")
    finally:
        sender.close()
        stop_session(aloop, session)
