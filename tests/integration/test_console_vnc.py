"""The VNC console against QEMU's real VNC server, through TCP and through the socket
libvirt hands over (virDomainOpenGraphicsFD): pixels equal to `virsh screenshot`,
keys typed through QEMU's extended key event reach the guest's shell, passwords, and
a session that comes back after the guest's QEMU process ends and starts again."""
from __future__ import annotations

import asyncio
import io
import random
import re
import subprocess
from typing import Callable

import numpy as np
import pytest

from connectors.console.client import ConsoleClient
from connectors.console.rfb.client import RfbClient
from connectors.console.state import AuthenticationError, ConsoleState
from connectors.console.transport import SocketTransport, TcpTransport
from tests.integration.guest import serial_size, wait_for_serial

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.own_guests]


def vnc_port(guest) -> int:
    match = re.search(r"<graphics type='vnc' port='(\d+)'", guest.domain.XMLDesc(0))
    assert match, "the running guest has no VNC port"
    return int(match.group(1))


def virsh_screenshot(uri: str, name: str) -> np.ndarray:
    from PIL import Image
    done = subprocess.run(["virsh", "-c", uri, "screenshot", name, "/dev/stdout"],
                          capture_output=True, check=True)
    data = done.stdout
    start = data.find(b"\x89PNG")
    if start < 0:  # older QEMU: PPM
        start = data.find(b"P6")
    return np.asarray(Image.open(io.BytesIO(data[start:])).convert("RGB"))


async def run_in_background(client: RfbClient) -> asyncio.Task:
    await asyncio.wait_for(client.connect(), 20)
    task = asyncio.ensure_future(client.run())
    deadline = asyncio.get_running_loop().time() + 20
    while client.frames < 1:
        assert not task.done(), task
        assert asyncio.get_running_loop().time() < deadline, "no first frame"
        await asyncio.sleep(0.02)
    return task


async def matches_screenshot(client: ConsoleClient, uri: str, name: str,
                             attempts: int = 25, settle: float = 0.15,
                             picture: Callable[[], np.ndarray] | None = None,
                             expected: Callable[[np.ndarray], np.ndarray] | None = None
                             ) -> tuple[bool, int]:
    """The text cursor blinks, so the screen changes a few times a second: take the
    server's screenshot and compare it with every screen the client showed from just
    before it until ``settle`` after it (a blink between the two would otherwise fail the
    comparison on every try when the tries fall in step with the blinking); try again
    when none matched. A pixel the client decodes wrongly never matches. ``picture`` is
    what is compared (H x W x 3 RGB): the client's framebuffer unless given (the pixels a
    window shows, for instance); ``expected`` turns the server's screenshot into what
    that picture should be (scaled to a window's size, for instance). Returns (matched,
    differing pixels of the closest screen of the last try)."""
    differing = -1
    previous = client.on_update
    seen: list = []
    if picture is None:
        def picture() -> np.ndarray:
            return client.framebuffer.rgb()

    def keep() -> None:
        seen.append(picture())
        previous()
    client.on_update = keep
    try:
        for _ in range(attempts):
            seen[:] = [picture()]
            shot = await asyncio.to_thread(virsh_screenshot, uri, name)
            if expected is not None:
                shot = expected(shot)
            await asyncio.sleep(settle)
            seen.append(picture())
            counts = [int((shot != mine).any(axis=2).sum()) for mine in seen
                      if mine.shape == shot.shape]
            if not counts:
                differing = -2
                continue
            differing = min(counts)
            if differing == 0:
                return True, 0
    finally:
        client.on_update = previous
    return False, differing


async def stop(client: ConsoleClient, task: asyncio.Task) -> None:
    client.close()
    try:
        await asyncio.wait_for(task, 5)
    except Exception:  # noqa: BLE001 - closing ends run() one way or another
        pass


