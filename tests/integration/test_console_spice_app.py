"""The SPICE console as the user meets it, on real guests with SPICE graphics and QXL
video under qemu:///system: the Console tab's pane shows the guest's screen (equal to
`virsh screenshot`) and types into it, comes back after the VM was off; a VM with both
VNC and SPICE lets the user switch; `hvconsole spice://… --screenshot` and a .vv file
write the guest's screen; tickets right, wrong and asked for; a qemu+ssh:// VM's SPICE
console through one ssh per channel."""
from __future__ import annotations

import asyncio
import os
import random
import re
import subprocess
import sys

import pytest

from connectors.console.state import ConsoleState
from tests.conftest import wait_until
from tests.integration.guest import REPO, serial_size, wait_for_serial
from tests.integration.test_console_vnc import matches_screenshot, virsh_screenshot

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.own_guests]

TICKET = "sp1ce-t1cket"


def graphics_port(guest, kind: str) -> int:
    match = re.search(rf"<graphics type='{kind}' port='(\d+)'", guest.domain.XMLDesc(0))
    assert match, f"the running guest has no {kind} port"
    return int(match.group(1))


def spice_guest(guest_factory, suffix: str, *, with_vnc: bool = False, **options):
    """A booted persistent guest with SPICE graphics and QXL video (and VNC after it)."""
    guest = guest_factory(suffix, graphics="spice", video="qxl", **options)
    if with_vnc:
        xml = guest.domain.XMLDesc(0)
        vnc = ("<graphics type='vnc' autoport='yes' listen='127.0.0.1'>"
               "<listen type='address' address='127.0.0.1'/></graphics>")
        xml = xml.replace("</graphics>", "</graphics>" + vnc, 1)
        guest.domain = guest.domain.connect().defineXML(xml)
    guest.start()
    guest.wait_ready()
    return guest


class Stack:
    """The app's ConnectionManager on qemu:///system, and one VM's console session."""

    def __init__(self, aloop, uri: str, guest) -> None:
        from tests.integration.app_stack import AppStack
        self.aloop, self.app = aloop, AppStack()
        self.conn_id = aloop.run_until_complete(self.app.open(uri))
        self.key = guest.domain.UUIDString()
        aloop.run_until_complete(wait_until(
            lambda: self.app.manager.host(self.conn_id).vm(self.key) is not None, 30))

    def session(self, **options):
        from app.console_openers import vm_opener
        from app.console_session import ConsoleSession
        return ConsoleSession(vm_opener(self.app.manager, self.conn_id, self.key, **options),
                              title="spice guest")

    def run(self, coro, timeout: float = 90):
        return self.aloop.run_until_complete(asyncio.wait_for(coro, timeout))

    def close(self) -> None:
        self.aloop.run_until_complete(self.app.close())


def live(session) -> bool:
    return session.connected and session.client.frames > 0


def test_console_pane_shows_and_types_into_a_spice_guest(aloop, qtbot, guest_factory,
                                                         libvirt_uri, tmp_path):
    from PySide6.QtGui import QGuiApplication

    from connectors.console.spice.client import SpiceClient
    from tests.widgets.test_console_spice_pane import shown_pane
    from widgets.console.pane import save_png

    guest = spice_guest(guest_factory, "spicetab")
    stack = Stack(aloop, libvirt_uri, guest)
    session = stack.session()
    pane = shown_pane(qtbot, session, (900, 600))
    session.keep_connected()
    try:
        stack.run(wait_until(lambda: live(session), 60))
        assert isinstance(session.client, SpiceClient)
        assert not session.opener.route.spice_fd_refused, "every channel through libvirt's socket"
        assert session.protocol == "spice" and not pane.protocol_action.isVisible()
        assert pane.stack.currentWidget() is pane.scroller
        matched, differing = stack.run(matches_screenshot(session.client, libvirt_uri,
                                                          guest.name))
        assert matched, f"{differing} pixels differ from virsh screenshot"
        # The busybox guest has no SPICE agent: the pane says what one would add.
        assert pane.agent_label.isVisibleTo(pane)
        assert pane.agent_label.text() == "No guest agent"
        # "Type clipboard": the clipboard's text typed as keystrokes on the inputs channel.
        marker = f"hv-{random.randrange(10**6, 10**7)}"
        after = serial_size(guest.serial_log)
        QGuiApplication.clipboard().setText(f"echo {marker} > /dev/ttyS0\n")
        pane.paste_clipboard()
        stack.run(asyncio.to_thread(wait_for_serial, guest.serial_log, marker, 60,
                                    after=after))
        assert save_png(session, str(tmp_path / "shot.png"))
        # The QEMU process ends (its SPICE server with it), then starts again.
        guest.domain.destroy()
        stack.run(wait_until(lambda: session.status.state is ConsoleState.VM_NOT_RUNNING, 30))
        assert pane.overlay.start_button.isVisibleTo(pane)
        guest.start()
        stack.run(wait_until(lambda: live(session), 90))
    finally:
        stack.run(session.stop())
        stack.close()


