"""The console pane's SPICE parts offscreen: the VNC/SPICE choice for a VM with both
(shown only then, remembered per VM by the Console tab), the quiet label about the guest
agent, the guest's resolution following the pane and the clipboard shared both ways
while an agent runs, and the client's notices.

The agent tests use ``AgentClient``, a ConsoleClient standing in for a SPICE client whose
guest runs spice-vdagent: the test guest (busybox) has no agent, so no real one can run
here. The choice tests use the real VmOpener on the connector's records."""
from __future__ import annotations

import asyncio

import pytest
from PySide6.QtGui import QGuiApplication

from app.console_openers import VmOpener
from app.console_session import ConsoleOpener, ConsoleSession
from connectors.console.client import ConsoleClient
from connectors.console.state import ConsoleState
from tests.conftest import wait_until
from tests.unit.test_console_spice_app import SPICE, VNC, Host, Manager, vm


class AgentClient(ConsoleClient):
    def __init__(self, agent: bool) -> None:
        super().__init__()
        self.agent_connected = agent
        self.monitor_sizes: list[tuple[int, int]] = []
        self.clipboards: list[str] = []
        self._closed = asyncio.Event()

    async def connect(self) -> None:
        pass

    async def run(self) -> None:
        await self._closed.wait()

    def close(self) -> None:
        self._closed.set()

    def set_monitor_size(self, width: int, height: int) -> None:
        self.monitor_sizes.append((width, height))

    def send_clipboard(self, text: str) -> None:
        self.clipboards.append(text)

    def send_key(self, down, keysym, scancode=None) -> None:
        pass

    def send_pointer(self, buttons, x, y) -> None:
        pass


def shown_pane(qtbot, session, size: tuple[int, int] = (700, 500)):
    """A ConsolePane on ``session``, shown at ``size`` (closed with the test)."""
    from widgets.console.pane import ConsolePane
    pane = ConsolePane(session)
    qtbot.addWidget(pane)
    pane.resize(*size)
    pane.show()
    return pane


@pytest.fixture
def agent_pane(aloop, qtbot):
    """(pane, client): a pane on a connected session whose client has no agent yet."""
    client = AgentClient(agent=False)

    async def opener():
        return client

    session = ConsoleSession(opener, title="desk")
    pane = shown_pane(qtbot, session)
    qtbot.waitExposed(pane)
    session.keep_connected()
    aloop.run_until_complete(wait_until(lambda: session.connected))
    yield pane, client
    aloop.run_until_complete(session.stop())


def test_without_an_agent_a_quiet_label_says_what_it_would_add(agent_pane):
    pane, client = agent_pane
    assert pane.agent_label.isVisible()
    assert pane.agent_label.text() == "No guest agent"
    tip = pane.agent_label.toolTip()
    assert "resolution would follow this window" in tip and "clipboard" in tip
    QGuiApplication.clipboard().setText("not for the guest")
    pane.resize(760, 540)
    pane.follow_window_size()
    assert client.monitor_sizes == [] and client.clipboards == []


def test_with_an_agent_the_guest_follows_the_pane_and_shares_the_clipboard(aloop, qtbot,
                                                                          agent_pane):
    pane, client = agent_pane
    clipboard = QGuiApplication.clipboard()
    clipboard.setText("from the desktop")
    client.agent_connected = True
    client.on_capabilities()                      # the agent connected
    assert pane.agent_label.text() == "Guest agent"
    assert client.clipboards == ["from the desktop"]
    viewport = pane.scroller.viewport().size()
    aloop.run_until_complete(wait_until(lambda: client.monitor_sizes, 5))
    assert client.monitor_sizes[-1] == (viewport.width(), viewport.height())
    pane.resize(900, 650)
    aloop.run_until_complete(wait_until(
        lambda: client.monitor_sizes[-1] == (pane.scroller.viewport().width(),
                                             pane.scroller.viewport().height()), 5))
    asked = len(client.monitor_sizes)
    pane.follow_window_size()                     # the same size again: not asked twice
    assert len(client.monitor_sizes) == asked
    client.on_clipboard("from the guest")         # the guest copied something
    assert clipboard.text() == "from the guest"
    assert client.clipboards == ["from the desktop"]   # not echoed back
    clipboard.setText("copied here later")
    assert client.clipboards[-1] == "copied here later"


