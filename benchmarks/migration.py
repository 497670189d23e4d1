"""Downtime and total time of a live migration between two real hosts: one JSON line.

Starts a second libvirtd on this machine (scripts/start-peer-host.sh), boots the tiny test
guest on this machine's libvirtd (TCG or KVM, as scripts/probe-accel.py measured), and
moves it there and back ``--rounds`` times through HVConsole's own connector
(LibvirtHost.migrate_vm): live, with its qcow2 disk copied when ``--disk`` is given.
``downtime_ms`` is what the destination's QEMU measured (libvirt's completed job
statistics), ``total_ms`` from the first libvirt call to the VM running there, ``data_mib``
what was sent; medians over the rounds and every round's numbers. The two hosts share
one machine and a veth pair, so the link is fast and the CPU is shared: compare runs of
this script with each other, not with a real network.

Run as root: ``.venv/bin/python benchmarks/migration.py --rounds 3 --disk``
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import libvirt  # noqa: E402

from connectors.libvirt.host import LibvirtHost  # noqa: E402
from connectors.libvirt.migration import MigrationOptions  # noqa: E402
from connectors.libvirt.migration_run import Names  # noqa: E402
from connectors.libvirt.model import ConnState  # noqa: E402
from tests.integration.guest import (build_guest_files, guest_dir, guest_xml,  # noqa: E402
                                     serial_log_path, wait_for_serial)
from tests.integration.peer_host import PeerHost  # noqa: E402

LOCAL = "qemu:///system"
POOL = "hvconsole-test"


async def measure(peer: PeerHost, key: str, rounds: int, disk: bool) -> list[dict]:
    here = LibvirtHost(LOCAL, lambda _e: None)
    there = LibvirtHost(peer.uri, lambda _e: None)
    await here.connect()
    await there.connect()
    results = []
    try:
        for n in range(rounds * 2):
            source, dest = (here, there) if n % 2 == 0 else (there, here)
            options = MigrationOptions(
                copy_storage=(("vda", "default" if dest is there else POOL),) if disk
                else (),
                dest_address="" if dest is there else peer.migration_address)
            outcome = await source.migrate_vm(key, dest, options,
                                              Names("guest", "a", "b"), lambda _p: None)
            results.append({"direction": "out" if dest is there else "back",
                            "total_ms": outcome.total_ms,
                            "downtime_ms": outcome.downtime_ms,
                            "data_mib": round(outcome.data_bytes / 2**20, 1)})
            await asyncio.sleep(1)
    finally:
        for host in (here, there):
            if host.state is ConnState.CONNECTED:
                await host.disconnect()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="there-and-back trips")
    parser.add_argument("--disk", action="store_true", help="copy a 64 MiB qcow2 disk too")
    args = parser.parse_args()
    build_guest_files()
    accel_file = guest_dir() / "accel.json"
    accel = json.loads(accel_file.read_text())["accel"] if accel_file.exists() else "qemu"
    peer = PeerHost.start()
    conn = libvirt.open(LOCAL)
    name = f"hvconsole-bench-migrate-{uuid.uuid4().hex[:6]}"
    try:
        options = {}
        if args.disk:
            volume = conn.storagePoolLookupByName(POOL).createXML(
                f"<volume><name>{name}.qcow2</name><capacity unit='MiB'>64</capacity>"
                "<target><format type='qcow2'/></target></volume>", 0)
            options = {"disk_path": volume.path(), "disk_format": "qcow2"}
        log = serial_log_path(name)
        dom = conn.createXML(guest_xml(name, accel=accel, serial_log=log,
                                       serial_append=True, **options), 0)
        wait_for_serial(log, timeout=180)
        results = asyncio.run(measure(peer, dom.UUIDString(), args.rounds, args.disk))
    finally:
        for c in (conn, libvirt.open(peer.uri)):
            try:
                c.lookupByName(name).destroy()
            except libvirt.libvirtError:
                pass
        pool = conn.storagePoolLookupByName(POOL)
        pool.refresh(0)
        for vol in pool.listAllVolumes(0):     # its disk, and the copies that came back
            if vol.name().startswith(name):
                vol.delete(0)
        peer.stop()
    print(json.dumps({
        "benchmark": "live_migration", "accel": accel, "disk_copied": args.disk,
        "migrations": len(results),
        "downtime_ms_median": statistics.median(r["downtime_ms"] or 0 for r in results),
        "total_ms_median": statistics.median(r["total_ms"] for r in results),
        "runs": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
