"""An iSCSI pool against a real target on 127.0.0.1: tgt's userspace target daemon
serves a LUN from a file, and libvirt's own initiator (the iscsi-direct pool, libiscsi
in userspace) finds the target, starts the pool and lists the LUN as a volume.

This machine's kernel has no iSCSI initiator for the "iscsi" pool type (which logs in
with iscsiadm and the kernel's iscsi_tcp), so iscsi-direct is the iSCSI path that can run
here. The daemon lists iscsi-direct only if its driver package was installed before it
started (scripts/setup.sh installs it before scripts/test.sh starts libvirtd); to try
this test against another daemon, set HVCONSOLE_TEST_ISCSI_URI to its URI.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from connectors.libvirt.host import LibvirtHost
from connectors.libvirt.storage_ops import NewPool
from connectors.libvirt.storage_xml import PoolSpec
from tests.integration.conftest import PREFIX, unavailable

pytestmark = pytest.mark.integration

TARGET = "iqn.2026-12.org.hvconsole:test-target"
INITIATOR = "iqn.2026-12.org.hvconsole:test-initiator"
MIB = 1 << 20


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def iscsi_target(tmp_path):
    """tgtd on 127.0.0.1 with one 64 MiB LUN; its own control socket, so several runs
    (and a system tgtd) never meet."""
    if shutil.which("tgtd") is None or shutil.which("tgtadm") is None:
        unavailable("tgt is not installed (scripts/setup.sh installs it)")
    port, control = _free_port(), 1000 + os.getpid() % 30000
    lun = tmp_path / "lun.img"
    with open(lun, "wb") as out:
        out.truncate(64 * MIB)
    log = open(tmp_path / "tgtd.log", "wb")
    daemon = subprocess.Popen(["tgtd", "-f", "-C", str(control), "--iscsi",
                               f"portal=127.0.0.1:{port}"], stdout=log, stderr=log)

    def admin(*args: str) -> None:
        deadline = time.monotonic() + 10
        while True:
            done = subprocess.run(["tgtadm", "-C", str(control), "--lld", "iscsi", *args],
                                  capture_output=True, text=True)
            if done.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"tgtadm {' '.join(args)}: {done.stderr}")
            time.sleep(0.1)
    try:
        admin("--op", "new", "--mode", "target", "--tid", "1", "-T", TARGET)
        admin("--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "1", "-b",
              str(lun))
        admin("--op", "bind", "--mode", "target", "--tid", "1", "-I", "ALL")
        yield port, lun
    finally:
        # tgtd ignores SIGTERM while it serves a target; it keeps nothing worth a
        # clean stop here (the LUN is a temporary file).
        daemon.kill()
        daemon.wait(10)
        log.close()


@pytest.fixture
def host(aloop, libvirt_uri):
    import libvirt
    uri = os.environ.get("HVCONSOLE_TEST_ISCSI_URI", libvirt_uri)
    found = LibvirtHost(uri, lambda _event: None)
    aloop.run_until_complete(found.connect())
    caps = aloop.run_until_complete(found.storage.capabilities())
    offer = caps.pool_type("iscsi-direct")
    if not offer:
        aloop.run_until_complete(found.disconnect())
        unavailable(f"{offer.reason} (install libvirt-daemon-driver-storage-iscsi-direct "
                    "before libvirtd starts: scripts/setup.sh does)")
    name = f"{PREFIX}iscsi-{uuid.uuid4().hex[:6]}"
    yield found, name
    aloop.run_until_complete(found.disconnect())
    conn = libvirt.open(uri)
    try:
        pool = conn.storagePoolLookupByName(name)
        if pool.isActive():
            pool.destroy()
        pool.undefine()
    except libvirt.libvirtError:
        pass
    finally:
        conn.close()


def run(aloop, coro):
    return aloop.run_until_complete(asyncio.wait_for(coro, 60))


def test_an_iscsi_target_on_localhost_is_found_and_its_lun_listed(aloop, host,
                                                                 iscsi_target):
    host, name = host
    port, lun = iscsi_target
    found = run(aloop, host.storage.find_sources("iscsi-direct", "127.0.0.1", port,
                                                 INITIATOR))
    assert [s.device for s in found] == [TARGET]

    spec = PoolSpec(name, "iscsi-direct", source_host="127.0.0.1", source_port=port,
                    target_iqn=TARGET, initiator_iqn=INITIATOR)
    key = run(aloop, host.storage.define_pool(NewPool(spec, autostart=False)))
    pool = next(p for p in host.pools() if p.key == key)
    # libvirt counts the LUN's 512-byte blocks up to the last one's start
    assert pool.active and 63 * MIB < pool.capacity <= 64 * MIB
    volumes = {v.name: v for v in run(aloop, host.storage.volumes(key))}
    assert 63 * MIB < volumes["unit:0:0:1"].capacity <= 64 * MIB

    lun.write_bytes(b"old data" * 1024 + bytes(64 * MIB - 8192))
    run(aloop, host.storage.wipe_volume(key, "unit:0:0:1"))
    assert Path(lun).read_bytes()[:8192] == bytes(8192), "wiped through the initiator"
    run(aloop, host.storage.delete_pool(key, delete_data=False))
    assert all(p.key != key for p in host.pools())
