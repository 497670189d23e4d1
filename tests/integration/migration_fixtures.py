"""Fixtures of the migration tests: two real hosts, the app's stack on both, test guests.

All of them live for the test session (tests/integration/conftest.py imports them), so
the migration, maintenance and fault tests share one second host and two booted guests:
a boot costs seconds of TCG (40 s on a busy 2-core machine), a peer host one.

``peer`` starts a second libvirtd (tests/integration/peer_host.py) and stops it at the
end, with everything that ran in it. ``two_hosts`` is the application as the window
composes it (ConnectionManager, inventory, tasks, events, the migration service and
maintenance mode), connected to this machine's libvirtd and to the peer. ``session_guests``
makes test guests on this machine's libvirtd; they are removed at the end wherever they
ended up, with their disks. ``traveller`` (a running guest with a qcow2 disk) and
``companion`` (a diskless one) count on their serial ports; a test that needs one on a
given host moves it there first (``bring``).
"""
from __future__ import annotations

import asyncio
import os
import re
import uuid
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from app.host_settings import HostSettings
from app.maintenance import MaintenanceMode
from app.migration import MigrationRequest, MigrationService
from app.preferences import Preferences
from app.tasks import TaskState
from connectors.libvirt.model import ConnState, VMState
from tests.conftest import unavailable, wait_until
from tests.integration.app_stack import AppStack
from tests.integration.guest import SERIAL_DIR, LiveGuest, guest_xml, serial_log_path
from tests.integration.peer_host import PeerHost

COUNTER = re.compile(rb"HVCONSOLE-COUNTER (\d+)")


def counters(path: Path) -> list[int]:
    """Every value the guest's counter printed in its serial log, in order."""
    try:
        return [int(m) for m in COUNTER.findall(path.read_bytes())]
    except FileNotFoundError:
        return []


@pytest.fixture(scope="session")
def peer(libvirt_uri):
    if os.geteuid() != 0:
        unavailable("the second host needs root (namespaces, a veth pair, a root libvirtd)")
    try:
        host = PeerHost.start()
    except RuntimeError as err:
        unavailable(str(err))
    yield host
    host.stop()


class TwoHosts(AppStack):
    """The app's stack, connected to both hosts; ``local`` and ``remote`` are conn_ids."""

    def __init__(self, tmp: Path):
        super().__init__()
        settings = QSettings(str(tmp / "hvconsole.ini"), QSettings.Format.IniFormat)
        self.preferences = Preferences(settings)
        self.host_settings = HostSettings(settings)
        self.migrations = MigrationService(self.manager, self.tasks, self.preferences,
                                           self.host_settings)
        self.maintenance = MaintenanceMode(self.manager, self.migrations,
                                           self.host_settings, self.tasks, self.inventory)
        self.local = self.remote = ""

    def host_of(self, name: str) -> str | None:
        """The conn_id whose tree row holds the VM called ``name``."""
        node = self.vm_node(name)
        return None if node is None else node.conn_id

    def vm_nodes(self, name: str) -> list:
        return [n for _i, n in self.nodes() if n is not None and getattr(n.obj, "name", None)
                == name]


@pytest.fixture(scope="session")
def two_hosts(qapp, aloop, libvirt_uri, peer, tmp_path_factory):
    stack = TwoHosts(tmp_path_factory.mktemp("two-hosts"))
    stack.local = aloop.run_until_complete(stack.open(libvirt_uri))
    stack.remote = aloop.run_until_complete(stack.open(peer.uri))
    for conn_id in (stack.local, stack.remote):
        aloop.run_until_complete(wait_until(
            lambda c=conn_id: stack.host_state(c) is ConnState.CONNECTED, 30))
    # This machine's host name resolves to 127.0.0.1: the peer reaches it on the veth.
    stack.host_settings.set_migration_address(libvirt_uri, peer.migration_address)
    yield stack
    aloop.run_until_complete(stack.close())


