"""A second real libvirt host on this machine, for migration tests (scripts/start-peer-host.sh).

The peer is a libvirtd of its own in its own mount and network namespaces; HVConsole
reaches it through its socket (``uri``), QEMU's migration stream and storage copies
through a veth pair (this side ``host_addr``, the peer ``peer_addr``). Both hosts see the
same files outside libvirt's own folders: the test guest's kernel and initrd, the serial
logs, the test pool's folder. ``migration_address`` is what a migration *towards this
machine's libvirtd* must name (its host name resolves to 127.0.0.1 in the peer's
namespace). Faults for the tests: ``kill_libvirtd()`` and ``link(up=False)``.

No pytest in here: benchmarks/migration.py uses it too.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "start-peer-host.sh"


@dataclass
class PeerHost:
    dir: Path
    uri: str
    tcp_uri: str
    host_addr: str
    peer_addr: str
    host_veth: str
    netns: str

    @classmethod
    def start(cls) -> PeerHost:
        # Owned by this process: a later start removes it if this one dies without
        # stopping it.
        env = dict(os.environ, HVCONSOLE_PEER_OWNER=str(os.getpid()))
        done = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True,
                              timeout=180, env=env)
        if done.returncode != 0:
            raise RuntimeError(f"start-peer-host.sh failed ({done.returncode}):\n"
                               f"{done.stderr[-3000:]}")
        facts = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
        return cls(dir=Path(facts["dir"]), uri=facts["uri"], tcp_uri=facts["tcp_uri"],
                   host_addr=facts["host_addr"], peer_addr=facts["peer_addr"],
                   host_veth=facts["host_veth"], netns=facts["netns"])

    @property
    def migration_address(self) -> str:
        """The first host's address as the peer reaches it."""
        return self.host_addr

    def stop(self) -> None:
        subprocess.run(["bash", str(SCRIPT), "--stop", str(self.dir)], capture_output=True,
                       timeout=120)

    def libvirtd_pid(self) -> int | None:
        try:
            pid = int((self.dir / "libvirtd.pid").read_text().strip())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        return pid

    def kill_libvirtd(self) -> None:
        """SIGKILL, as a crash: its QEMU processes stay (libvirtd would reconnect to them)."""
        pid = self.libvirtd_pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while self.libvirtd_pid() is not None and time.monotonic() < deadline:
                time.sleep(0.05)

    def restart_libvirtd(self) -> None:
        """Starts its libvirtd again in the same namespaces (after ``kill_libvirtd``)."""
        done = subprocess.run(["bash", str(SCRIPT), "--restart", str(self.dir)],
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"restarting the peer's libvirtd failed:\n{done.stderr}")

    def link(self, up: bool) -> None:
        """The veth pair up or down, as a pulled cable between the two hosts."""
        subprocess.run(["ip", "link", "set", self.host_veth, "up" if up else "down"],
                       check=True, capture_output=True)

    def qemu_pids(self) -> list[int]:
        done = subprocess.run(["ip", "netns", "pids", self.netns], capture_output=True,
                              text=True)
        pids = []
        for word in done.stdout.split():
            try:
                if Path(f"/proc/{word}/comm").read_text().startswith("qemu"):
                    pids.append(int(word))
            except OSError:
                pass
        return pids
