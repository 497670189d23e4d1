"""A simulated XAPI VM backed by a real QEMU guest under the local libvirtd: Async.VM.start
boots the guest, its power state follows the real domain, /rrd_updates carries the
guest's own CPU figures, and the console CONNECT reaches the guest's VNC server (the
screen seen through the simulator equals libvirt's screenshot)."""
from __future__ import annotations

import http.client
import time
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import libvirt
import numpy as np
import pytest

from tests.integration.test_console_vnc import virsh_screenshot
from tests.xapi_sim_console import RfbPeek, connect_console
from tests.xapi_sim_helpers import JsonRpc, insecure_context, start_process

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def wait_task(client: JsonRpc, session: str, task: str, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        record = client.call("task.get_record", session, task)["result"]
        if record["status"] not in ("pending", "cancelling"):
            return record
        assert time.monotonic() < deadline, f"task still {record['status']}: {record}"
        time.sleep(0.2)


def test_a_vm_backed_by_a_real_guest(guest_factory, libvirt_uri, tmp_path) -> None:
    guest = guest_factory("xapi-sim")
    sim = start_process(tmp_path / "state.db", "--generate-pool", "1,10", "--op-seconds", "0.2",
                        "--libvirt-uri", libvirt_uri, "--bind-domain", f"vm-0006={guest.name}")
    try:
        client = JsonRpc(sim.address)
        session = client.call("session.login_with_password", "root", "xenroot")["result"]
        vm = client.call("VM.get_by_name_label", session, "vm-0006")["result"][0]
        assert client.call("VM.get_power_state", session, vm)["result"] == "Halted"

        task = client.call("Async.VM.start", session, vm, False, False)["result"]
        assert wait_task(client, session, task)["status"] == "success"
        assert guest.state() == libvirt.VIR_DOMAIN_RUNNING
        guest.wait_ready()

        # paused and resumed from outside the simulator: XAPI follows the real guest
        guest.domain.suspend()
        while client.call("VM.get_power_state", session, vm)["result"] != "Paused":
            time.sleep(0.1)
        guest.domain.resume()
        while client.call("VM.get_power_state", session, vm)["result"] != "Running":
            time.sleep(0.1)

        (console,) = client.call("VM.get_consoles", session, vm)["result"]
        parts = urlsplit(client.call("console.get_location", session, console)["result"])
        sock, status = connect_console(sim.address, f"{parts.path}?{parts.query}", session)
        with sock:
            assert status == "HTTP/1.1 200 OK"
            rfb = RfbPeek(sock)
            for _ in range(20):  # the text cursor blinks: a few tries to catch equal screens
                shot = virsh_screenshot(libvirt_uri, guest.name)
                rfb.update()
                if shot.shape == rfb.frame.shape and np.array_equal(shot, rfb.frame):
                    break
                time.sleep(0.1)
            else:
                raise AssertionError("the console through XAPI never equalled the guest's "
                                     "screenshot")

        vm_uuid = client.call("VM.get_uuid", session, vm)["result"]
        cpu = float("nan")
        while not cpu == cpu:  # the guest's own samples: the first rate needs two of them
            time.sleep(1.0)
            host, port = sim.address.rsplit(":", 1)
            conn = http.client.HTTPSConnection(host, int(port), context=insecure_context())
            conn.request("GET", f"/rrd_updates?session_id={session}&start="
                         f"{int(time.time()) - 60}&cf=AVERAGE&interval=5&vm_uuid={vm_uuid}")
            root = ET.fromstring(conn.getresponse().read())
            legend = [e.text for e in root.find("meta/legend")]
            column = legend.index(f"AVERAGE:vm:{vm_uuid}:cpu0")
            values = [float(row.findall("v")[column].text) for row in root.find("data")]
            cpu = next((v for v in values if v == v), float("nan"))
        assert 0.0 <= cpu <= 1.5

        assert client.call("VM.hard_shutdown", session, vm)["result"] == ""
        assert guest.state() == libvirt.VIR_DOMAIN_SHUTOFF
        assert client.call("VM.get_power_state", session, vm)["result"] == "Halted"
    finally:
        sim.stop()
