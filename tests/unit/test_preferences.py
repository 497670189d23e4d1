"""Preferences on a private INI file: defaults, sane values from a hand-edited file,
``changed`` only for real changes."""
from __future__ import annotations

from hypothesis import example, given, settings, strategies as st
from PySide6.QtCore import QSettings

from app import preferences as prefs
from app.preferences import Preferences


def make(tmp_path):
    return Preferences(QSettings(str(tmp_path / "p.ini"), QSettings.Format.IniFormat))


def test_defaults(tmp_path):
    p = make(tmp_path)
    assert p.interval_s == 2.0
    assert p.groups == {"state", "cpu", "vcpu", "balloon", "disk", "net"}
    assert p.per_core_host_cpu is True
    assert p.history_days == 7
    # Two rules until the user makes their own: a VM's CPU and a server's memory.
    assert [(r["target"], r["metric"], r["threshold"], r["minutes"])
            for r in p.value(prefs.ALERT_RULES)] == [("*vm", "cpu_percent", 90.0, 5.0),
                                                     ("*host", "mem_percent", 90.0, 5.0)]


def test_removing_every_alert_rule_is_kept(tmp_path):
    """No rules is a choice: the defaults do not come back."""
    p = make(tmp_path)
    p.set_value(prefs.ALERT_RULES, [])
    assert make(tmp_path).value(prefs.ALERT_RULES) == []


def test_values_survive_a_new_instance_and_are_kept_sane(tmp_path):
    p = make(tmp_path)
    seen = []
    p.changed.connect(seen.append)
    p.set_value(prefs.SAMPLING_INTERVAL, 0.1)
    p.set_value(prefs.COLLECT_NET, False)
    p.set_value(prefs.COLLECT_NET, False)          # no change: no signal
    p.set_value(prefs.ALERT_RULES, [{"target": "*vm", "metric": "cpu_percent",
                                     "threshold": 80}])
    assert seen == [prefs.SAMPLING_INTERVAL, prefs.COLLECT_NET, prefs.ALERT_RULES]
    again = make(tmp_path)
    assert again.interval_s == prefs.MIN_INTERVAL_S
    assert "net" not in again.groups and "disk" in again.groups
    assert again.value(prefs.ALERT_RULES)[0]["threshold"] == 80


def test_a_hand_edited_file_with_nonsense_gives_defaults(tmp_path):
    (tmp_path / "p.ini").write_text("[perf]\ninterval_s=fast\nhistory_days=9999\n"
                                    "[alerts]\nrules={broken\n")
    p = make(tmp_path)
    assert p.interval_s == 2.0
    assert p.history_days == prefs.MAX_HISTORY_DAYS
    assert p.value(prefs.ALERT_RULES) == [dict(r) for r in prefs.DEFAULT_ALERT_RULES]


@settings(deadline=None)
@example("inf")           # int(float("inf")) raised OverflowError (the fuzz campaign)
@example("-Infinity")
@example("nan")
@given(st.one_of(st.text(max_size=12), st.sampled_from(["1e308", "-0", "0x10", "  7 "])))
def test_any_hand_written_number_gives_a_sane_value(tmp_path_factory, text):
    folder = tmp_path_factory.mktemp("prefs")
    (folder / "p.ini").write_text(f"[perf]\ninterval_s={text}\nhistory_days={text}\n",
                                  encoding="utf-8", errors="surrogateescape")
    p = Preferences(QSettings(str(folder / "p.ini"), QSettings.Format.IniFormat))
    assert prefs.MIN_INTERVAL_S <= p.interval_s <= prefs.MAX_INTERVAL_S
    assert prefs.MIN_HISTORY_DAYS <= p.history_days <= prefs.MAX_HISTORY_DAYS
    assert isinstance(p.history_days, int)
