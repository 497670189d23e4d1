"""The Alerts tab, its count on the tab and in the status bar, and the rule editor in
Preferences → Alerts, in the real main window on the demo lab with replayed ticks of real
captured QEMU statistics (tests/perf_replay.py)."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app import preferences as prefs
from app.perf.alerts import ALL_VMS, AlertRule, save_rules
from tests.conftest import wait_until
from tests.widgets.perf_window import app  # noqa: F401 (fixture)


def alerts_title(app) -> str:
    tabs = app.window.tabs
    return tabs.tabText(tabs.indexOf(app.window.alerts_tab))


def close_dialogs() -> None:
    for widget in QApplication.topLevelWidgets():
        if widget.objectName() == "preferencesDialog" and widget.isVisible():
            widget.reject()


def test_no_alerts_says_what_is_watched_and_where_rules_are_made(app, aloop):
    tab = app.window.alerts_tab
    app.preferences.set_value(prefs.ALERT_RULES, [dict(r) for r in prefs.DEFAULT_ALERT_RULES])
    app.window.tabs.setCurrentWidget(tab)
    assert not tab.showing_list()
    assert tab.empty_text.text() == (
        "No alerts. You will be alerted here (and in the Events log) when:\n"
        "• Every VM: CPU usage above 90 % for 5 min\n"
        "• Every server: Memory usage above 90 % for 5 min")
    assert tab.empty_button.text() == "Edit alert rules…"
    try:
        tab.empty_button.click()
        dialog = next(w for w in QApplication.topLevelWidgets()
                      if w.objectName() == "preferencesDialog" and w.isVisible())
        assert dialog.stack.currentWidget() is dialog.page("Alerts")
    finally:
        close_dialogs()
    app.preferences.set_value(prefs.ALERT_RULES, [])
    assert tab.empty_text.text().startswith(
        "No alert rules are set, so HVConsole raises no alerts of its own (a XenServer / "
        "XCP-ng pool's own alerts still appear here).")
    assert "Preferences → Alerts" in tab.empty_text.text()
    assert tab.empty_button.text() == "Set up alerts…"


def test_firing_alerts_are_counted_on_the_tab_and_in_the_status_bar(app, aloop):
    hot = list(app.loads)[2]                     # 85 % CPU
    save_rules(app.preferences, [AlertRule(ALL_VMS, "cpu_percent", 80.0, 0.1)])
    status = app.window.status.alerts_button
    assert alerts_title(app) == "Alerts" and not status.isVisibleTo(app.window)
    for _ in range(5):                           # the first has no rate; 6 s above
        app.replay.tick()
    assert alerts_title(app) == "Alerts (1)"
    assert status.isVisibleTo(app.window) and status.text() == "⚠ 1 alert firing"
    tab = app.window.alerts_tab
    assert tab.showing_list()
    model = tab.model
    name = app.manager.host(app.conn_id).vm(hot).name
    header = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(model.columnCount())]
    assert header == ["Time", "Object", "Alert", "Status"]
    row = [model.index(0, c).data() for c in range(model.columnCount())]
    assert row[1:] == [name, "CPU usage has been above 80 % for 6 s (now 85.0 %)",
                       "Firing"]
    status.click()
    assert app.window.tabs.currentWidget() is tab
    app.loads[hot].cpu_percent = 10             # back below: the alert stops firing
    app.replay.tick()
    assert alerts_title(app) == "Alerts"
    assert not status.isVisibleTo(app.window)
    assert model.index(0, 3).data().startswith("Ended ")
    model.dismiss_all()
    assert not tab.showing_list()
    app.preferences.set_value(prefs.ALERT_RULES, [])


def test_rule_editor_shows_whole_words_and_natural_durations(app, aloop):
    save_rules(app.preferences, [AlertRule(ALL_VMS, "cpu_percent", 90.0, 5.0),
                                 AlertRule(ALL_VMS, "net_bps", 2.5, 0.2)])
    dialog = app.window.show_preferences("Alerts")
    try:
        page = dialog.page("Alerts")
        assert dialog.stack.currentWidget() is page
        table = page.table
        aloop.run_until_complete(wait_until(lambda: page.isVisible()))
        metric, threshold, duration = (table.cellWidget(0, c) for c in (1, 2, 3))
        assert metric.currentText() == "CPU usage"
        assert threshold.text() == "90 %"
        assert duration.text() == "5 min"
        assert table.cellWidget(1, 2).text() == "2.5 MiB/s"
        assert table.cellWidget(1, 3).text() == "12 s"
        for row in range(table.rowCount()):
            for column in (1, 2, 3):
                widget = table.cellWidget(row, column)
                assert widget.width() >= widget.sizeHint().width(), \
                    f"{widget.metaObject().className()} cut: {widget.width()}"
        duration.lineEdit().selectAll()
        duration.lineEdit().insert("90 s")
        assert duration.value() == 90
        duration.stepBy(1)
        assert duration.text() == "2 min"
        metric.setCurrentIndex(metric.findData("disk_bps"))
        assert threshold.suffix() == " MiB/s"
        dialog.accept()
        rules = app.alert_engine.rules
        assert [(r.metric, r.threshold, r.minutes) for r in rules] == [
            ("disk_bps", 90.0, 2.0), ("net_bps", 2.5, 0.2)]
        assert rules[1].describe() == "Network throughput above 2.5 MiB/s for 12 s"
    finally:
        close_dialogs()
        app.preferences.set_value(prefs.ALERT_RULES, [])


def test_preferences_dialog_pages(app, aloop):
    from widgets.dialogs.preferences import PAGES
    app.preferences.set_value(prefs.ALERT_RULES, [dict(r) for r in prefs.DEFAULT_ALERT_RULES])
    dialog = app.window.show_preferences()
    try:
        assert [p.title for p in dialog.pages][:2] == ["Performance", "Alerts"]
        assert len(dialog.pages) == len(PAGES)
        assert dialog.stack.currentWidget() is dialog.page("Performance")
        page = dialog.page("Performance")
        page.interval.setValue(5)
        page.collect_net.setChecked(False)
        alerts = dialog.page("Alerts")
        assert alerts.table.rowCount() == 2          # the defaults
        alerts.add_button.click()
        dialog.accept()
        assert app.preferences.interval_s == 5.0
        assert "net" not in app.monitor.collector(app.conn_id).groups
        assert [r.describe() for r in app.alert_engine.rules] == [
            "CPU usage above 90 % for 5 min", "Memory usage above 90 % for 5 min",
            "CPU usage above 90 % for 5 min"]
    finally:
        app.preferences.set_value(prefs.SAMPLING_INTERVAL, 2.0)
        app.preferences.set_value(prefs.COLLECT_NET, True)
        app.preferences.set_value(prefs.ALERT_RULES, [])


def test_menu_opens_preferences_on_the_first_page(app, aloop):
    app.window.preferences_action.trigger()
    try:
        dialog = next(w for w in QApplication.topLevelWidgets()
                      if w.objectName() == "preferencesDialog" and w.isVisible())
        assert dialog.stack.currentIndex() == 0
    finally:
        close_dialogs()
