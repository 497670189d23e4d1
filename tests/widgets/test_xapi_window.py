"""A XenServer / XCP-ng pool in the real main window, served by the XAPI simulator: what
the tree shows, what the General tab says of a pool host, the context menus of a
pool host and of a halted pool VM (Start on Server ▸ each member), and the pool's own
alerts in the Alerts tab, dismissed from there."""
from __future__ import annotations

import argparse
from contextlib import contextmanager

import pytest

from app.certificates import TrustedCertificates
from app.inventory import NODE_ROLE, NodeKind
from connectors.libvirt.model import ConnState, VMState
from connectors.xapi.session import PinBook, Session as XapiSession
from connectors.xapi.uri import normalise_fingerprint
from tests.conftest import wait_until
from tests.xapi_sim_helpers import PASSWORD, start_process
from widgets.launcher import Session

pytestmark = [pytest.mark.integration]


def _rows(view, parent=None):
    from PySide6.QtCore import QModelIndex
    model = view.model()
    parent = parent if parent is not None else QModelIndex()
    for row in range(model.rowCount(parent)):
        index = model.index(row, 0, parent)
        yield index
        yield from _rows(view, index)


def _menu_texts(tree, index) -> list[str]:
    tree.scrollTo(index)
    tree.customContextMenuRequested.emit(tree.visualRect(index).center())
    menu = tree.last_context_menu
    texts = [a.text().replace("&", "") for a in menu.actions()]
    return menu, texts


@contextmanager
def window_on_pool(qapp, aloop, tmp_path, address: str, vms: int):
    """The real main window connected to the pool at ``address`` (the certificate
    trusted and the password typed by a scripted human); (session, conn_id, shown)
    once the tree holds its ``vms`` VMs, expanded."""
    qapp.setQuitOnLastWindowClosed(False)
    session = Session(argparse.Namespace(connect=[], show_domain=None, screenshot=None,
                                         debug=False, show_domain_creator=False))
    window = session.build()
    window.show()
    manager = session.manager
    manager.certificates = TrustedCertificates(tmp_path / "trusted.json")
    shown = []

    async def trust(uri, certificate):
        shown.append(certificate.fingerprint)
        return True

    async def password(uri, requests):
        return ["root", PASSWORD]
    manager.set_certificate_handler(trust)
    manager.set_auth_handler(password)
    conn_id = manager.open(f"xapi://root@{address}", save=False)
    try:
        aloop.run_until_complete(wait_until(
            lambda: manager.state(conn_id)[0] is ConnState.CONNECTED and
            len(session.inventory.vms(conn_id)) == vms, 30))
        window.tree.expandAll()
        yield session, conn_id, shown
    finally:
        aloop.run_until_complete(session.shutdown())
        window.close()
        window.deleteLater()


@pytest.fixture
def pool_window(qtbot, qapp, aloop, tmp_path):
    sim = start_process(tmp_path / "pool.db", "--generate-pool", "2,8", "--no-save")
    try:
        with window_on_pool(qapp, aloop, tmp_path, sim.address, 8) as (session, conn_id,
                                                                       shown):
            yield session, conn_id, shown, sim
    finally:
        sim.stop()


def test_the_pool_its_hosts_and_their_vms_in_the_window(pool_window, aloop):
    session, conn_id, shown, _sim = pool_window
    assert len(shown) == 1 and shown[0].startswith("SHA256:")
    tree = session.window.tree
    rows = [(i.data(), i.siblingAtColumn(1).data(), i.parent().data()) for i in _rows(tree)]
    assert rows[0] == ("xapi-sim pool", "XCP-ng 8.3.0 pool", None)
    assert ("xapi-sim-host-0", "Pool master", "xapi-sim pool") in rows
    assert ("xapi-sim-host-1", "Connected", "xapi-sim pool") in rows
    assert ("vm-0000", "Running", "xapi-sim-host-0") in rows
    assert ("vm-0001", "Running", "xapi-sim-host-1") in rows
    assert ("vm-0006", "Shut off", "xapi-sim pool") in rows
    assert ("Shared NFS storage", "Active", "Storage") in rows
    assert not [r for r in rows if "Control domain" in str(r[0])]

    host = next(i for i in _rows(tree) if i.data() == "xapi-sim-host-1")
    tree.setCurrentIndex(host)
    window = session.window
    window.tabs.setCurrentWidget(window.general_tab)
    aloop.run_until_complete(wait_until(
        lambda: window.general_tab.fields().get("Role") == "Pool member", 5))
    sections = dict(window.general_tab.sections())
    assert dict(sections["General"])["Name"] == "xapi-sim-host-1"
    dom0 = dict(sections["Control domain on xapi-sim-host-1"])
    assert dom0["Name"] == "Control domain on host: xapi-sim-host-1"
    assert dom0["State"] == "Running" and dom0["vCPUs"] == "16 of 16 maximum"