def test_notices_from_the_client_show_above_the_screen(agent_pane):
    pane, client = agent_pane
    assert not pane.notice.isVisible()
    client.on_notice("The server sent a QUIC image, which HVConsole does not decode.")
    assert pane.notice.isVisible() and "QUIC" in pane.notice.text()
    client.on_notice("")
    assert not pane.notice.isVisible()


def pane_recording_choices(qtbot, session):
    """(pane, the protocols the user picked in it), the pane shown."""
    pane = shown_pane(qtbot, session)
    chosen: list[str] = []
    pane.protocolChosen.connect(chosen.append)
    return pane, chosen


def test_a_vm_with_both_displays_offers_the_choice(aloop, qtbot):
    from widgets.console.pane import ConsolePane
    record = vm(SPICE, VNC)
    session = ConsoleSession(VmOpener(Manager(Host(record)), "c1", record.key), title="desk")
    pane, chosen = pane_recording_choices(qtbot, session)
    session.keep_connected()
    try:
        aloop.run_until_complete(wait_until(
            lambda: session.status.state is ConsoleState.VM_NOT_RUNNING))
        assert pane.protocol_action.isVisible()
        assert pane.protocol_action.text() == "Display: SPICE"
        assert pane.protocol_names() == ["SPICE", "VNC"]
        pane.protocol_menu.actions()[1].trigger()     # the user picks VNC in the menu
        assert chosen == ["vnc"] and session.protocol == "vnc"
        assert pane.protocol_action.text() == "Display: VNC"
        assert [a.isChecked() for a in pane.protocol_menu.actions()] == [False, True]
    finally:
        aloop.run_until_complete(session.stop())
    only = ConsolePane(ConsoleSession(VmOpener(Manager(Host(vm(SPICE))), "c1", record.key)))
    qtbot.addWidget(only)
    assert not only.protocol_action.isVisible()