def test_a_vm_with_both_displays_lets_the_user_switch(aloop, qtbot, guest_factory,
                                                      libvirt_uri):
    from connectors.console.rfb.client import RfbClient
    from connectors.console.spice.client import SpiceClient
    from tests.widgets.test_console_spice_pane import pane_recording_choices

    guest = spice_guest(guest_factory, "spiceboth", with_vnc=True)
    stack = Stack(aloop, libvirt_uri, guest)
    session = stack.session()
    pane, chosen = pane_recording_choices(qtbot, session)
    session.keep_connected()
    try:
        stack.run(wait_until(lambda: live(session), 60))
        assert isinstance(session.client, SpiceClient)        # the first display
        states: list[ConsoleState] = []
        session.statusChanged.connect(lambda status: states.append(status.state))
        assert pane.protocol_action.isVisible()
        assert pane.protocol_names() == ["SPICE", "VNC"]
        pane.protocol_menu.actions()[1].trigger()           # the user picks VNC
        stack.run(wait_until(lambda: live(session) and isinstance(session.client, RfbClient),
                             60))
        assert chosen == ["vnc"] and pane.protocol_action.text() == "Display: VNC"
        assert states == [ConsoleState.CONNECTING, ConsoleState.CONNECTED], states
        pane.choose_protocol("spice")
        stack.run(wait_until(lambda: live(session)
                             and isinstance(session.client, SpiceClient), 60))
        shot = virsh_screenshot(libvirt_uri, guest.name)
        fb = session.client.framebuffer
        assert (fb.width, fb.height) == (shot.shape[1], shot.shape[0])
    finally:
        stack.run(session.stop())
        stack.close()


def hvconsole(*args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    """The real command line, in its own process (no display needed for --screenshot)."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_standalone_screenshot_of_a_spice_address_and_a_vv_file(guest_factory, libvirt_uri,
                                                                tmp_path):
    from PIL import Image

    guest = spice_guest(guest_factory, "spiceshot", vnc_password=TICKET)
    port = graphics_port(guest, "spice")
    out = tmp_path / "uri.png"
    done = hvconsole(f"spice://127.0.0.1?port={port}&password={TICKET}",
                     "--screenshot", str(out))
    assert done.returncode == 0, done.stderr
    shot = virsh_screenshot(libvirt_uri, guest.name)
    assert Image.open(out).size == (shot.shape[1], shot.shape[0])

    vv = tmp_path / "guest.vv"
    vv.write_text(f"[virt-viewer]\ntype=spice\nhost=127.0.0.1\nport={port}\n"
                  f"password={TICKET}\ntitle=spice guest\n")
    done = hvconsole(str(vv), "--screenshot", str(tmp_path / "vv.png"))
    assert done.returncode == 0, done.stderr
    assert Image.open(tmp_path / "vv.png").size == (shot.shape[1], shot.shape[0])

    done = hvconsole(f"spice://127.0.0.1:{port}", "--screenshot", str(tmp_path / "no.png"))
    assert done.returncode == 1
    assert "refused the password" in done.stderr, done.stderr
    assert not (tmp_path / "no.png").exists()


def test_spice_ticket_wrong_then_asked_and_remembered(aloop, guest_factory, tmp_path):
    """A standalone SPICE address: no ticket known, so the empty one is refused and the
    user is asked; a wrong answer is a clear refusal; the right one, ticked "Remember
    password", is kept in the vault and used next time without asking."""
    from app.console_openers import address_opener
    from app.console_session import ConsoleSession
    from app.console_passwords import PasswordAnswer
    from app.vault import EncryptedFileVault
    from connectors.console.address import ConsoleAddress

    guest = spice_guest(guest_factory, "spiceticket", vnc_password=TICKET)
    address = ConsoleAddress("spice", "127.0.0.1", graphics_port(guest, "spice"))
    vault = EncryptedFileVault(tmp_path / "secrets.cfg", time_cost=1)
    vault.unlock("file password")
    answers = [PasswordAnswer("wrong-one"), PasswordAnswer(TICKET, remember=True)]
    asked: list[str] = []

    async def prompt(what: str):
        asked.append(what)
        return answers.pop(0) if answers else None

    async def go():
        session = ConsoleSession(address_opener(address, prompt, vault=vault), "t")
        session.keep_connected()
        try:
            await wait_until(lambda: session.status.state is ConsoleState.DISCONNECTED
                             and "refused the password" in session.status.reason, 60)
            session.reconnect_at_user_request()                  # the overlay's Reconnect: asked again
            await wait_until(lambda: live(session), 60)
        finally:
            await session.stop()
        again = ConsoleSession(address_opener(address, None, vault=vault), "t")
        again.keep_connected()
        try:
            await wait_until(lambda: live(again), 60)
        finally:
            await again.stop()

    aloop.run_until_complete(asyncio.wait_for(go(), 180))
    assert len(asked) == 2
    assert vault.get(f"spice:127.0.0.1:{address.port}") == TICKET


def test_a_spice_console_through_the_ssh_tunnel(sshd, ssh_uri, trusted, guest_factory, aloop):
    """A VM on a qemu+ssh:// host: its SPICE server listens on the host's loopback only;
    every channel (main, display, inputs, cursor) travels in an ssh of its own, with the
    URI's user, port and key, and the guest's screen arrives."""
    from app.console_openers import VmOpener
    from app.console_session import ConsoleSession
    from connectors.libvirt.host import LibvirtHost
    from connectors.libvirt.model import ConnectionSettings

    guest = spice_guest(guest_factory, "sshspice")
    host = LibvirtHost(ssh_uri, lambda _e: None, settings=ConnectionSettings(call_timeout_s=20))

    class Manager:
        def host(self, conn_id):
            return host

    async def scenario():
        await host.connect()
        session = None
        try:
            key = guest.domain.UUIDString()
            await wait_until(lambda: host.vm(key) is not None
                             and (host.vm(key).graphics[0].port or 0) > 0, 30)
            session = ConsoleSession(VmOpener(Manager(), "ssh", key), "over ssh")
            session.keep_connected()
            await wait_until(lambda: live(session), 60)
            return sorted(session.client.channels), session.client.transport.argv
        finally:
            if session is not None:
                await session.stop()
            await host.disconnect()

    channels, argv = aloop.run_until_complete(asyncio.wait_for(scenario(), 120))
    assert channels == ["cursor", "display", "inputs", "main"]
    assert argv[0] == "ssh" and str(sshd.client_key) in argv and "-W" in argv
