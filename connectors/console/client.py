"""What the app needs of any console protocol client (RFB now, SPICE next): a
framebuffer kept up to date, input going out, and callbacks when something changed.
Callbacks run on the asyncio loop thread."""
from __future__ import annotations

from typing import Callable

from connectors.console.framebuffer import CursorImage, Framebuffer
from connectors.console.keymap import SC_SHIFT_L, XK_SHIFT_L, text_keystrokes


def _nothing(*_args: object) -> None:
    pass


class ConsoleClient:
    """Base class: the protocol-neutral state and the input helpers built on send_key."""

    def __init__(self) -> None:
        self.framebuffer = Framebuffer()
        self.name = ""
        self.frames = 0               # complete screen updates received so far
        self.has_scancodes = False    # the server takes scancodes (exact keys)
        self.absolute_pointer = True  # False: relative motion, the view grabs the mouse
        self.leds: int | None = None  # bit 0 scroll, 1 num, 2 caps lock, when reported
        self.on_update: Callable[[], None] = _nothing
        self.on_resize: Callable[[int, int], None] = _nothing
        self.on_cursor: Callable[[CursorImage | None], None] = _nothing
        self.on_capabilities: Callable[[], None] = _nothing
        self.on_bell: Callable[[], None] = _nothing
        self.on_clipboard: Callable[[str], None] = _nothing
        # A sentence the UI shows beside the screen (what the guest lacks, what cannot be shown).
        self.on_notice: Callable[[str], None] = _nothing

    # ---- to implement ----
    async def connect(self) -> None:
        raise NotImplementedError

    async def run(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def send_key(self, down: bool, keysym: int, scancode: int | None = None) -> None:
        raise NotImplementedError

    def send_pointer(self, buttons: int, x: int, y: int) -> None:
        raise NotImplementedError

    # ---- built on send_key ----
    def send_combo(self, keys: list[tuple[int | None, int]]) -> None:
        """Press (scancode, keysym) keys in order, release them in reverse: Ctrl+Alt+Del."""
        for scancode, keysym in keys:
            self.send_key(True, keysym, scancode)
        for scancode, keysym in reversed(keys):
            self.send_key(False, keysym, scancode)

    def type_text(self, text: str) -> None:
        """Type text as keystrokes (a US-layout guest gets exact keys)."""
        for scancode, keysym, shift in text_keystrokes(text):
            if shift and scancode is not None:
                self.send_combo([(SC_SHIFT_L, XK_SHIFT_L), (scancode, keysym)])
            else:
                self.send_combo([(scancode, keysym)])