def test_context_menus_of_a_pool_host_and_of_a_halted_vm(pool_window, aloop):
    session, conn_id, _shown, _sim = pool_window
    tree = session.window.tree
    host = next(i for i in _rows(tree) if i.data() == "xapi-sim-host-1")
    tree.setCurrentIndex(host)
    menu, texts = _menu_texts(tree, host)
    assert texts == ["Enter Maintenance Mode", "Exit Maintenance Mode", "", "Reboot Host",
                     "Shut Down Host", "", "Show in General", "Copy Name"]
    enabled = {a.text().replace("&", ""): a.isEnabled() for a in menu.actions()}
    assert enabled["Enter Maintenance Mode"] and not enabled["Exit Maintenance Mode"]
    menu.close()

    halted = next(i for i in _rows(tree) if i.data() == "vm-0006")
    vm = halted.data(NODE_ROLE).obj
    assert vm.state is VMState.SHUTOFF
    tree.setCurrentIndex(halted)
    menu, texts = _menu_texts(tree, halted)
    assert texts[0] == "Start on Server"
    submenu = menu.actions()[0].menu()
    assert [a.text() for a in submenu.actions()] == [
        "xapi-sim-host-0 (Pool master)", "xapi-sim-host-1 (Connected)"]
    assert submenu.actions()[1].isEnabled()
    submenu.actions()[1].trigger()
    menu.close()

    def moved() -> bool:
        node = session.inventory.node(conn_id, vm.key)
        return node.parent.kind is NodeKind.SERVER and \
            node.parent.obj.name == "xapi-sim-host-1"
    aloop.run_until_complete(wait_until(moved, 20))


def test_a_pool_alert_in_the_alerts_tab_and_dismissed_from_there(pool_window, aloop):
    session, conn_id, _shown, sim = pool_window
    window = session.window
    tab = window.alerts_tab
    host, port = sim.address.rsplit(":", 1)
    admin = XapiSession(host, int(port), "root", PASSWORD, PinBook(
        {sim.address: normalise_fingerprint(sim.fingerprint)}))
    admin.login()
    vm = next(v for v in session.manager.pool(conn_id).vms() if v.name == "vm-0000")
    admin.call("message.create", "VM_CRASHED", 2, "VM", vm.key, "the guest stopped")
    window.tabs.setCurrentWidget(tab)

    def title() -> str:
        return window.tabs.tabText(window.tabs.indexOf(tab))
    aloop.run_until_complete(wait_until(lambda: title() == "Alerts (1)", 10))
    assert tab.showing_list()
    table = tab.table
    row = [table.model().index(0, c).data() for c in range(4)]
    assert row[1:] == ["vm-0000", "VM crashed: the guest stopped", "Service-loss imminent"]
    assert "VM_CRASHED, priority 2" in table.model().index(0, 3).data(3)   # the tooltip
    assert window.status.alerts_button.text() == "⚠ 1 alert firing"

    table.selectRow(0)
    tab.dismiss_button.click()
    aloop.run_until_complete(wait_until(lambda: not tab.showing_list(), 10))
    assert title() == "Alerts"
    assert admin.call("message.get_all") == []
    assert [e for e in session.events_log.entries()
            if e.message.startswith("Dismissing alert \u201cVM crashed\u201d")]
    admin.logout()


def test_alert_rules_watch_a_pool_vms_from_its_rrds(pool_window, aloop):
    """The user's rules ("every VM's CPU above 4 % for 3 s") on a pool: its figures come
    from the hosts' RRDs (the simulator's CPU never goes below 5 %), so every running VM
    fires once, named as in the tree."""
    from app import preferences as prefs
    from app.perf.alerts import ALL_VMS, Alert, AlertRule, save_rules

    session, conn_id, _shown, _sim = pool_window
    running = sorted(v.name for v in session.manager.pool(conn_id).vms()
                     if v.state is VMState.RUNNING and not v.is_control_domain)
    model = session.alert_engine.model
    save_rules(session.preferences, [AlertRule(ALL_VMS, "cpu_percent", 4.0, 0.05)])
    try:
        def fired() -> list[str]:
            return sorted(a.name for a in model.alerts() if isinstance(a, Alert))
        try:
            aloop.run_until_complete(wait_until(lambda: fired() == running, 60))
        except AssertionError:
            monitor = session.alert_engine.monitor
            feed = monitor.pools
            follows = feed is not None and conn_id in feed.pools
            seen = ""
            if follows:
                cpu = [monitor.vm_latest(conn_id, v.key, "cpu_percent")
                       for v in session.manager.pool(conn_id).vms()]
                seen = f", newest RRD row at {feed.pools[conn_id].last_wall}, CPU {cpu}"
            raise AssertionError(
                f"fired {fired()}, running {running}, rules {session.alert_engine.rules}; "
                f"pool feed {'follows' if follows else 'does not follow'} the pool{seen}"
            ) from None
        texts = {model.index(row, 2).data() for row in range(model.rowCount())}
        assert all(t.startswith("CPU usage has been above 4 % for 3 s (now ")
                   for t in texts), texts
    finally:
        session.preferences.set_value(prefs.ALERT_RULES,
                                      [dict(r) for r in prefs.DEFAULT_ALERT_RULES])
