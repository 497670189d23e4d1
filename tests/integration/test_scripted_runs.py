"""What a script and a first-time user are told: ``--screenshot``'s exit status, one
connection state in every view, ``no_verify=1``, and a local libvirtd slow to answer.

Real services throughout: an sshd on 127.0.0.1 in front of the shared libvirtd
(remote_services.py), the real ~/.ssh/known_hosts, and a UNIX-socket relay that holds
libvirtd's answer back (relays.py). Only the human is scripted.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication

from connectors.libvirt.model import ConnState
from tests.integration.relays import LIBVIRT_SOCKET, SocketRelay
from tests.integration.test_remote_hosts import Human, _app
from app import startup_hosts
from widgets import launcher
from widgets.launcher import Session
from widgets.tabs.general import GeneralTab

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _hvconsole(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    for var, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"),
                     ("XDG_CACHE_HOME", "cache"), ("XDG_STATE_HOME", "state")):
        env[var] = str(tmp_path / sub)
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=150)


def _args(**overrides) -> argparse.Namespace:
    values = dict(connect=[], show_domain=None, screenshot=None, debug=False, target=None,
                  show_domain_creator=False)
    values.update(overrides)
    return argparse.Namespace(**values)


def _row_text(window, conn_id: str, key: str, column: int = 0) -> str | None:
    """The text the tree shows for a node once scrolled to, if it has a row there."""
    tree = window.tree
    window.inventory.flush()       # events still queued for the next batch go in first
    source = window.inventory.index_of(conn_id, key, column)
    if not source.isValid():
        return None
    index = window.proxy.mapFromSource(source)
    # A layout Qt has only scheduled (rows that just arrived) would leave the scroll and
    # the row's rectangle stale: lay out now, scroll, and let the scroll take effect.
    tree.doItemsLayout()
    tree.scrollTo(index)
    QCoreApplication.processEvents()
    rect = tree.visualRect(index)
    # The row is in sight when it lies within the viewport's height; the name column's
    # width is the splitter's business (placed once the window has its real size).
    if rect.height() <= 0 or rect.bottom() < 0 or rect.top() > tree.viewport().height():
        parent = index.parent()
        # Why not, for the failure's message (a row that exists but is not in sight).
        return (f"<row {index.row()} not in sight: parent expanded="
                f"{tree.isExpanded(parent) if parent.isValid() else None}, rect={rect}, "
                f"viewport={tree.viewport().rect()}, window={window.size()}>")
    return index.data()


# ---- --screenshot's exit status -----------------------------------------------------------

def test_screenshot_of_an_ssh_host_waits_for_the_host_key_check_and_shows_its_vms(
        aloop, qapp, trusted, ssh_uri, marker_vm, tmp_path):
    """The PNG was taken while the host-key check ran ("Connecting…", no VMs) and the run
    still exited 0. Now the same run, in process so the window can be read, waits for
    the attempt and shows the VM it was asked to show."""
    qapp.setQuitOnLastWindowClosed(False)
    shot = tmp_path / "ssh.png"
    session = Session(_args(connect=[ssh_uri], show_domain=marker_vm, screenshot=str(shot)))
    window = session.build()
    window.resize(1280, 800)       # not a size an earlier test's window left in the settings
    window.show()
    try:
        opened = aloop.run_until_complete(session.open_connections())
        status = aloop.run_until_complete(session.take_screenshot(str(shot), opened))
        assert status == 0, session.problems
        assert shot.stat().st_size > 0
        (conn_id,) = opened
        assert session.manager.state(conn_id)[0] is ConnState.CONNECTED
        host = session.manager.host(conn_id)
        state_text = _row_text(window, conn_id, conn_id, column=1)
        assert state_text == host.info.hypervisor_label, state_text
        vm = next(v for v in host.vms() if v.name == marker_vm)
        assert _row_text(window, conn_id, vm.key) == marker_vm
        assert window.general_tab.fields()["Name"] == marker_vm   # --show-domain selected it
    finally:
        aloop.run_until_complete(session.shutdown())
        window.close()


def test_screenshot_exits_0_for_a_reachable_ssh_host(trusted, ssh_uri, marker_vm, tmp_path):
    shot = tmp_path / "ok.png"
    done = _hvconsole(["--connect", ssh_uri, "--show-domain", marker_vm,
                       "--screenshot", str(shot)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_screenshot_of_a_stopped_host_is_written_but_exits_1_with_the_reason(
        trusted, sshd, ssh_uri, tmp_path):
    shot = tmp_path / "down.png"
    sshd.stop()
    try:
        done = _hvconsole(["--connect", ssh_uri, "--screenshot", str(shot)], tmp_path)
    finally:
        sshd.start()
    assert done.returncode == 1, done.stderr
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", "the PNG shows what went wrong"
    lines = [line for line in done.stderr.splitlines() if line.startswith("hvconsole: ")]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"hvconsole: 127.0.0.1 ({ssh_uri}): not connected: "), lines
    assert lines[0].endswith(f"No SSH server answered at [127.0.0.1]:{sshd.port}. Check the "
                             "host name and port."), lines
    assert "Traceback" not in done.stderr


def test_screenshot_exits_1_when_show_domain_names_no_vm(tmp_path):
    shot = tmp_path / "novm.png"
    done = _hvconsole(["--connect", "test:///default", "--show-domain", "no-such-vm",
                       "--screenshot", str(shot)], tmp_path)
    assert done.returncode == 1
    assert "hvconsole: no VM named 'no-such-vm' is in the inventory" in done.stderr
    assert shot.is_file()


def test_screenshot_exits_1_for_a_malformed_uri(tmp_path):
    shot = tmp_path / "bad.png"
    done = _hvconsole(["--connect", "qemu//system", "--screenshot", str(shot)], tmp_path)
    assert done.returncode == 1
    assert "hvconsole: qemu//system:" in done.stderr and "Traceback" not in done.stderr


# ---- one state everywhere ----------------------------------------------------------------

class SlowHuman(Human):
    """Takes its time over the host-key dialog, as people do."""

    def __init__(self):
        super().__init__(host_keys=[True])
        self.answer = asyncio.Event()

    async def host_key(self, check) -> bool:
        await self.answer.wait()
        return await super().host_key(check)


def test_while_the_host_key_is_checked_tree_general_tab_and_manager_say_connecting(
        aloop, qtbot, untrusted, ssh_uri, tmp_path):
    human = SlowHuman()
    manager, events, _remote = _app(tmp_path, human)
    general = GeneralTab(manager.inventory, manager)
    qtbot.addWidget(general)
    conn_id = manager.open(ssh_uri, save=False)
    try:
        aloop.run_until_complete(asyncio.sleep(0.3))
        manager.inventory.flush()
        assert manager.state(conn_id) == (ConnState.CONNECTING, "")
        assert manager.inventory.host_state(conn_id)[0] is ConnState.CONNECTING
        node = manager.inventory.node(conn_id, conn_id)
        general.set_selection([node])
        assert general.fields()["Connection"] == ConnState.CONNECTING.label
        human.answer.set()
        state = aloop.run_until_complete(manager.wait_attempt(conn_id, 30))
        assert state[0] is ConnState.CONNECTED, state
        manager.inventory.flush()
        general.refresh()
        assert general.fields()["Connection"] == ConnState.CONNECTED.label
    finally:
        aloop.run_until_complete(manager.close_all())


# ---- no_verify=1 --------------------------------------------------------------------------

def test_no_verify_connects_without_asking_and_says_the_key_was_not_checked(
        aloop, untrusted, ssh_uri, tmp_path):
    human = Human()          # no answers: a host-key question would fail the test
    manager, events, _remote = _app(tmp_path, human)
    conn_id = manager.open(ssh_uri + "&no_verify=1", save=False)
    try:
        state = aloop.run_until_complete(manager.wait_attempt(conn_id, 60))
        assert state[0] is ConnState.CONNECTED, state
        assert human.host_key_questions == []
        warnings = [events.index(r, 3).data() for r in range(events.rowCount())
                    if events.index(r, 1).data() == "Warning"]
        assert any("was not checked" in w and "no_verify=1" in w for w in warnings), warnings
    finally:
        aloop.run_until_complete(manager.close_all())


# ---- the local host on first run --------------------------------------------------------

@pytest.fixture
def local_through_relay(libvirt_uri, monkeypatch):
    """The start-up's local host is reached through a relay the test controls."""
    if not os.access(LIBVIRT_SOCKET, os.R_OK | os.W_OK):
        pytest.fail(f"{LIBVIRT_SOCKET} is not usable here")
    directory = tempfile.mkdtemp(prefix="hvconsole-local-")
    relay = SocketRelay(os.path.join(directory, "libvirt-sock"))
    relay.listen()
    monkeypatch.setattr(launcher, "LOCAL_URI", f"qemu+unix:///system?socket={relay.path}")
    monkeypatch.setattr(startup_hosts, "LOCAL_SOCKETS", (relay.path,))
    yield relay
    relay.stop_listening()
    relay.cut()
    os.rmdir(directory)


