"""A remote KVM host behind a bad network: the peer host (scripts/start-peer-host.sh) with
an sshd of its own, a running test guest with a VNC display on the peer's loopback, and
the faults of a bad link applied to its end of the veth pair.

How the faults are made (this kernel has no ``sch_netem``):
- ``shape(delay_ms, loss)``: iptables queues every packet the peer sends on its veth end to the
  delay line (tests/integration/delay_line.py, NFQUEUE), which lets it go 200 ms later —
  what ``tc qdisc add dev eth0 root netem delay 200ms`` on the peer does;
  with ``loss``, each packet either way is dropped with that probability (a second
  queue for what arrives: netem ``loss 2%`` on both ends);
- ``blackhole``: iptables DROP of everything on the veth end, both ways: packets
  vanish, nobody is told (a VPN whose far side died, a firewall that started dropping);
- ``flap``: the veth end down and up again every ``period`` seconds (a flaky cable or
  Wi-Fi): both sides see the carrier go.

The app reaches the host as a user would: ``qemu+ssh://root@PEER:PORT/system`` with a
test key, its host key trusted beforehand in ~/.ssh/known_hosts (removed at the end),
and the guest's console tunnelled through the same sshd (app/console_openers → ssh -W).
``virsh_names()`` reads the host's truth through its UNIX socket, which no fault touches.

No pytest and no Qt in here: benchmarks/bad_networks.py uses it too.
"""
from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from connectors.libvirt.hostkeys import HostKey, KnownHosts
from tests.integration.guest import (SCROLLING_COMMAND, guest_xml, serial_log_path,
                                     type_on_console, wait_for_serial)
from tests.integration.peer_host import PeerHost
from tests.integration.remote_services import Sshd

DELAY_LINE = Path(__file__).with_name("delay_line.py")
QUEUE = 7


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=30)


@dataclass
class RemoteKvmHost:
    peer: PeerHost
    sshd: Sshd
    guest_name: str
    accel: str
    log: Path
    lines: list[subprocess.Popen] = field(default_factory=list)
    rules: list[list[str]] = field(default_factory=list)

    @classmethod
    def start(cls, guest_name: str, accel: str) -> RemoteKvmHost:
        peer = PeerHost.start()
        try:
            holder = (peer.dir / "holder.pid").read_text().strip()
            sshd = Sshd.create()
            sshd.listen = peer.peer_addr
            sshd.enter = ["nsenter", "-t", holder, "-m", "-n", "-u"]
            sshd.start()
            key_type, blob = Path(f"{sshd.host_key}.pub").read_text().split()[:2]
            known = KnownHosts()
            known.remove(peer.peer_addr, sshd.port)
            known.add(peer.peer_addr, sshd.port, [HostKey(key_type, blob)])
            host = cls(peer, sshd, guest_name, accel, serial_log_path(guest_name))
            host.virsh("define", "/dev/stdin", stdin=guest_xml(guest_name, accel=accel,
                                                               serial_log=host.log))
            host.virsh("start", guest_name)
            return host
        except BaseException:
            peer.stop()
            raise

    @property
    def uri(self) -> str:
        return (f"qemu+ssh://root@{self.peer.peer_addr}:{self.sshd.port}/system"
                f"?keyfile={self.sshd.client_key}")

    def wait_guest_ready(self, timeout: float = 180.0) -> None:
        wait_for_serial(self.log, timeout=timeout)

    def virsh(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        done = subprocess.run(["virsh", "-q", "-c", self.peer.uri, *args], input=stdin,
                              capture_output=True, text=True, timeout=60)
        if check and done.returncode != 0:
            raise RuntimeError(f"virsh {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def define_stopped(self, name: str) -> None:
        """A new, shut off VM on the host (an event the app must not miss)."""
        self.virsh("define", "/dev/stdin", stdin=guest_xml(name, accel=self.accel,
                                                           graphics=None))

    def scroll_console(self) -> None:
        """Make the guest's screen change all the time (see guest.type_on_console);
        call it once the guest is ready (its shell starts a moment after the marker)."""
        import libvirt
        time.sleep(1.0)
        conn = libvirt.open(self.peer.uri)
        try:
            type_on_console(conn.lookupByName(self.guest_name), SCROLLING_COMMAND)
        finally:
            conn.close()

    def truth(self) -> dict[str, str]:
        """Every VM of the host and its state, as `virsh list --all` says."""
        out = {}
        for line in self.virsh("list", "--all").splitlines():
            parts = line.split(None, 2)
            if len(parts) == 3:
                out[parts[1]] = parts[2].strip()
        return out

    # ---- faults ----

    def _ns(self, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", self.peer.netns, *argv]

    def _rule(self, *rule: str) -> None:
        _run(*self._ns("iptables", "-I", *rule))
        self.rules.append(list(rule))

    def _start_line(self, queue: int, delay_ms: float, loss: float) -> None:
        line = subprocess.Popen(
            self._ns(sys.executable, str(DELAY_LINE), "--queue", str(queue),
                     "--delay-ms", str(delay_ms), "--loss", str(loss)),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines.append(line)
        if line.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the delay line did not start: {line.stderr.read()}")

    def shape(self, delay_ms: float, loss: float) -> None:
        """What the peer sends waits ``delay_ms``; each packet, either way, is lost with
        probability ``loss``."""
        self._start_line(QUEUE, delay_ms, loss)
        self._rule("OUTPUT", "-o", "eth0", "-j", "NFQUEUE", "--queue-num", str(QUEUE))
        if loss:
            self._start_line(QUEUE + 1, 0.0, loss)
            self._rule("INPUT", "-i", "eth0", "-j", "NFQUEUE", "--queue-num", str(QUEUE + 1))

    def blackhole(self) -> None:
        self._rule("OUTPUT", "-o", "eth0", "-j", "DROP")
        self._rule("INPUT", "-i", "eth0", "-j", "DROP")

    def link(self, up: bool) -> None:
        _run(*self._ns("ip", "link", "set", "eth0", "up" if up else "down"))

    def heal(self) -> None:
        """Every fault off: rules deleted (before the delay line stops: a queue rule
        without its listener drops), the link up."""
        for rule in reversed(self.rules):
            subprocess.run(self._ns("iptables", "-D", *rule), capture_output=True)
        self.rules.clear()
        for line in self.lines:
            line.terminate()
            line.wait(10)
        self.lines.clear()
        self.link(True)

    def stop(self) -> None:
        try:
            self.heal()
        finally:
            self.virsh("destroy", self.guest_name, check=False)
            self.sshd.close()
            KnownHosts().remove(self.peer.peer_addr, self.sshd.port)
            self.log.unlink(missing_ok=True)
            self.peer.stop()
