"""The console of a simulated VM that has no real guest: CONNECT /console?ref=… with the
session gets "HTTP/1.1 200 OK" and then RFB; the screen is the simulator's own (the VM's
name and typed keys), checked pixel for pixel against the same screen drawn here. Wrong
sessions and unknown consoles are refused before any RFB."""
from __future__ import annotations

from urllib.parse import urlsplit

import numpy as np
import pytest

from tests.xapi_sim_console import RfbPeek, connect_console
from tests.xapi_sim_helpers import JsonRpc, running_simulator
from xapi_sim.synthetic_rfb import SyntheticScreen


@pytest.fixture(scope="module")
def pool():
    with running_simulator(hosts=1, vms=4) as running:
        running.client = JsonRpc(running.address)
        running.session = running.login(running.client)
        yield running


def console_path(pool, vm_name: str) -> str:
    vm = pool.vm(vm_name)
    (console,) = pool.client.call("VM.get_consoles", pool.session, vm)["result"]
    location = pool.client.call("console.get_location", pool.session, console)["result"]
    parts = urlsplit(location)
    assert parts.scheme == "https" and parts.netloc == pool.address
    return f"{parts.path}?{parts.query}"


def expected(name: str, typed: str = "") -> np.ndarray:
    screen = SyntheticScreen(name, lambda: "Running")
    screen.typed = typed
    screen.render()
    return screen.pixels


def test_the_console_shows_the_vm_and_echoes_keys(pool) -> None:
    sock, status = connect_console(pool.address, console_path(pool, "vm-0001"), pool.session)
    with sock:
        assert status == "HTTP/1.1 200 OK"
        rfb = RfbPeek(sock)
        assert rfb.name == "vm-0001"
        rfb.update()
        assert np.array_equal(rfb.frame, expected("vm-0001"))
        for key in b"hi":
            rfb.key(key)
        while not np.array_equal(rfb.frame, expected("vm-0001", "hi")):
            assert rfb.update(incremental=True) >= 1


def test_no_console_without_a_valid_session_or_console(pool) -> None:
    path = console_path(pool, "vm-0002")
    sock, status = connect_console(pool.address, path, "OpaqueRef:not-a-session")
    sock.close()
    assert status.startswith("HTTP/1.1 401")
    sock, status = connect_console(pool.address, "/console?ref=OpaqueRef:nothing",
                                   pool.session)
    sock.close()
    assert status.startswith("HTTP/1.1 404")
