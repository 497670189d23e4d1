"""An asyncio SPICE client: the main channel first (it names the session and lists the
channels), then the display, inputs and cursor channels, each on a stream of its own
from ``transport.open()`` (a TCP connection, an SSH tunnel, or a fresh fd from
libvirt's virDomainOpenGraphicsFD: QEMU takes every SPICE channel that way).

The ticket (password) is asked of the password source once per connect(); "no
password" sends an empty ticket, which a server without one accepts. A refused ticket
raises AuthenticationError, so app/console_passwords.py can ask and try again.
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Awaitable, Callable

from connectors.console.client import ConsoleClient
from connectors.console.spice import wire
from connectors.console.spice.channel import ChannelHandler, Outgoing, SpiceChannel
from connectors.console.spice.cursor import CursorChannel
from connectors.console.spice.display import DisplayChannel
from connectors.console.spice.inputs import InputsChannel
from connectors.console.spice.main import MainChannel
from connectors.console.state import ConsoleError, ProtocolError
from connectors.console.transport import Transport

log = logging.getLogger(__name__)

PasswordSource = Callable[[], Awaitable[str | None]]
CONNECT_TIMEOUT_S = 20.0
DEFAULT_CHANNELS = ("display", "inputs", "cursor")
KEY_GAP_S = 0.01   # between two key messages (QEMU's VNC server paces its keys alike)


async def _no_password() -> str | None:
    return None


class SpiceClient(ConsoleClient):
    """``channels`` picks the channels opened beside the main one (default: display,
    inputs, cursor), e.g. ("inputs",) to type into a guest without drawing it."""

    def __init__(self, transport: Transport, *, password: PasswordSource = _no_password,
                 channels: tuple[str, ...] = DEFAULT_CHANNELS) -> None:
        super().__init__()
        unknown = set(channels) - set(DEFAULT_CHANNELS)
        if unknown:
            raise ValueError(f"unknown SPICE channels: {', '.join(sorted(unknown))}")
        self.transport = transport
        self.password = password
        self.wanted = tuple(channels)
        self.has_scancodes = True
        self.main = MainChannel(self)
        self.inputs: InputsChannel | None = None
        self.cursor: CursorChannel | None = None
        self.display: DisplayChannel | None = None
        self.channels: dict[str, SpiceChannel] = {}   # linked so far, by name
        self._main_task: asyncio.Task[None] | None = None
        self._keys: deque[Outgoing] = deque()
        self._key_pump: asyncio.Task[None] | None = None
        self._key_sent_at = float("-inf")    # loop time the last key message left
        self._closed = False

    # ---- what the UI asks about ----

    @property
    def session_id(self) -> int | None:
        return self.main.session_id

    @property
    def agent_connected(self) -> bool:
        """The guest runs the SPICE agent: resolution and clipboard can be shared."""
        return self.main.agent_connected

    # ---- connecting ----

    async def connect(self) -> None:
        ticket = await self.password() or ""
        try:
            await asyncio.wait_for(self._connect(ticket), CONNECT_TIMEOUT_S)
        except asyncio.TimeoutError:
            self.close()
            raise ConsoleError(f"The SPICE server at {self.transport.description} did not "
                               f"set up the session within {CONNECT_TIMEOUT_S:g} s.") from None
        except BaseException:
            self.close()
            raise

    async def _connect(self, ticket: str) -> None:
        main = SpiceChannel(self.transport, self.main, ticket=ticket)
        self.channels["main"] = main
        await main.link()
        self._main_task = asyncio.ensure_future(main.run())
        # run() reports how it ended; without run() (closed after connect) nobody would.
        self._main_task.add_done_callback(lambda t: t.cancelled() or t.exception())
        known = asyncio.ensure_future(self.main.channels_known.wait())
        await asyncio.wait({self._main_task, known}, return_when=asyncio.FIRST_COMPLETED)
        if not known.done():
            known.cancel()
            await self._main_task   # raises why the main channel ended
            raise ConsoleError("The SPICE server closed the session before listing its "
                               "channels.")
        offered = set(self.main.channels)
        handlers: dict[str, ChannelHandler] = {}
        if "display" in self.wanted:
            if (wire.CHANNEL_DISPLAY, 0) not in offered:
                raise ConsoleError("The SPICE server offers no display.")
            handlers["display"] = self.display = DisplayChannel(self, 0)
        if "inputs" in self.wanted and (wire.CHANNEL_INPUTS, 0) in offered:
            handlers["inputs"] = self.inputs = InputsChannel(self)
        if "cursor" in self.wanted and (wire.CHANNEL_CURSOR, 0) in offered:
            handlers["cursor"] = self.cursor = CursorChannel(self)
        session = self.main.session_id
        if session is None:
            raise ProtocolError("The SPICE server listed its channels before it started "
                                "the session.")
        linking = [SpiceChannel(self.transport, handler, connection_id=session,
                                ticket=ticket) for handler in handlers.values()]
        self.channels.update(zip(handlers, linking, strict=True))
        # All linked before any error is raised: none is left linking in the background.
        results = await asyncio.gather(*(channel.link() for channel in linking),
                                       return_exceptions=True)
        for error in results:
            if isinstance(error, BaseException):
                raise error

    # ---- running ----

    async def run(self) -> None:
        """Run every channel until one ends; then close the rest. Raises ConsoleError
        with the reason the first one ended; returns quietly after close()."""
        if self._main_task is None:
            raise ConsoleError("not connected")
        tasks = {self._main_task: "main"}
        tasks.update({asyncio.ensure_future(channel.run()): name
                      for name, channel in self.channels.items() if name != "main"})
        try:
            done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._close_channels()
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._closed:
            return
        for task in done:
            error = task.exception()
            if error is not None:
                raise error
        ended = ", ".join(sorted(tasks[t] for t in done))
        raise ConsoleError(f"The SPICE server ended the {ended} channel.")

    def close(self) -> None:
        self._closed = True
        self._keys.clear()
        self._close_channels()

    def _close_channels(self) -> None:
        for channel in self.channels.values():
            channel.close()

    # ---- input and the agent ----

    def send_key(self, down: bool, keysym: int, scancode: int | None = None) -> None:
        """Keys go out KEY_GAP_S apart: QEMU hands SPICE keys to the guest's PS/2
        keyboard at once, whose queue holds only 16 bytes, so a burst (typing the
        clipboard) would lose all but the first few keys. A key typed after a pause
        leaves before this returns, not a turn of the event loop later (under Qt that
        turn waits behind whatever the loop is doing, a repaint included): its echo
        comes back sooner."""
        if scancode is None:
            log.debug("key %#x has no scancode: SPICE cannot type it", keysym)
            return
        if self.inputs is None:
            return
        self._keys.extend(self.inputs.key(down, scancode))
        if self._key_pump is not None and not self._key_pump.done():
            return      # a burst is being paced: the pump sends this key in turn
        # Called from the UI's key handlers too, outside any coroutine: the loop that
        # is set, not the running one (under Qt none is "running" in a key event).
        loop = asyncio.get_event_loop()
        if loop.time() - self._key_sent_at >= KEY_GAP_S:
            self._send_next_key(loop)
        if self._keys:
            self._key_pump = asyncio.ensure_future(self._pump_keys())

    def _send_next_key(self, loop: asyncio.AbstractEventLoop) -> None:
        self._send("inputs", [self._keys.popleft()])
        self._key_sent_at = loop.time()

    async def _pump_keys(self) -> None:
        loop = asyncio.get_running_loop()
        while self._keys and not self._closed:
            await asyncio.sleep(max(0.0, self._key_sent_at + KEY_GAP_S - loop.time()))
            if self._keys and not self._closed:
                self._send_next_key(loop)

    def send_pointer(self, buttons: int, x: int, y: int) -> None:
        if self.inputs is not None:
            self._send("inputs", self.inputs.pointer(buttons, x, y, self.absolute_pointer))

    def send_lock_keys(self, leds: int) -> None:
        """Make the guest's caps/num/scroll lock match ``leds`` (bits as ``leds``)."""
        if self.inputs is not None:
            self._send("inputs", self.inputs.lock_keys(leds))

    def send_clipboard(self, text: str) -> None:
        """Offer ``text`` to the guest's clipboard through its agent."""
        self._send("main", self.main.offer_clipboard(text))

    def set_monitor_size(self, width: int, height: int) -> None:
        """Ask the guest (through its agent) to take this resolution."""
        self._send("main", self.main.set_monitor_size(width, height))

    def _send(self, name: str, messages: list[Outgoing]) -> None:
        channel = self.channels.get(name)
        if channel is not None and messages:
            channel.send_all(messages)
