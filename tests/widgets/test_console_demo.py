"""A demo VM's Console tab on the demo lab (libvirt's test driver, in process): it says in
words that the test driver has no graphical console, offers no Reconnect that could not
help, and does not keep retrying."""
from __future__ import annotations

import asyncio

from app.connection_manager import ConnectionManager, demo_uri
from app.events_log import EventsLog
from app.inventory import InventoryModel
from connectors.console.state import ConsoleState
from connectors.libvirt.model import ConnState, VMState
from tests.conftest import wait_until


def test_a_demo_vms_console_says_the_test_driver_has_none(aloop, qtbot):
    from widgets.tabs.console import ConsoleTab
    inventory = InventoryModel()
    manager = ConnectionManager(inventory, EventsLog())
    conn_id = manager.open(demo_uri(), save=False, demo=True)
    tab = ConsoleTab(manager, inventory)
    qtbot.addWidget(tab)
    tab.resize(800, 600)
    tab.show()
    try:
        aloop.run_until_complete(wait_until(
            lambda: manager.host(conn_id).state is ConnState.CONNECTED, 15))
        host = manager.host(conn_id)
        vms = [vm for vm in host.vms() if any(g.type == "vnc" for g in vm.graphics)]
        running = next(vm for vm in vms if vm.state is VMState.RUNNING)
        shut_off = next(vm for vm in vms if vm.state is VMState.SHUTOFF)
        aloop.run_until_complete(wait_until(
            lambda: inventory.node(conn_id, running.key) is not None))
        for vm in (running, shut_off):
            tab.set_selection([inventory.node(conn_id, vm.key)])
            session, pane = tab.session, tab.pane
            aloop.run_until_complete(wait_until(
                lambda: session.status.state is ConsoleState.UNAVAILABLE, 10))
            statuses = []
            session.statusChanged.connect(statuses.append)
            text = pane.overlay.label.text()
            assert text == ("The demo lab's VMs are simulated by libvirt's test driver: "
                            "they have no screen, so there is no graphical console to show.")
            assert pane.overlay.label.isVisibleTo(tab)
            assert not pane.overlay.reconnect_button.isVisibleTo(tab)
            assert not pane.overlay.start_button.isVisibleTo(tab)
            # Nothing in the toolbar pretends there is a screen.
            assert not any(a.isEnabled() for a in (
                pane.send_key_action, pane.fullscreen_action, pane.screenshot_action,
                pane.paste_action))
            # No retries behind the sentence (each would flash "Connecting…"), also when
            # the VM's row changes (a state change pokes the session).
            session.retry_now()
            aloop.run_until_complete(asyncio.sleep(1.5))
            assert statuses == [] and session.status.state is ConsoleState.UNAVAILABLE
    finally:
        tab.close_all()
        aloop.run_until_complete(manager.close_all())
