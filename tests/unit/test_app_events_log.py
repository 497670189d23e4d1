"""The events log: newest first, bounded, the columns and roles the Events tab reads."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QAbstractItemModelTester

from app.events_log import CATEGORY_ROLE, SEVERITY_ROLE, EventsLog


def messages(log):
    return [log.index(r, 3).data() for r in range(log.rowCount())]


def test_columns_and_newest_first(qapp):
    log = EventsLog()
    QAbstractItemModelTester(log, QAbstractItemModelTester.FailureReportingMode.Fatal)
    assert [log.headerData(c, Qt.Orientation.Horizontal) for c in range(4)] == \
        ["Time", "Severity", "Source", "Message"]
    log.add("info", "connection", "kvm1", "Connected")
    log.add("error", "action", "kvm1 » web", "Starting VM web: failed: no disk")
    assert messages(log) == ["Starting VM web: failed: no disk", "Connected"]
    assert log.index(0, 1).data() == "Error" and log.index(0, 2).data() == "kvm1 » web"
    assert log.index(0, 0).data(SEVERITY_ROLE) == "error"
    assert log.index(1, 0).data(CATEGORY_ROLE) == "connection"
    assert len(log.index(0, 0).data()) == 8     # HH:MM:SS
    assert log.index(0, 3).data(Qt.ItemDataRole.ForegroundRole) is not None
    assert log.index(1, 3).data(Qt.ItemDataRole.ForegroundRole) is None


def test_unknown_severity_is_kept_as_info(qapp):
    log = EventsLog()
    log.add("WARNING", "hypervisor", "h", "loud")
    log.add("fatal?", "hypervisor", "h", "odd")
    assert [log.index(r, 0).data(SEVERITY_ROLE) for r in range(2)] == ["info", "warning"]


def test_bounded_drops_the_oldest(qapp):
    log = EventsLog(max_rows=100)
    QAbstractItemModelTester(log, QAbstractItemModelTester.FailureReportingMode.Fatal)
    for i in range(250):
        log.add("info", "hypervisor", "h", f"event {i}")
    assert log.rowCount() == 100
    assert messages(log)[0] == "event 249" and messages(log)[-1] == "event 150"


def test_the_events_tab_filters_the_real_model(qtbot):
    from widgets.tabs.events import EventsTab
    log = EventsLog()
    log.add("info", "action", "kvm1 » db", "Starting VM db: done")
    log.add("warning", "connection", "kvm1", "Connection lost")
    log.add("error", "action", "kvm1 » web", "Starting VM web: failed: no disk")
    tab = EventsTab(log)
    qtbot.addWidget(tab)
    tab.severity.setCurrentIndex(1)     # warnings and errors
    assert tab.proxy.rowCount() == 2
    tab.severity.setCurrentIndex(2)     # errors
    assert tab.proxy.rowCount() == 1
    log.add("error", "hypervisor", "kvm1 » db", "Crashed")
    assert tab.proxy.rowCount() == 2 and tab.proxy.index(0, 3).data() == "Crashed"


def test_a_row_is_rewritten_in_place_and_the_events_tab_follows(qtbot):
    """An action's row changes as its outcome is learned: same place, same time; the
    Events tab's severity filter sees the change at once."""
    from widgets.tabs.events import EventsTab
    log = EventsLog()
    QAbstractItemModelTester(log, QAbstractItemModelTester.FailureReportingMode.Fatal)
    row = log.add("info", "action", "kvm1 » web", "Shutting down VM web…")
    log.add("info", "hypervisor", "kvm1 » db", "VM db: Started (booted)")
    tab = EventsTab(log)
    qtbot.addWidget(tab)
    tab.severity.setCurrentIndex(1)     # warnings and errors
    assert tab.proxy.rowCount() == 0
    new = log.update(row, severity="warning",
                     message="Shutting down VM web: shutdown requested; still running")
    assert messages(log) == ["VM db: Started (booted)",
                             "Shutting down VM web: shutdown requested; still running"]
    assert new.timestamp == row.timestamp and log.index(1, 1).data() == "Warning"
    assert tab.proxy.rowCount() == 1
    log.update(new, severity="info", message="Shutting down VM web: shut off")
    assert tab.proxy.rowCount() == 0
    assert messages(log)[1] == "Shutting down VM web: shut off"
    assert log.update(row, message="stale") is not None    # an old Entry changes nothing
    assert messages(log)[1] == "Shutting down VM web: shut off"


def test_remove_takes_one_row_out(qapp):
    log = EventsLog()
    QAbstractItemModelTester(log, QAbstractItemModelTester.FailureReportingMode.Fatal)
    first = log.add("info", "hypervisor", "h » a", "VM a: Shutting down (by the guest)")
    log.add("info", "hypervisor", "h » b", "same words")
    log.add("info", "hypervisor", "h » b", "same words")
    assert log.remove(first) and not log.remove(first)
    assert messages(log) == ["same words", "same words"]
