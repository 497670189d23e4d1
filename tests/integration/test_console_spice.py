"""The SPICE console against QEMU's real SPICE server under libvirt: through the socket
libvirt hands over (one fresh fd per channel) and over TCP, with VGA, QXL and virtio
video; pixels equal to `virsh screenshot`; keys typed through the inputs channel reach
the guest's shell; Caps Lock set and reported both ways; tickets right and wrong; the
server going away mid-stream, the VM coming back, and the guest switching to a graphics
mode of another size."""
from __future__ import annotations

import asyncio
import random
import re
import sys

import pytest

from connectors.console import keymap
from connectors.console.spice.client import SpiceClient
from connectors.console.state import AuthenticationError, ConsoleError
from connectors.console.transport import CommandTransport, TcpTransport
from tests.integration.guest import serial_size, wait_for_serial
# The screen comparison, the libvirt-socket transport and stopping a client are the same
# for both protocols.
from tests.integration.test_console_vnc import (graphics_fd_transport, matches_screenshot,
                                                stop)

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.own_guests]

TEXT_MODE = (720, 400)
CAPS_LOCK = 4   # ConsoleClient.leds: bit 0 scroll, 1 num, 2 caps lock


def spice_port(guest) -> int:
    match = re.search(r"<graphics type='spice' port='(\d+)'", guest.domain.XMLDesc(0))
    assert match, "the running guest has no SPICE port"
    return int(match.group(1))


def fixed(password: str | None):
    async def source():
        return password
    return source


async def until(condition, timeout: float, what: str, task: asyncio.Task | None = None):
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if task is not None and task.done():
            task.result()   # raises why the client stopped
            raise AssertionError(f"the client stopped before {what}")
        assert asyncio.get_running_loop().time() < deadline, f"no {what} within {timeout} s"
        await asyncio.sleep(0.05)


async def running(client: SpiceClient) -> asyncio.Task:
    await asyncio.wait_for(client.connect(), 30)
    task = asyncio.ensure_future(client.run())
    if client.display is not None:
        await until(lambda: client.frames > 0 and client.framebuffer.width > 1, 30,
                    "first frame", task)
    return task


def test_typing_and_screen_through_libvirts_socket_the_vm_ending_and_back(
        guest_factory, libvirt_uri):
    """VGA video; every channel on its own fd from virDomainOpenGraphicsFD. Then the VM
    ends mid-stream, starts again, and changes its screen size."""
    guest = guest_factory("spicefd", start=True, graphics="spice", video="vga")
    guest.wait_ready()
    marker = f"hv-{random.randrange(10**6, 10**7)}"

    async def go():
        client = SpiceClient(graphics_fd_transport(guest))
        task = await running(client)
        try:
            assert set(client.channels) >= {"main", "display", "inputs"}
            after = serial_size(guest.serial_log)
            client.type_text(f"echo {marker} > /dev/ttyS0\n")
            await asyncio.to_thread(wait_for_serial, guest.serial_log, marker, 60, after=after)
            matched = await matches_screenshot(client, libvirt_uri, guest.name, settle=0.3)
            # Lock keys both ways: the guest's kernel lights Caps Lock, QEMU reports it.
            await until(lambda: client.leds is not None, 10, "keyboard LEDs", task)
            client.send_lock_keys(CAPS_LOCK)
            await until(lambda: client.leds & CAPS_LOCK, 30, "Caps Lock on", task)
            client.send_combo([(keymap.SC_CAPS_LOCK, keymap.XK_CAPS_LOCK)])
            await until(lambda: not client.leds & CAPS_LOCK, 30, "Caps Lock off", task)
            # The VM's QEMU process ends: run() ends with a sentence, not a hang.
            await asyncio.to_thread(guest.domain.destroy)
            with pytest.raises(ConsoleError, match="SPICE server"):
                await asyncio.wait_for(task, 30)
            return matched
        finally:
            await stop(client, task)

    matched, differing = asyncio.run(go())
    assert matched, f"{differing} pixels differ from virsh screenshot after typing"

    # Started again: a new client through the same transport (fresh fds) shows it, and
    # follows the guest switching from the 720x400 text mode to a graphics mode.
    guest.start()
    guest.wait_ready()
    fb_marker = f"hv-fb-{random.randrange(10**6, 10**7)}"

    async def again():
        client = SpiceClient(graphics_fd_transport(guest))
        sizes = []
        client.on_resize = lambda w, h: sizes.append((w, h))
        task = await running(client)
        try:
            fb = client.framebuffer
            assert (fb.width, fb.height) == TEXT_MODE
            after = serial_size(guest.serial_log)
            client.type_text("for m in $(cat /lib/modules/fb/order); do insmod "
                             f"/lib/modules/fb/$m.ko; done; echo {fb_marker} > /dev/ttyS0\n")
            await asyncio.to_thread(wait_for_serial, guest.serial_log, fb_marker, 60,
                                    after=after)
            await until(lambda: (client.framebuffer.width, client.framebuffer.height)
                        != TEXT_MODE, 30, "mode switch", task)
            fb = client.framebuffer
            assert fb.width > TEXT_MODE[0] and fb.height > TEXT_MODE[1], (fb.width, fb.height)
            assert sizes[-1] == (fb.width, fb.height)
            return await matches_screenshot(client, libvirt_uri, guest.name, settle=0.3)
        finally:
            await stop(client, task)

    matched, differing = asyncio.run(again())
    assert matched, f"{differing} pixels differ from virsh screenshot after the mode switch"


# What `ssh -W` does for a remote host, as a local process: stdin/stdout to a TCP port.
RELAY = """
import os, socket, sys, threading
server = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
def upstream():
    while data := os.read(0, 65536):
        server.sendall(data)
    server.shutdown(socket.SHUT_WR)
threading.Thread(target=upstream, daemon=True).start()
while data := server.recv(65536):
    os.write(1, data)
"""


@pytest.mark.parametrize("video, through", [("qxl", "tcp"), ("virtio", "a relay process")])
def test_screen_equals_virsh_screenshot(guest_factory, libvirt_uri, video, through):
    """Over TCP, and through one relay process per channel (as SSH tunnels go)."""
    guest = guest_factory(f"spice{video}", start=True, graphics="spice", video=video)
    guest.wait_ready()
    port = spice_port(guest)
    if through == "tcp":
        transport = TcpTransport("127.0.0.1", port)
    else:
        transport = CommandTransport([sys.executable, "-c", RELAY, str(port)], "relay")

    async def go():
        client = SpiceClient(transport)
        task = await running(client)
        try:
            return await matches_screenshot(client, libvirt_uri, guest.name, settle=0.3)
        finally:
            await stop(client, task)

    matched, differing = asyncio.run(go())
    assert matched, f"{video} through {through}: {differing} pixels differ from virsh screenshot"


def test_ticket_right_and_wrong(guest_factory):
    guest = guest_factory("spicepw", start=True, graphics="spice", video="qxl",
                          vnc_password="s3cr3tpw")
    guest.wait_ready()
    port = spice_port(guest)

    async def attempt(password):
        client = SpiceClient(TcpTransport("127.0.0.1", port), password=fixed(password),
                             channels=("inputs",))
        try:
            await asyncio.wait_for(client.connect(), 30)
            return client.session_id
        finally:
            client.close()

    for wrong in (None, "wrong"):
        with pytest.raises(AuthenticationError, match="refused the password") as err:
            asyncio.run(attempt(wrong))
        assert err.value.needs_password
    assert asyncio.run(attempt("s3cr3tpw")) is not None
