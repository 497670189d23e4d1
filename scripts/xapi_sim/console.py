"""The VM console as xapi offers it: a console object's location is
``https://HOST/console?ref=OpaqueRef:...``; the client sends ``CONNECT
/console?ref=...&session_id=... HTTP/1.0``, gets ``HTTP/1.1 200 OK`` and then speaks RFB
on the same TLS stream.

Behind it: a real guest's own VNC server when the VM is bound to a libvirt domain (the
bytes are relayed untouched, so the client sees the guest's screen pixel for pixel), or
otherwise a small RFB server of the simulator's own (synthetic_rfb.py) showing the VM's
name and echoing typed keys, so a console client can be tested without a guest."""
from __future__ import annotations

import select
import socket
import ssl
from typing import TYPE_CHECKING, Callable

from .store import Store
from .synthetic_rfb import SyntheticScreen, serve_rfb

if TYPE_CHECKING:
    from .server import RequestHandler

VncAddress = Callable[[str], "tuple[str, int] | None"]


def relay(client: socket.socket, server: socket.socket, idle: float = 3600.0) -> None:
    """Copy bytes both ways until either side closes; one thread (an SSL socket must not
    be read and written from two threads at once)."""
    pair = {client: server, server: client}
    while True:
        ready: list[socket.socket]
        if isinstance(client, ssl.SSLSocket) and client.pending():
            ready = [client]
        else:
            ready, _, _ = select.select(list(pair), [], [], idle)
            if not ready:
                return
        for sock in ready:
            data = sock.recv(65536)
            if not data:
                return
            pair[sock].sendall(data)


class Consoles:
    def __init__(self, store: Store, vnc_address: VncAddress | None = None) -> None:
        self.store = store
        self.vnc_address = vnc_address

    def get(self, request: "RequestHandler", path: str, query: dict[str, str]) -> bool:
        return False

    def connect(self, request: "RequestHandler", path: str, query: dict[str, str]) -> bool:
        if path != "/console":
            return False
        if not request.session_ok(query):
            return True
        store = self.store
        with store.lock:
            ref = query.get("ref", "")
            if not ref and query.get("uuid"):
                found = store.by_uuid.get(query["uuid"])
                ref = found[1] if found and found[0] == "console" else ""
            console = store.table("console").get(ref)
            vm = store.table("VM").get(str(console.get("VM"))) if console else None
            if console is None or vm is None:
                request.reply(404, b"no such console\n")
                return True
            vm_ref = str(console["VM"])
            live = vm.get("power_state") in ("Running", "Paused")
            name = str(vm.get("name_label", ""))
        if not live:
            request.reply(404, b"the VM is not running\n")
            return True
        target = self.vnc_address(vm_ref) if self.vnc_address else None
        if target is not None:
            try:
                upstream = socket.create_connection(target, timeout=10)
            except OSError:
                request.reply(503, b"the guest's VNC server does not answer\n")
                return True
            with upstream:
                upstream.settimeout(None)
                self._ok(request)
                relay(request.connection, upstream)
            return True
        self._ok(request)
        serve_rfb(request.connection, SyntheticScreen(name, lambda: self._state(vm_ref)))
        return True

    def _state(self, vm_ref: str) -> str:
        vm = self.store.table("VM").get(vm_ref)
        return str(vm.get("power_state")) if vm else "Halted"

    @staticmethod
    def _ok(request: "RequestHandler") -> None:
        request.wfile.write(b"HTTP/1.1 200 OK\r\n\r\n")
        request.wfile.flush()
