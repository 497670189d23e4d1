"""What someone else does to a host shows up in HVConsole, driven by libvirt's events.

virsh, run in a separate process as an admin would in a terminal, defines, starts, stops and
undefines a test guest under the real libvirtd; the tree follows without any re-listing.
"""
from __future__ import annotations

import subprocess
import tempfile
import time
import uuid

import pytest

from connectors.libvirt.model import ConnState, VMState
from tests.conftest import wait_until
from tests.integration.app_stack import AppStack
from tests.integration.conftest import PREFIX
from tests.integration.guest import guest_xml, serial_log_path

pytestmark = [pytest.mark.integration]

# libvirt delivers events in milliseconds; the generous bound only keeps a busy CI machine
# from failing the test. The measured latency is printed for the record.
EVENT_BOUND_S = 5.0


def virsh(uri: str, *args: str) -> None:
    subprocess.run(["virsh", "-q", "-c", uri, *args], check=True, capture_output=True,
                   timeout=60)


def _latency(aloop, stack, predicate) -> float:
    start = time.monotonic()
    aloop.run_until_complete(wait_until(predicate, EVENT_BOUND_S))
    return time.monotonic() - start


def test_virsh_changes_reach_the_tree(qapp, aloop, libvirt_uri, test_guest_files):
    stack = AppStack()
    conn_id = aloop.run_until_complete(stack.open(libvirt_uri))
    name = f"{PREFIX}live-{uuid.uuid4().hex[:6]}"
    try:
        aloop.run_until_complete(wait_until(
            lambda: stack.host_state(conn_id) is ConnState.CONNECTED, 20))
        listing = stack.manager.host(conn_id).vms()
        assert all(not vm.name == name for vm in listing)

        xml = guest_xml(name, accel=test_guest_files.accel, kernel=test_guest_files.kernel,
                        initrd=test_guest_files.initrd, serial_log=serial_log_path(name))
        with tempfile.NamedTemporaryFile("w", suffix=".xml") as f:
            f.write(xml)
            f.flush()
            virsh(libvirt_uri, "define", f.name)
        took = {"define": _latency(aloop, stack, lambda: stack.vm_node(name) is not None)}
        assert stack.vm_state(name) is VMState.SHUTOFF

        virsh(libvirt_uri, "start", name)
        took["start"] = _latency(aloop, stack, lambda: stack.vm_state(name) is VMState.RUNNING)
        node = stack.vm_node(name)
        assert node.obj.dom_id is not None
        assert node.obj.virtualization  # a human label, "Hardware-assisted ..." / "Emulated ..."
        # the commands follow the new state without the user re-selecting
        stack.commands.set_selection([node])
        assert stack.commands.force_shutdown.action.isEnabled()
        assert not stack.commands.start.action.isEnabled()

        virsh(libvirt_uri, "suspend", name)
        took["suspend"] = _latency(aloop, stack, lambda: stack.vm_state(name) is VMState.PAUSED)
        aloop.run_until_complete(wait_until(lambda: stack.commands.resume.action.isEnabled()))

        virsh(libvirt_uri, "destroy", name)
        took["destroy"] = _latency(aloop, stack,
                                   lambda: stack.vm_state(name) is VMState.SHUTOFF)
        aloop.run_until_complete(wait_until(lambda: stack.commands.start.action.isEnabled()))

        virsh(libvirt_uri, "undefine", name)
        took["undefine"] = _latency(aloop, stack, lambda: stack.vm_node(name) is None)
        print("event-to-tree latency (s):", {k: round(v, 3) for k, v in took.items()})
        # Events log tells the story in words.
        text = "\n".join(stack.messages())
        assert name in text
    finally:
        subprocess.run(["virsh", "-q", "-c", libvirt_uri, "destroy", name],
                       capture_output=True)
        subprocess.run(["virsh", "-q", "-c", libvirt_uri, "undefine", name],
                       capture_output=True)
        aloop.run_until_complete(stack.close())
