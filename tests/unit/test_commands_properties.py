"""VM → Properties… on the demo lab through the real app objects (as test_commands.py):
enabled for one VM of a connected server, refused with its reason otherwise, and what it
opens is the window's handler."""
from __future__ import annotations

import pytest

from app.commands.properties import ShowProperties
from tests.unit.test_commands import Lab, Prompter, vm, vm_node


@pytest.fixture
def lab(qapp, aloop, tmp_path):
    built = Lab(aloop, tmp_path, Prompter())
    yield built
    aloop.run_until_complete(built.manager.close_all())


def test_properties_opens_the_one_selected_vm(lab):
    command: ShowProperties = lab.commands.properties
    opened = []
    node = lab.node("web-01")
    lab.commands.set_selection([node])
    assert not command.action.isEnabled()             # no window to open it yet
    command.set_handler(opened.append)
    assert command.action.isEnabled()
    assert command.action.shortcut().toString() == "Alt+Return"
    command.action.trigger()
    assert opened == [node]


def test_properties_is_for_one_vm_at_a_time_and_says_why_not(lab):
    command = lab.commands.properties
    command.set_handler(lambda node: None)
    lab.commands.set_selection([lab.node("web-01"), lab.node("web-02")])
    assert not command.action.isEnabled()
    assert "web-01, web-02: one VM at a time" in command.action.toolTip()
    lab.commands.set_selection([vm_node(vm(dom0=True), lab.conn)])
    assert "the host's control domain" in command.action.toolTip()
    lab.commands.set_selection([])
    assert "select a VM" in command.action.toolTip()