@pytest.fixture(scope="session")
def session_guests(libvirt_uri, test_guest_files, peer):
    """make(suffix, start=True, with_disk=False, counter=True) -> LiveGuest."""
    import libvirt

    # Not at the top: conftest imports this module.
    from tests.integration.conftest import PREFIX, _remove_domain, _test_pool

    # A connection per use: the test loop does not run between tests, so libvirt's
    # keepalive would declare a session-long connection dead.
    names: list[str] = []

    def make(suffix: str, start: bool = True, with_disk: bool = False,
             counter: bool = True, **xml_options) -> LiveGuest:
        name = f"{PREFIX}{suffix}-{uuid.uuid4().hex[:6]}"
        names.append(name)
        conn = libvirt.open(libvirt_uri)
        volume = None
        if with_disk:
            volume = _test_pool(conn).createXML(
                f"<volume><name>{name}.qcow2</name><capacity unit='MiB'>64</capacity>"
                "<target><format type='qcow2'/></target></volume>", 0)
            xml_options.update(disk_path=volume.path(), disk_format="qcow2")
        log = serial_log_path(name)
        xml = guest_xml(name, accel=test_guest_files.accel, kernel=test_guest_files.kernel,
                        initrd=test_guest_files.initrd, serial_log=log,
                        cmdline_extra="hvconsole.counter" if counter else "",
                        serial_append=True, **xml_options)
        guest = LiveGuest(name, conn.defineXML(xml), log, True, volume)
        if start:
            guest.start()
        return guest

    yield make

    conn = libvirt.open(libvirt_uri)
    for dom in conn.listAllDomains(0):
        if dom.name() in names:
            _remove_domain(conn, dom.name())
    pool = _test_pool(conn)
    pool.refresh(0)
    for vol in pool.listAllVolumes(0):
        if any(vol.name().startswith(n) for n in names):
            try:
                vol.delete(0)
            except libvirt.libvirtError:
                pass
    for name in names:
        (SERIAL_DIR / f"{name}.serial.log").unlink(missing_ok=True)
    conn.close()


def counted(aloop, guest, more_than: int, timeout: float = 60.0) -> int:
    """Waits until the guest's counter passes ``more_than``; the last value seen."""
    aloop.run_until_complete(wait_until(
        lambda: max(counters(guest.serial_log), default=-1) > more_than, timeout))
    return counters(guest.serial_log)[-1]


def _booted(aloop, stack, guest) -> LiveGuest:
    # The loop turns while the guest boots: the stack's connections must answer their
    # hosts' keepalive probes, or libvirtd closes them after 30 s and the hosts spend
    # the next tests reconnecting.
    aloop.run_until_complete(asyncio.to_thread(guest.wait_ready, timeout=300))
    counted(aloop, guest, 3)
    aloop.run_until_complete(wait_until(
        lambda: stack.vm_state(guest.name) is VMState.RUNNING, 30))
    return guest


@pytest.fixture(scope="session")
def _started(session_guests) -> dict[str, LiveGuest]:
    """Both guests start together: two TCG boots side by side take little longer than
    one on two cores, and most of a migration test's time is a guest's boot."""
    return {"traveller": session_guests("travel", with_disk=True),
            "companion": session_guests("companion")}


@pytest.fixture(scope="session")
def traveller(aloop, _started, two_hosts) -> LiveGuest:
    """A running guest with a qcow2 disk, counting (defined first on this machine)."""
    return _booted(aloop, two_hosts, _started["traveller"])


@pytest.fixture(scope="session")
def companion(aloop, _started, two_hosts) -> LiveGuest:
    """A second running guest, diskless, counting."""
    return _booted(aloop, two_hosts, _started["companion"])


def finish(aloop, task, timeout: float = 120.0) -> None:
    aloop.run_until_complete(wait_until(lambda: task.done, timeout))


def bring(aloop, stack: TwoHosts, guest: LiveGuest, conn_id: str) -> None:
    """Moves the guest to ``conn_id`` with the default options, unless it is there."""
    node = stack.vm_node(guest.name)
    assert node is not None, f"{guest.name} is in no tree"
    if node.conn_id == conn_id:
        return
    pre = aloop.run_until_complete(stack.migrations.precheck(node.conn_id, node.key,
                                                             conn_id))
    task = stack.migrations.start(MigrationRequest(
        node.conn_id, node.key, conn_id, stack.migrations.default_options(pre, conn_id),
        guest.name))
    finish(aloop, task)
    assert task.state is TaskState.SUCCEEDED, task.error
    stack.inventory.flush()