def _first_run(aloop, qapp):
    qapp.setQuitOnLastWindowClosed(False)
    session = Session(_args())
    window = session.build()
    window.show()
    opened = aloop.run_until_complete(session.open_connections())
    assert len(opened) == 2, "the demo lab and the local host"
    return session, window, opened[1]


def test_a_local_libvirtd_slow_to_answer_stays_listed_and_connects(
        aloop, qapp, local_through_relay, tmp_path):
    """A libvirtd whose first answer took about 8 s made the local host vanish after 10 s
    ("Server removed"). Held back 12 s here, it stays and connects."""
    local_through_relay.delay_s = 12.0
    session, window, conn_id = _first_run(aloop, qapp)
    try:
        aloop.run_until_complete(asyncio.sleep(11.0))
        assert session.manager.host(conn_id) is not None
        assert session.manager.state(conn_id)[0] is ConnState.CONNECTING
        state = aloop.run_until_complete(session.manager.wait_attempt(conn_id, 40))
        assert state[0] is ConnState.CONNECTED, state
        assert session.manager.host(conn_id) is not None
    finally:
        aloop.run_until_complete(session.shutdown())
        window.close()


def test_a_local_libvirtd_that_fails_stays_listed_with_the_reason(
        aloop, qapp, local_through_relay, tmp_path):
    # A libvirtd that died leaves its socket file behind: the file is there, nobody
    # listens (connecting is refused).
    local_through_relay.stop_listening()
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(local_through_relay.path)
    session, window, conn_id = _first_run(aloop, qapp)
    try:
        state, reason = aloop.run_until_complete(session.manager.wait_attempt(conn_id, 40))
        assert state is ConnState.DISCONNECTED and reason, (state, reason)
        assert session.manager.host(conn_id) is not None, "still listed"
        session.inventory.flush()
        shown = _row_text(window, conn_id, conn_id, column=1)
        assert shown is not None and shown.startswith("Disconnected") and reason in shown, shown
        messages = [session.events_log.index(r, 3).data()
                    for r in range(session.events_log.rowCount())]
        assert "Server removed" not in messages
    finally:
        aloop.run_until_complete(session.shutdown())
        window.close()
        dead.close()