def test_the_console_tab_opens_a_vm_the_way_the_user_left_it(aloop, qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from app.console_protocols import ProtocolMemory
    from app.inventory import InventoryModel, NodeKind
    from widgets.tabs.console import ConsoleTab

    record = vm(SPICE, VNC)
    host = Host(record, uri="qemu:///system")
    tab = ConsoleTab(manager=Manager(host), inventory=InventoryModel())
    qtbot.addWidget(tab)
    tab.protocol_memory = ProtocolMemory(QSettings(str(tmp_path / "hv.conf"),
                                                   QSettings.Format.IniFormat))

    class Node:
        kind, conn_id, key, obj = NodeKind.VM, "c1", record.key, record

    tab.set_selection([Node()])
    assert tab.session.protocol == "spice"
    tab.pane.choose_protocol("vnc")
    tab.set_selection([])
    assert "VNC or SPICE" in tab.placeholder.text()
    tab.set_selection([Node()])
    assert tab.session.protocol == "vnc"
    tab.close_all()


def test_a_burst_of_drawing_repaints_once_then_once_more(aloop, agent_pane):
    """Thousands of pieces drawn in a row: the view hears of the first at once, of the
    rest together a moment later, not once per piece."""
    pane, client = agent_pane
    seen: list[int] = []
    pane.session.frameUpdated.connect(lambda: seen.append(1))
    aloop.run_until_complete(asyncio.sleep(0.05))   # a quiet spell
    for _ in range(500):
        client.on_update()
    assert len(seen) == 1
    aloop.run_until_complete(wait_until(lambda: len(seen) == 2, 5))
    aloop.run_until_complete(asyncio.sleep(0.1))
    assert len(seen) == 2


def test_a_console_window_takes_the_size_of_its_first_picture(aloop, qtbot):
    """A 720x400 text console (what a SPICE guest shows at boot) opens in a window of
    its size, once; the user's later size is kept."""
    from widgets.console.pane import ConsolePane
    from widgets.console.window import ConsoleWindow
    client = AgentClient(agent=False)
    client.framebuffer.resize(720, 400)

    async def opener():
        return client

    session = ConsoleSession(opener, title="desk")
    window = ConsoleWindow(ConsolePane(session, can_undock=False), "desk")
    qtbot.addWidget(window)
    window.show()
    session.keep_connected()
    try:
        aloop.run_until_complete(wait_until(lambda: session.connected))
        client.on_update()
        toolbar = window.pane.toolbar.sizeHint().height()
        aloop.run_until_complete(wait_until(lambda: window.width() == 720, 5))
        assert window.height() == 400 + toolbar
        window.resize(800, 600)
        client.framebuffer.resize(1024, 768)
        client.on_update()
        aloop.run_until_complete(asyncio.sleep(0.1))
        assert (window.width(), window.height()) == (800, 600)
    finally:
        aloop.run_until_complete(session.stop())


def test_the_real_spice_client_with_an_agent_follows_the_pane_and_shares_the_clipboard(
        aloop, qtbot):
    """The same through the SPICE client itself, against the small SPICE server of the
    client's tests playing a guest whose spice-vdagent announces monitors config and
    clipboard by demand: the pane's size goes out as a MONITORS_CONFIG, the desktop's
    text is offered (CLIPBOARD_GRAB) and the guest's text lands on the desktop."""
    import struct

    from connectors.console.spice import agent
    from connectors.console.spice.client import SpiceClient
    from connectors.console.spice.main import MSG_AGENT_DATA, MSGC_AGENT_DATA
    from tests.unit.spice_helpers import MAIN, FakeSpiceServer, agent_message, mini

    server = FakeSpiceServer(agent=True, tokens=100)

    async def opener():
        client = SpiceClient(server, channels=("inputs", "cursor"))
        await client.connect()
        return client

    def from_guest(kind: int, data: bytes) -> None:
        server.send(MAIN, mini(MSG_AGENT_DATA, agent_message(kind, data)))

    def to_guest() -> list[tuple[int, bytes]]:
        stream = agent.AgentStream()
        return [m for t, p in server.received[MAIN] if t == MSGC_AGENT_DATA
                for m in stream.feed(p)]

    clipboard = QGuiApplication.clipboard()
    clipboard.setText("from the desktop")
    session = ConsoleSession(opener, title="desk")
    pane = shown_pane(qtbot, session)
    session.keep_connected()
    try:
        aloop.run_until_complete(wait_until(lambda: session.connected))
        caps = struct.pack("<II", 0, (1 << agent.CAP_MONITORS_CONFIG)
                           | (1 << agent.CAP_CLIPBOARD_BY_DEMAND))
        from_guest(agent.ANNOUNCE_CAPABILITIES, caps)
        aloop.run_until_complete(wait_until(
            lambda: agent.MONITORS_CONFIG in [k for k, _ in to_guest()], 10))
        assert pane.agent_label.text() == "Guest agent"
        config = next(d for k, d in to_guest() if k == agent.MONITORS_CONFIG)
        viewport = pane.scroller.viewport().size()
        # VDAgentMonitorsConfig: count, flags, then height, width, depth, x, y.
        assert struct.unpack_from("<2I3I", config, 0)[2:4] == (viewport.height(),
                                                               viewport.width())
        assert (agent.CLIPBOARD_GRAB, struct.pack("<I", agent.CLIPBOARD_UTF8_TEXT)) \
            in to_guest()
        from_guest(agent.CLIPBOARD_GRAB, struct.pack("<I", agent.CLIPBOARD_UTF8_TEXT))
        aloop.run_until_complete(wait_until(
            lambda: agent.CLIPBOARD_REQUEST in [k for k, _ in to_guest()], 10))
        from_guest(agent.CLIPBOARD, struct.pack("<I", agent.CLIPBOARD_UTF8_TEXT)
                   + "copied in the guest".encode())
        aloop.run_until_complete(wait_until(
            lambda: clipboard.text() == "copied in the guest", 10))
    finally:
        aloop.run_until_complete(session.stop())


def test_a_choice_made_while_connecting_wins(aloop):
    """The user picks VNC while the SPICE connection is still being made: that one is
    closed unseen and the VNC one is shown."""
    gate = asyncio.Event()
    opened: list[tuple[str, AgentClient]] = []

    class SlowOpener(ConsoleOpener):
        protocol = "spice"

        def protocol_choices(self):
            return ["spice", "vnc"]

        def current_protocol(self):
            return self.protocol

        def choose_protocol(self, protocol):
            changed, self.protocol = protocol != self.protocol, protocol
            return changed

        async def open(self):
            protocol = self.protocol
            await gate.wait()
            client = AgentClient(agent=False)
            opened.append((protocol, client))
            return client

    session = ConsoleSession(SlowOpener(), title="desk")
    states: list[ConsoleState] = []
    session.statusChanged.connect(lambda status: states.append(status.state))
    session.keep_connected()
    try:
        aloop.run_until_complete(wait_until(
            lambda: session.status.state is ConsoleState.CONNECTING))
        session.choose_protocol("vnc")
        gate.set()
        aloop.run_until_complete(wait_until(lambda: session.connected))
        assert [p for p, _ in opened] == ["spice", "vnc"]
        assert opened[0][1]._closed.is_set() and session.client is opened[1][1]
        assert ConsoleState.DISCONNECTED not in states
    finally:
        aloop.run_until_complete(session.stop())


def test_send_key_the_keyboard_and_typing_the_clipboard_reach_a_spice_server(aloop, qtbot):
    """The pane's keyboard paths through the SPICE client's inputs channel, read as a
    PC keyboard's set-1 codes (make, and break with bit 7; 0xE0 first for Delete)."""
    import struct

    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from connectors.console.spice.client import SpiceClient
    from tests.unit.spice_helpers import INPUTS, FakeSpiceServer

    server = FakeSpiceServer()

    async def opener():
        client = SpiceClient(server, channels=("inputs", "cursor"))
        await client.connect()
        return client

    def keys_since(start: int) -> list[tuple[str, int]]:
        return [("down" if t == 101 else "up", struct.unpack("<I", p)[0])
                for t, p in server.received[INPUTS][start:] if t in (101, 102)]

    session = ConsoleSession(opener, title="desk")
    pane = shown_pane(qtbot, session)
    session.keep_connected()
    try:
        aloop.run_until_complete(wait_until(lambda: session.connected))
        start = len(server.received[INPUTS])
        pane.send_key_actions["Ctrl+Alt+Del"].trigger()
        ctrl_alt_del = [("down", 0x1D), ("down", 0x38), ("down", 0x53E0),
                        ("up", 0xD3E0), ("up", 0xB8), ("up", 0x9D)]
        aloop.run_until_complete(wait_until(lambda: len(keys_since(start)) >= 6, 10))
        assert keys_since(start) == ctrl_alt_del
        start = len(server.received[INPUTS])
        QTest.keyClick(pane.view, Qt.Key.Key_A)
        aloop.run_until_complete(wait_until(lambda: len(keys_since(start)) >= 2, 10))
        assert keys_since(start) == [("down", 0x1E), ("up", 0x9E)]
        start = len(server.received[INPUTS])
        QGuiApplication.clipboard().setText("b1")
        pane.paste_clipboard()
        aloop.run_until_complete(wait_until(lambda: len(keys_since(start)) >= 4, 10))
        assert keys_since(start) == [("down", 0x30), ("up", 0xB0), ("down", 0x02),
                                     ("up", 0x82)]
    finally:
        aloop.run_until_complete(session.stop())
