"""One console session per VM (or per standalone address): opens the protocol client,
reports its state for the overlay, and reconnects by itself when the guest reboots,
the server goes away and comes back, or the VM starts.

QtCore only. The protocol client (connectors/console) does the work; this turns its
callbacks into signals on the Qt thread and owns the retry policy. What to connect to,
and how, is the opener's business (app/console_openers.py: a VM's console, a standalone
address); the session only asks it through ``ConsoleOpener``.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable, Protocol, runtime_checkable

from PySide6.QtCore import QObject, Signal

from app.console_passwords import RememberedPasswords
from connectors.console.client import ConsoleClient
from connectors.console.framebuffer import Framebuffer
from connectors.console.state import (AuthenticationError, ConsoleError, ConsoleState,
                                      ConsoleStatus, ConsoleUnavailable)
from connectors.libvirt.model import ActionError

log = logging.getLogger(__name__)

RETRY_DELAYS_S = (0.5, 1.0, 2.0, 4.0)
VM_POLL_S = 1.0
# A SPICE server draws a changing screen in many small pieces (QEMU: a few dozen per
# refresh), each reported by the client: the view is told at most this often, so it
# repaints once per displayed frame instead of once per piece. The first report after a
# quiet spell goes at once (a typed key's echo is not delayed).
REPAINT_INTERVAL_S = 1 / 60


class ConsoleOpener:
    """Opens the connections of one console target. ``open()`` gives a connected client,
    or None while there is nothing to show (the VM is off); it raises ConsoleError (with
    a sentence), ConsoleUnavailable when retrying cannot help. The rest has answers for
    a target with one protocol and nothing remembered: a VM's opener overrides them."""

    async def open(self) -> ConsoleClient | None:
        raise NotImplementedError

    def remembered_passwords(self) -> RememberedPasswords | None:
        """This target's vault entries, for "Forget console password" (None: no vault)."""
        return None

    def protocol_choices(self) -> list[str]:
        """The protocols the user may choose between ([] when there is no choice)."""
        return []

    def current_protocol(self) -> str | None:
        """The protocol shown (or about to be), "vnc" or "spice", when known."""
        return None

    def choose_protocol(self, protocol: str) -> bool:
        """Use ``protocol`` from the next connection on; False when nothing changed."""
        return False


class CallableOpener(ConsoleOpener):
    """An opener that is just a coroutine function (tests, benchmarks)."""

    def __init__(self, open_client: Callable[[], Awaitable[ConsoleClient | None]]) -> None:
        self._open = open_client

    async def open(self) -> ConsoleClient | None:
        return await self._open()


@runtime_checkable
class GuestAgentClient(Protocol):
    """A client whose protocol carries a guest agent (SPICE's vd_agent)."""

    agent_connected: bool

    def set_monitor_size(self, width: int, height: int) -> None: ...

    def send_clipboard(self, text: str) -> None: ...


