"""The second test host (scripts/start-peer-host.sh) starts from an empty cache, caches
libvirtd's QEMU probe, and starts from that cache the next time; it is a host of its
own (its name, its host UUID, no VMs of the first host) and is gone after --stop.

The cold path runs here on every CI run (a cache filled once would hide a start that
stopped working on new machines, as scripts/lib/cache.sh explains).
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import libvirt
import pytest

from tests.conftest import unavailable

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "start-peer-host.sh"

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(240)]


def start(cache: Path) -> tuple[dict, str]:
    env = dict(os.environ, HVCONSOLE_CACHE_DIR=str(cache),
               HVCONSOLE_PEER_OWNER=str(os.getpid()))
    done = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env,
                          timeout=180)
    assert done.returncode == 0, done.stderr
    return dict(line.split("=", 1) for line in done.stdout.splitlines()), done.stderr


def stop(facts: dict) -> None:
    subprocess.run(["bash", str(SCRIPT), "--stop", facts["dir"]], check=True,
                   capture_output=True, timeout=120)


def test_the_peer_host_starts_cold_then_from_its_cache(tmp_path, libvirt_uri):
    if os.geteuid() != 0:
        unavailable("the second host needs root (namespaces, a veth pair, a root libvirtd)")
    cache = tmp_path / "cache"
    first, said = start(cache)
    try:
        assert "QEMU capabilities cached in" in said
        [cached] = list((cache / "peer-host").iterdir())
        assert list(cached.glob("*.xml")), "libvirtd's probe results are kept"
        conn = libvirt.open(first["uri"])
        here = libvirt.open(libvirt_uri)
        try:
            assert conn.getHostname() == f"hvconsole-peer-{first['index']}"
            host_uuid = "<uuid>"
            assert conn.getCapabilities().split(host_uuid)[1][:36] != \
                here.getCapabilities().split(host_uuid)[1][:36]
            assert conn.listAllDomains(0) == []
            assert [p.name() for p in conn.listAllStoragePools(0)] == ["default"]
        finally:
            conn.close()
            here.close()
    finally:
        stop(first)
    assert not Path(first["dir"]).exists()
    assert first["netns"] not in subprocess.run(["ip", "netns", "list"], text=True,
                                                capture_output=True).stdout

    again, said = start(cache)
    try:
        assert "QEMU capabilities from the cache" in said
        conn = libvirt.open(again["uri"])
        conn.getLibVersion()
        conn.close()
    finally:
        stop(again)
