"""Fixtures for tests against the real libvirtd (qemu:///system) and the tiny test guest.

Every domain and volume a test makes through ``guest_factory`` carries a unique name that
starts with $HVCONSOLE_TEST_PREFIX (default "hvconsole-test-") and is removed when the test
ends, pass or fail, including anything named after it (a clone "<name>-clone", its disk).
Without a reachable libvirtd these tests skip locally and fail in CI (CI=true), so a broken
CI machine cannot look green.
"""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from connectors.libvirt.hostkeys import HostKey, KnownHosts
from tests import conftest as root_conftest
from tests.conftest import IN_CI, unavailable  # noqa: F401 - used by the test modules
from tests.integration import guest as guest_module
from tests.integration.guest import (
    REPO, SERIAL_DIR, GuestFiles, LiveGuest, guest_dir, guest_xml, serial_log_path)
from tests.integration.remote_services import Sshd, missing_tools

URI = "qemu:///system"


def _wait_with_the_loop(seconds: float) -> bool:
    """guest.pause's hook: runs the session's event loop (when it exists and is idle) so
    that libvirt's keepalive and events keep flowing while a test waits for a guest."""
    loop = root_conftest._session_loop
    if threading.current_thread() is not threading.main_thread():
        return False     # a wait in a worker thread (asyncio.to_thread): Qt's loop is not its
    if loop is None or loop.is_running() or loop.is_closed():
        return False
    loop.run_until_complete(asyncio.sleep(seconds))
    return True


guest_module.pause_hook = _wait_with_the_loop
POOL_NAME = "hvconsole-test"
POOL_PATH = "/var/lib/hvconsole-test/pool"
PREFIX = os.environ.get("HVCONSOLE_TEST_PREFIX", "hvconsole-test-")


@pytest.fixture(scope="session")
def libvirt_uri() -> str:
    """qemu:///system, once it has answered; skip (locally) or fail (CI) when it does not."""
    try:
        import libvirt
    except ImportError as err:
        unavailable(f"libvirt-python is not installed: {err}")
    try:
        conn = libvirt.open(URI)
        conn.getLibVersion()
        conn.close()
    except libvirt.libvirtError as err:
        unavailable(f"libvirtd does not answer on {URI} (run scripts/start-libvirtd.sh as "
                     f"root): {err.get_error_message()}")
    return URI


@pytest.fixture(scope="session")
def test_guest_files(libvirt_uri) -> GuestFiles:
    """The test guest's kernel and initrd, built or reused, and the accelerator to boot it."""
    steps = (["bash", str(REPO / "scripts" / "build-test-guest.sh")],
             [sys.executable, str(REPO / "scripts" / "probe-accel.py")])
    for cmd in steps:
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            unavailable(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    directory = guest_dir()
    info = json.loads((directory / "guest.json").read_text())
    accel = json.loads((directory / "accel.json").read_text())["accel"]
    return GuestFiles(kernel=directory / "vmlinuz", initrd=directory / "initrd.gz",
                      kernel_version=info["kernel_version"], accel=accel)


def _test_pool(conn):
    """The 'hvconsole-test' directory pool, defined and started if needed (and kept)."""
    import libvirt

    try:
        pool = conn.storagePoolLookupByName(POOL_NAME)
    except libvirt.libvirtError:
        xml = (f"<pool type='dir'><name>{POOL_NAME}</name>"
               f"<target><path>{POOL_PATH}</path></target></pool>")
        try:
            pool = conn.storagePoolDefineXML(xml, 0)
            pool.build(0)
        except libvirt.libvirtError:
            # Another test session defined it meanwhile.
            pool = conn.storagePoolLookupByName(POOL_NAME)
    if not pool.isActive():
        try:
            pool.create(0)
        except libvirt.libvirtError:
            if not pool.isActive():
                raise
    return pool


def _remove_domain(conn, name: str) -> None:
    import libvirt

    try:
        dom = conn.lookupByName(name)
    except libvirt.libvirtError:
        return
    try:
        if dom.isActive():
            dom.destroy()
    except libvirt.libvirtError:
        pass
    try:
        if dom.isPersistent():
            dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                              | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                              | libvirt.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA
                              | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)     # UEFI guests
    except libvirt.libvirtError:
        pass


