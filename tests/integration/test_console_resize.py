"""A real guest changes its screen size while the console is open: the test guest boots
on the VGA text console (720x400); typing the commands that load the bochs DRM driver
switches it to a graphics mode. QEMU's VNC server then sends a DesktopSize (or
ExtendedDesktopSize) rectangle; the client's framebuffer, the Console view's geometry
and the pixels must all follow, and still equal `virsh screenshot`."""
from __future__ import annotations

import asyncio
import random

import pytest

from tests.integration.guest import serial_size, wait_for_serial
from tests.integration.test_console_vnc import matches_screenshot

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.own_guests]

TEXT_MODE = (720, 400)


def test_console_follows_the_guest_switching_to_a_graphics_mode(
        aloop, qtbot, booted_guest, libvirt_uri):
    from app.console_openers import vm_opener
    from app.console_session import ConsoleSession
    from tests.conftest import wait_until
    from tests.integration.app_stack import AppStack
    from widgets.console.view import ConsoleView

    marker = f"hv-fb-{random.randrange(10**6, 10**7)}"
    stack = AppStack()
    sizes: list[tuple[int, int]] = []

    async def go():
        conn_id = await stack.open(libvirt_uri)
        key = booted_guest.domain.UUIDString()
        await wait_until(lambda: stack.manager.host(conn_id).vm(key) is not None, 30)
        session = ConsoleSession(vm_opener(stack.manager, conn_id, key), title="resize")
        session.resized.connect(lambda w, h: sizes.append((w, h)))
        view = ConsoleView(session)
        qtbot.addWidget(view)
        view.set_fit(False)
        session.keep_connected()
        try:
            await wait_until(lambda: session.connected and session.client.frames > 0, 30)
            fb = session.client.framebuffer
            assert (fb.width, fb.height) == TEXT_MODE
            assert (view.sizeHint().width(), view.sizeHint().height()) == TEXT_MODE
            await wait_until(lambda: session.client.has_scancodes, 10)

            after = serial_size(booted_guest.serial_log)
            session.client.type_text(
                "for m in $(cat /lib/modules/fb/order); do insmod /lib/modules/fb/$m.ko;"
                f" done; echo {marker} > /dev/ttyS0\n")
            await asyncio.to_thread(wait_for_serial, booted_guest.serial_log, marker, 60,
                                    after=after)
            await wait_until(lambda: (fb.width, fb.height) != TEXT_MODE, 30)
            new_size = (fb.width, fb.height)
            assert new_size[0] > TEXT_MODE[0] and new_size[1] > TEXT_MODE[1], new_size
            assert sizes[-1] == new_size
            hint = view.sizeHint()
            assert (hint.width(), hint.height()) == new_size
            assert (view.width(), view.height()) == new_size  # 1:1 mode: fixed to the screen
            assert view.image().size().width() == new_size[0]
            # The picture after the switch is complete and right, not just re-sized.
            return await matches_screenshot(session.client, libvirt_uri, booted_guest.name)
        finally:
            await session.stop()
            await stack.close()

    matched, differing = aloop.run_until_complete(go())
    assert matched, f"{differing} pixels differ from virsh screenshot after the mode switch"

