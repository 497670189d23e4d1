"""Bulk actions in the real main window on the demo lab (libvirt's test driver): several
VMs shut down from the toolbar with one question, the Tasks tab showing the operation as
one row with a row per VM under it, and a VM that fails told once, at the end.
"""
from __future__ import annotations

from app.tasks import TaskState
from tests.conftest import wait_until
from tests.widgets.test_main_window import session  # noqa: F401 - the fixture


def test_shut_down_several_vms_from_the_toolbar(session, aloop, monkeypatch):  # noqa: F811
    window = session.window
    asked, errors = [], []
    prompter = window.commands.ctx.prompter
    monkeypatch.setattr(prompter, "confirm",
                        lambda title, text, verb: asked.append(text) or True)
    monkeypatch.setattr(prompter, "show_error", lambda title, text: errors.append(text))
    names = ["web-01", "web-02", "ci-runner-1", "db-replica"]      # db-replica is paused
    nodes = [window.tree.find_vm_by_name(n) for n in names]
    window.commands.set_selection(nodes)
    # web-02 is turned off behind the app's back just before: libvirt will refuse it.
    conn = session.manager.host(session.conn_id).sampling_handle()[0]
    conn.lookupByName("web-02").destroy()
    window.commands.shutdown.action.trigger()
    assert len(asked) == 1
    assert asked[0].startswith("Shut down 3 VMs on ")
    assert "db-replica: paused; it must be running" in asked[0]
    group = window.commands.shutdown.last_group
    aloop.run_until_complete(wait_until(lambda: group.done and errors, 15))
    tab = session.migration_ui.tasks_tab
    rows = dict(tab.group_rows(group)[1:])
    assert tab.group_rows(group)[0] == ("Shut Down 3 VMs", "2 done, 1 failed, 1 skipped")
    assert rows["Shutting down VM web-01"] == "shutdown requested"
    assert rows["Shutting down VM web-02"].startswith("failed: ")
    assert rows["Skipped"] == "skipped: paused; it must be running"
    assert tab.group_cancel_button(group).isHidden()        # nothing left to cancel
    assert len(errors) == 1 and errors[0].startswith("Shut Down 3 VMs: 2 done, 1 failed")
    assert "web-02" in errors[0]
    assert [t.state for t in group.tasks].count(TaskState.FAILED) == 1
    window.tabs.setCurrentWidget(tab)
    aloop.run_until_complete(wait_until(
        lambda: all(window.tree.find_vm_by_name(n).obj.state.value == "shut off"
                    for n in ("web-01", "web-02", "ci-runner-1"))))
    window.grab().save("/tmp/org-data-shots/bulk-tasks.png")
