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
import statistics
import time

import numpy as np
import pytest

from app import preferences as prefs
from app.inventory import CPU_COLUMN, USAGE_ROLE
from connectors.libvirt.model import ConnState
from tests.conftest import wait_until
from tests.integration.test_stats_qemu import _keys, _type
from widgets.launcher import Session

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
        _type(libvirt_uri, booted_guest.name, _keys("while :; do :; done\n"))

        def busy() -> bool:
            _t, v = cpu_line(tab)
            finite = v[np.isfinite(v)]
            return len(finite) >= 4 and statistics.median(finite[-4:]) > 40.0
        aloop.run_until_complete(wait_until(busy, timeout=60, interval=0.2))
        labels = [c.label for c in tab.specs[0].curves]
        assert labels == ["CPU", "vCPU 0"]
        index = session.inventory.index_of(conn_id, key, CPU_COLUMN)
        aloop.run_until_complete(wait_until(lambda: (index.data(USAGE_ROLE) or 0) > 0.4,
                                            timeout=10))
        assert index.data().endswith("%")
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
        assert before.max() > 40.0, before
    finally:
        stop_session(aloop, session)
