"""The New Network wizard, the Networking tab and the network commands in the real
window, on the real libvirtd: a NAT network made with the wizard starts and shows its
addresses; its DHCP range and fixed hosts change while it runs; it is stopped and
deleted from the menu. Only the human is scripted."""
from __future__ import annotations

import uuid

import pytest
from PySide6.QtWidgets import QApplication, QDialogButtonBox

from connectors.libvirt.net_xml import StaticHost
from tests.conftest import wait_until
from tests.integration.app_stack import AppStack
from tests.integration.test_networks import _cleanup_networks

pytestmark = pytest.mark.integration


@pytest.fixture
def window(aloop, libvirt_uri):
    from widgets.main_window import MainWindow
    QApplication.instance().setQuitOnLastWindowClosed(False)
    stack = AppStack()
    win = MainWindow(stack.manager, stack.inventory, stack.events_log, stack.tasks,
                     stack.commands, stack.prompter)
    win.show()
    conn_id = aloop.run_until_complete(stack.open(libvirt_uri))
    aloop.run_until_complete(stack.manager.wait_attempt(conn_id, 30))
    name = f"hvconsole-test-ui-{uuid.uuid4().hex[:6]}"
    yield win, stack, conn_id, name
    win.close()
    aloop.run_until_complete(stack.close())
    import libvirt
    conn = libvirt.open(libvirt_uri)
    _cleanup_networks(conn, name)
    conn.close()


def until(aloop, predicate, timeout: float = 20) -> None:
    aloop.run_until_complete(wait_until(predicate, timeout))


def test_a_nat_network_made_in_the_wizard_runs_changes_dhcp_live_and_goes(aloop, window):
    win, stack, conn_id, name = window
    host = stack.manager.host(conn_id)
    win.tree.select_node(conn_id, conn_id)
    stack.commands.new_network.action.trigger()
    until(aloop, lambda: win.wizards.open_dialog is not None)
    wizard = win.wizards.open_dialog
    wizard.name_page.name.setText(name)
    wizard.next()
    page = wizard.address_page
    page.ipv4.setText("10.252.31.0/24")
    assert (page.dhcp_start.text(), page.dhcp_end.text()) == ("10.252.31.128",
                                                              "10.252.31.254")
    page.domain.setText("lab.example")
    wizard.next()
    wizard.hosts_page.autostart.setChecked(False)
    wizard.accept()
    until(aloop, lambda: any(n.name == name and n.active for n in host.networks()))
    net = next(n for n in host.networks() if n.name == name)
    assert net.forward == "nat" and not net.autostart
    until(aloop, lambda: win.tree.select_node(conn_id, net.key))
    win.tabs.setCurrentWidget(win.networking_tab)
    tab = win.networking_tab
    until(aloop, lambda: tab.fields["IPv4"].text() == "10.252.31.1/24")
    assert tab.fields["DHCP range"].text() == "10.252.31.128 – 10.252.31.254"
    assert tab.fields["DNS domain"].text() == "lab.example"
    assert tab.message.text().startswith("No DHCP leases")

    dialog = tab.edit_dhcp()
    dialog.start.setText("10.252.31.100")
    dialog.editor.add_host(StaticHost("52:54:00:31:00:01", "10.252.32.5", "web"))
    assert "inside 10.252.31.0/24" in dialog.problem.text()
    assert not dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()
    dialog.editor.set_hosts((StaticHost("52:54:00:31:00:01", "10.252.31.5", "web"),))
    dialog.accept()
    until(aloop, lambda: tab.fields["DHCP range"].text() == "10.252.31.100 – 10.252.31.254")
    assert tab.fields["Fixed addresses"].text() == "52:54:00:31:00:01 → 10.252.31.5 (web)"
    assert next(n for n in host.networks() if n.name == name).active, "no restart needed"

    stack.commands.stop_network.action.trigger()
    until(aloop, lambda: tab.message.text().startswith("This network is stopped"))
    assert not next(n for n in host.networks() if n.name == name).active
    stack.commands.delete_network.action.trigger()
    assert stack.prompter.asked[-1] == "Delete Network"
    until(aloop, lambda: all(n.name != name for n in host.networks()))
