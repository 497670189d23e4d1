"""scripts/xapi-simulator.py as its own process, as the connector's tests use it: it says
where it listens and its certificate's fingerprint (the one the TLS handshake shows), keeps
the certificate across a restart unless told to change it, and keeps the pool: a VM
started before a clean stop or a kill is still running after the restart, while the old
session is gone."""
from __future__ import annotations

import hashlib
import os
import signal
import socket
import time

from tests.xapi_sim_helpers import JsonRpc, insecure_context, start_process, statedb


def served_fingerprint(address: str) -> str:
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        with insecure_context().wrap_socket(raw, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True)
    return "SHA256:" + ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def login(address: str) -> tuple[JsonRpc, str]:
    client = JsonRpc(address)
    return client, client.call("session.login_with_password", "root", "xenroot")["result"]


def vm_state(address: str, name: str) -> str:
    client, session = login(address)
    vm = client.call("VM.get_by_name_label", session, name)["result"][0]
    return client.call("VM.get_power_state", session, vm)["result"]


def test_restarts_keep_the_certificate_and_the_pool(tmp_path) -> None:
    db, cert = tmp_path / "state.db", tmp_path / "cert.pem"
    first = start_process(db, "--generate-pool", "2,10", "--cert", str(cert))
    try:
        assert served_fingerprint(first.address) == first.fingerprint
        assert len(first.fingerprint.split(":")) == 33
        client, session = login(first.address)
        vm = client.call("VM.get_by_name_label", session, "vm-0006")["result"][0]
        assert client.call("VM.start", session, vm, False, False)["result"] == ""
        token = client.call("event.from", session, ["vm"], "", 1.0)["result"]["token"]
    finally:
        first.stop()
    second = start_process(db, "--cert", str(cert))
    try:
        assert second.fingerprint == first.fingerprint
        assert vm_state(second.address, "vm-0006") == "Running"
        reply = JsonRpc(second.address).call("VM.get_all", session)
        assert reply["error"]["message"] == "SESSION_INVALID"
        # an event.from token from before the restart is still in the past
        client, session = login(second.address)
        vm = client.call("VM.get_by_name_label", session, "vm-0009")["result"][0]
        client.call("VM.set_name_description", session, vm, "after the restart")
        batch = client.call("event.from", session, ["vm"], token, 5.0)["result"]
        changed = {e["ref"]: e["snapshot"] for e in batch["events"]}  # the restart's own too
        assert changed[vm]["name_description"] == "after the restart"
        # killed, not stopped: what it wrote after the change is what comes back
        client, session = login(second.address)
        vm = client.call("VM.get_by_name_label", session, "vm-0007")["result"][0]
        assert client.call("VM.start", session, vm, False, False)["result"] == ""
        while statedb.load(db).tables["VM"][vm]["power_state"] != "Running":
            time.sleep(0.2)  # written back a moment after the change
        os.kill(second.process.pid, signal.SIGKILL)
        second.process.wait()
    finally:
        if second.process.poll() is None:
            second.stop()
    third = start_process(db, "--cert", str(cert), "--new-cert")
    try:
        assert third.fingerprint != first.fingerprint
        assert served_fingerprint(third.address) == third.fingerprint
        assert vm_state(third.address, "vm-0007") == "Running"
    finally:
        third.stop()


def test_what_is_written_back_is_what_is_served(tmp_path) -> None:
    """Rows are written from a cache of their text: a changed row must be written anew."""
    from tests.xapi_sim_helpers import running_simulator
    db = tmp_path / "state.db"
    with running_simulator(hosts=2, vms=12, db_path=str(db)) as running:
        client, session = login(running.address)
        running.sim.save()
        vm = running.vm("vm-0006")
        assert client.call("VM.start", session, vm, False, False)["result"] == ""
        client.call("VM.set_name_label", session, vm, "renamed\twith spaces & <marks>")
        odd = running.vm("vm-0009")
        client.call("VM.set_name_description", session, odd, "bell \x07 in it")
        client.call("VM.destroy", session, running.vm("vm-0008"))
        running.sim.save()
        written = statedb.load(db)
        with running.sim.store.lock:
            served = {cls: rows for cls, rows in running.sim.db.tables.items()
                      if cls not in statedb.TRANSIENT}
            # XML cannot carry U+0007: the file says U+FFFD instead
            running.sim.db.tables["VM"][odd]["name_description"] = "bell \ufffd in it"
            assert {c: r for c, r in written.tables.items() if c in served} == served
        assert written.tables["VM"][vm]["name_label"] == "renamed\twith spaces & <marks>"
        assert written.tables["VM"][odd]["name_description"] == "bell \ufffd in it"