@pytest.fixture
def guest_factory(libvirt_uri, test_guest_files):
    """make_guest(name_suffix, start=False, persistent=True, with_disk=False, **xml_options)
    -> LiveGuest. A transient guest (persistent=False) always starts. ``xml_options`` go to
    guest_xml (memory_mib, vcpus, graphics, tablet, ...)."""
    import libvirt

    conn = libvirt.open(libvirt_uri)
    names: list[str] = []
    pool = None

    def make_guest(name_suffix: str, start: bool = False, persistent: bool = True,
                   with_disk: bool = False, **xml_options) -> LiveGuest:
        nonlocal pool
        if not persistent and not start:
            raise ValueError("a transient guest exists only while it runs: use start=True")
        name = f"{PREFIX}{name_suffix}-{uuid.uuid4().hex[:6]}"
        names.append(name)
        volume = None
        if with_disk:
            pool = pool or _test_pool(conn)
            volume = pool.createXML(
                f"<volume><name>{name}.qcow2</name><capacity unit='MiB'>64</capacity>"
                "<target><format type='qcow2'/></target></volume>", 0)
            xml_options.setdefault("disk_path", volume.path())
            xml_options.setdefault("disk_format", "qcow2")
        log = serial_log_path(name)
        xml_options.setdefault("kernel", test_guest_files.kernel)
        xml_options.setdefault("initrd", test_guest_files.initrd)
        xml = guest_xml(name, accel=test_guest_files.accel, serial_log=log, **xml_options)
        if persistent:
            dom = conn.defineXML(xml)
            guest = LiveGuest(name, dom, log, True, volume)
            if start:
                guest.start()
        else:
            dom = conn.createXML(xml, 0)
            guest = LiveGuest(name, dom, log, False, volume)
        return guest

    yield make_guest

    for dom in conn.listAllDomains(0):
        if any(dom.name().startswith(n) for n in names):
            _remove_domain(conn, dom.name())
    if pool is not None:
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


@pytest.fixture
def booted_guest(guest_factory) -> LiveGuest:
    """A persistent test guest, started and booted to its shell (READY on the serial port)."""
    guest = guest_factory("booted", start=True)
    guest.wait_ready()
    return guest


# ---- remote hosts: an sshd on 127.0.0.1 in front of the shared libvirtd ----

def need_remote_tools(*tools: str) -> None:
    if os.geteuid() != 0:
        unavailable("the remote-host tests start sshd and a libvirtd as root")
    missing = missing_tools(*tools)
    if missing:
        unavailable(f"missing {', '.join(missing)}: run scripts/setup.sh")


@pytest.fixture(scope="module")
def sshd(libvirt_uri):
    need_remote_tools("sshd", "ssh", "ssh-keyscan", "virt-ssh-helper")
    server = Sshd.create()
    server.start()
    yield server
    server.close()
    KnownHosts().remove("127.0.0.1", server.port)


@pytest.fixture
def ssh_uri(sshd) -> str:
    return f"qemu+ssh://root@127.0.0.1:{sshd.port}/system?keyfile={sshd.client_key}"


@pytest.fixture
def trusted(sshd):
    """The test sshd's key in ~/.ssh/known_hosts (as after a first contact); removed after."""
    known = KnownHosts()
    known.remove("127.0.0.1", sshd.port)
    key_type, blob = Path(f"{sshd.host_key}.pub").read_text().split()[:2]
    known.add("127.0.0.1", sshd.port, [HostKey(key_type, blob)])
    yield known
    known.remove("127.0.0.1", sshd.port)


@pytest.fixture
def untrusted(sshd):
    known = KnownHosts()
    known.remove("127.0.0.1", sshd.port)
    yield known
    known.remove("127.0.0.1", sshd.port)


@pytest.fixture
def marker_vm(libvirt_uri):
    """A defined (never started) VM, so "the same VMs" compares more than two empty lists."""
    import libvirt
    conn = libvirt.open(libvirt_uri)
    name = f"{PREFIX}ssh-{uuid.uuid4().hex[:6]}"
    dom = conn.defineXML(f"<domain type='qemu'><name>{name}</name><memory unit='MiB'>32"
                         "</memory><os><type arch='x86_64'>hvm</type></os></domain>")
    yield name
    dom.undefine()
    conn.close()


# The migration tests' second host and guests, shared by their modules for the session.
from tests.integration.migration_fixtures import (  # noqa: E402, F401
    _started, companion, peer, session_guests, traveller, two_hosts)
