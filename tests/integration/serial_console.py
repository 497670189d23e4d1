"""The serial console of a VM read through libvirt (virDomainOpenConsole), as `virsh
console` reads it: for VMs whose serial port is a pty (what New VM defines), where no
log file exists to wait on. Works for any host the connection reaches.

A reader thread collects everything the guest prints; ``run`` types a shell command and
waits for a marker its output computes (so an echo of the typed line cannot match).
"""
from __future__ import annotations

import threading
import time


class SerialConsole:
    def __init__(self, conn, dom) -> None:
        import libvirt

        self._libvirt = libvirt
        self.stream = conn.newStream(0)
        dom.openConsole(None, self.stream, libvirt.VIR_DOMAIN_CONSOLE_FORCE)
        self.text = ""
        self._lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop:
            try:
                data = self.stream.recv(4096)
            except self._libvirt.libvirtError:
                return
            if isinstance(data, int):
                if data == -2:
                    time.sleep(0.05)
                    continue
                return
            if not data:
                return
            with self._lock:
                self.text += data.decode("utf-8", "replace")

    def wait_for(self, marker: str, timeout: float = 120.0, *, line: bool = False) -> str:
        """Until ``marker`` is on the console (``line``: as a whole line of its own, so a
        shell's complaint about a mangled command that names it does not count)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                text = self.text
            if line and any(row.strip() == marker for row in text.splitlines()):
                return text
            if not line and marker in text:
                return text
            time.sleep(0.1)
        raise TimeoutError(f"{marker!r} not on the serial console within {timeout:.0f} s; "
                           f"it shows:\n{self.text[-2000:]}")

    def run(self, command_with_marker: str, marker: str, timeout: float = 120.0,
            every: float = 3.0) -> str:
        """Types the command (again every few seconds, until the shell is up) and waits
        for ``marker`` as a line of the output."""
        deadline = time.monotonic() + timeout
        while True:
            self.stream.send((command_with_marker + "\n").encode())
            try:
                return self.wait_for(marker, min(every, max(0.1, deadline - time.monotonic())),
                                     line=True)
            except TimeoutError:
                if time.monotonic() >= deadline:
                    raise

    def close(self) -> None:
        self._stop = True
        try:
            self.stream.abort()
        except self._libvirt.libvirtError:
            pass