def test_each_lossless_encoding_equals_virsh_screenshot_over_tcp(booted_guest, libvirt_uri):
    port = vnc_port(booted_guest)

    async def check(encoding: str):
        client = RfbClient(TcpTransport("127.0.0.1", port), encodings=(encoding,))
        task = await run_in_background(client)
        try:
            assert client.has_scancodes, "QEMU offers the extended key event"
            return await matches_screenshot(client, libvirt_uri, booted_guest.name)
        finally:
            await stop(client, task)

    for encoding in ("raw", "hextile", "zrle", "tight"):
        matched, differing = asyncio.run(check(encoding))
        assert matched, f"{encoding}: {differing} pixels differ from virsh screenshot"


def graphics_fd_transport(guest) -> SocketTransport:
    import libvirt

    async def get_fd() -> int:
        return await asyncio.to_thread(guest.domain.openGraphicsFD, 0,
                                       libvirt.VIR_DOMAIN_OPEN_GRAPHICS_SKIPAUTH)
    return SocketTransport(get_fd, guest.name)


def test_typing_through_libvirts_socket_reaches_the_guest(booted_guest, libvirt_uri):
    marker = f"hv-{random.randrange(10**6, 10**7)}"

    async def go():
        client = RfbClient(graphics_fd_transport(booted_guest), encodings=("zrle",))
        task = await run_in_background(client)
        try:
            assert client.has_scancodes
            after = serial_size(booted_guest.serial_log)
            client.type_text(f"echo {marker} > /dev/ttyS0\n")
            await asyncio.to_thread(wait_for_serial, booted_guest.serial_log, marker, 30,
                                    after=after)
            return await matches_screenshot(client, libvirt_uri, booted_guest.name)
        finally:
            await stop(client, task)

    matched, differing = asyncio.run(go())
    assert matched, f"{differing} pixels differ from virsh screenshot after typing"


def test_vnc_password_right_and_wrong(guest_factory, libvirt_uri):
    guest = guest_factory("vncpw", start=True, vnc_password="s3cr3tpw")
    guest.wait_ready()
    port = vnc_port(guest)

    def client_with(password):
        async def source():
            return password
        return RfbClient(TcpTransport("127.0.0.1", port), password=source)

    async def wrong():
        client = client_with("wrong")
        with pytest.raises(AuthenticationError) as err:
            await client.connect()
        assert err.value.needs_password

    async def right():
        client = client_with("s3cr3tpw")
        task = await run_in_background(client)
        await stop(client, task)
        return client.frames

    asyncio.run(wrong())
    assert asyncio.run(right()) >= 1


def test_password_is_read_from_the_secure_domain_xml(guest_factory):
    import libvirt

    from connectors.libvirt import domxml
    guest = guest_factory("vncxml", vnc_password="from-xml")
    secure = domxml.parse(guest.domain.XMLDesc(libvirt.VIR_DOMAIN_XML_SECURE))
    assert domxml.graphics_password(secure, 0) == "from-xml"
    assert domxml.graphics_password(domxml.parse(guest.domain.XMLDesc(0)), 0) is None


def test_session_follows_the_vm_off_and_on_again(aloop, booted_guest, libvirt_uri):
    """The Console tab's session: connected; the QEMU process ends (its VNC server closes
    mid-stream) -> not running; started again -> connected by itself, with a picture."""
    from app.console_openers import vm_opener
    from app.console_session import ConsoleSession
    from tests.conftest import wait_until
    from tests.integration.app_stack import AppStack

    stack = AppStack()

    async def go():
        conn_id = await stack.open(libvirt_uri)
        key = booted_guest.domain.UUIDString()
        await wait_until(lambda: stack.manager.host(conn_id).vm(key) is not None, 30)
        session = ConsoleSession(vm_opener(stack.manager, conn_id, key), title="t")
        seen = []
        session.statusChanged.connect(lambda s: seen.append(s.state))
        session.keep_connected()
        try:
            await wait_until(lambda: session.connected and session.client.frames > 0, 30)
            booted_guest.domain.destroy()
            await wait_until(lambda: session.status.state is ConsoleState.VM_NOT_RUNNING, 30)
            booted_guest.start()
            await wait_until(lambda: session.connected and session.client.frames > 0, 60)
        finally:
            await session.stop()
            await stack.close()
        return seen

    seen = aloop.run_until_complete(go())
    assert seen.count(ConsoleState.CONNECTED) >= 2, seen
    assert ConsoleState.VM_NOT_RUNNING in seen, seen