class ConsoleSession(QObject):
    """The console of one target. ``status`` drives the overlay, ``framebuffer`` the
    picture (kept after a disconnect, so the last screen stays visible under it)."""

    statusChanged = Signal(object)      # ConsoleStatus
    frameUpdated = Signal()             # the framebuffer has new damage
    resized = Signal(int, int)
    cursorChanged = Signal(object)      # CursorImage or None
    capabilitiesChanged = Signal()      # also: the guest agent came or went
    clipboardReceived = Signal(str)     # text the guest put on its clipboard (agent)
    noticeChanged = Signal(str)         # a sentence from the client ("" when none)

    def __init__(self, opener: ConsoleOpener | Callable[[], Awaitable[ConsoleClient | None]],
                 title: str = "", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.opener = opener if isinstance(opener, ConsoleOpener) else CallableOpener(opener)
        self.title = title
        self.status = ConsoleStatus(ConsoleState.DISCONNECTED, "not started")
        self.client: ConsoleClient | None = None
        self.framebuffer = Framebuffer(640, 480)
        self.notice = ""
        self._task: asyncio.Task | None = None
        self._repaint_pending = False
        self._last_repaint = 0.0
        self._choice = 0      # counts the user's protocol choices
        self._wake = asyncio.Event()
        self._stopped = True

    # ---- control ----

    def keep_connected(self) -> None:
        """Connect, and connect again whenever the connection ends or fails, until
        stop(). Nothing happens when the session already does."""
        if self._task is None or self._task.done():
            self._stopped = False
            self._task = asyncio.get_event_loop().create_task(self._run())

    async def stop(self) -> None:
        self._stopped = True
        if self.client is not None:
            self.client.close()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - leaving anyway
                pass
        self._set(ConsoleStatus(ConsoleState.DISCONNECTED, "the console was closed."))

    def close_now(self) -> None:
        """Stop without awaiting (no running loop): close the connection, end the task."""
        self._stopped = True
        if self.client is not None:
            self.client.close()
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def retry_now(self) -> None:
        """Try again at once instead of after the pause (the VM's state changed), if the
        session is keeping connected."""
        self._wake.set()
        if not self._stopped:
            self.keep_connected()

    def reconnect_at_user_request(self) -> None:
        """What Reconnect does: keep connected again (also after stop()) and try at once;
        a password the server refused is asked for again."""
        self._stopped = False
        self._wake.set()
        self.keep_connected()

    def remembered_passwords(self) -> RememberedPasswords | None:
        """This console's vault entries, for "Forget console password"; None when there
        is no vault to remember in."""
        return self.opener.remembered_passwords()

    @property
    def connected(self) -> bool:
        return self.status.state is ConsoleState.CONNECTED and self.client is not None

    # ---- protocol choice (a VM with both VNC and SPICE) ----

    def protocol_choices(self) -> list[str]:
        """The protocols the user may choose between ([] when there is no choice to make)."""
        return self.opener.protocol_choices()

    @property
    def protocol(self) -> str | None:
        """The protocol shown (or about to be), "vnc" or "spice"."""
        return self.opener.current_protocol()

    def choose_protocol(self, protocol: str) -> None:
        """Show the VM through ``protocol`` from now on: the connection starts again."""
        if not self.opener.choose_protocol(protocol):
            return
        self._choice += 1     # a connection made before this choice is not shown
        self._wake.set()
        if self.client is not None:
            self.client.close()

    # ---- typing text ----

    def type_text(self, text: str) -> None:
        """Type ``text`` into the guest as keystrokes (the SPICE client paces them for
        QEMU's PS/2 queue itself)."""
        if self.client is not None and text:
            self.client.type_text(text)

    # ---- the guest agent (SPICE) ----

    @property
    def has_agent_concept(self) -> bool:
        """The protocol can carry a guest agent (SPICE), so its absence is worth a word."""
        return isinstance(self.client, GuestAgentClient)

    @property
    def agent_connected(self) -> bool:
        client = self.client
        return isinstance(client, GuestAgentClient) and bool(client.agent_connected)

    def follow_window_size(self, width: int, height: int) -> bool:
        """Ask the guest (through its agent) to take this resolution; False: it cannot."""
        client = self.client
        if (not isinstance(client, GuestAgentClient) or not client.agent_connected
                or width < 320 or height < 200):
            return False
        client.set_monitor_size(int(width), int(height))
        return True

    def send_clipboard(self, text: str) -> bool:
        """Put ``text`` on the guest's clipboard (through its agent)."""
        client = self.client
        if not isinstance(client, GuestAgentClient) or not client.agent_connected or not text:
            return False
        client.send_clipboard(text)
        return True

    # ---- the loop ----

    async def _run(self) -> None:
        failures = 0
        while not self._stopped:
            self._wake.clear()
            if self.status.state not in (ConsoleState.VM_NOT_RUNNING,
                                         ConsoleState.UNAVAILABLE):
                self._set(ConsoleStatus(ConsoleState.CONNECTING))
            choice = self._choice
            try:
                client = await self.opener.open()
            except ConsoleUnavailable as err:
                # Nothing to retry: look again only when something changes (the VM's
                # state or definition, the user's protocol choice).
                self._set(ConsoleStatus(ConsoleState.UNAVAILABLE, str(err)))
                await self._wake.wait()
                continue
            except AuthenticationError as err:
                # Another try with the same password would fail the same way: wait for
                # the user (Reconnect asks again).
                self._set(ConsoleStatus(ConsoleState.DISCONNECTED, str(err)))
                await self._wake.wait()
                continue
            except (ConsoleError, ActionError) as err:
                self._set(ConsoleStatus(ConsoleState.DISCONNECTED, str(err)))
                failures += 1
                await self._pause(RETRY_DELAYS_S[min(failures, len(RETRY_DELAYS_S)) - 1])
                continue
            if client is None:
                self._set(ConsoleStatus(ConsoleState.VM_NOT_RUNNING))
                await self._pause(VM_POLL_S)
                continue
            failures = 0
            if choice != self._choice:
                client.close()          # opened with the protocol the user just left
                continue
            reason = await self._serve(client)
            if self._stopped:
                break
            if choice != self._choice:
                continue                # straight to connecting, no "disconnected" between
            self._set(ConsoleStatus(ConsoleState.DISCONNECTED, reason))
            await self._pause(RETRY_DELAYS_S[0])

    async def _serve(self, client: ConsoleClient) -> str:
        """Show ``client`` until its connection ends; the reason it ended."""
        self.client = client
        self.framebuffer = client.framebuffer
        client.on_update = self._client_updated
        client.on_resize = lambda w, h: self.resized.emit(w, h)
        client.on_cursor = self.cursorChanged.emit
        client.on_capabilities = self.capabilitiesChanged.emit
        client.on_clipboard = self.clipboardReceived.emit
        client.on_notice = self._notice
        self._notice("")
        self.resized.emit(client.framebuffer.width, client.framebuffer.height)
        self._set(ConsoleStatus(ConsoleState.CONNECTED))
        try:
            await client.run()
            return "the console was closed"
        except ConsoleError as err:
            return str(err)
        except Exception as err:  # noqa: BLE001 - a decoder bug must not kill the app
            log.exception("console client failed")
            return f"internal error: {err}"
        finally:
            client.close()
            self.client = None

    def _client_updated(self) -> None:
        if self._repaint_pending:
            return
        loop = asyncio.get_event_loop()
        wait = self._last_repaint + REPAINT_INTERVAL_S - loop.time()
        if wait <= 0:
            self._repaint()
            return
        self._repaint_pending = True
        loop.call_later(wait, self._repaint)

    def _repaint(self) -> None:
        self._repaint_pending = False
        self._last_repaint = asyncio.get_event_loop().time()
        self.frameUpdated.emit()

    def _notice(self, text: str) -> None:
        if text != self.notice:
            self.notice = text
            self.noticeChanged.emit(text)

    async def _pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    def _set(self, status: ConsoleStatus) -> None:
        if status != self.status:
            self.status = status
            self.statusChanged.emit(status)
