"""The inputs channel: keys as PC AT scancode bytes, the pointer as absolute positions
(client mouse mode) or relative motion (server mode), buttons and the wheel; and the
guest's lock keys (the keyboard modifiers it reports).

Keys come as keymap.py's "qnum" scancodes (0x80 | code for keys that need the 0xE0
prefix); SPICE wants the bytes a PC keyboard sends, packed little-endian in a u32:
0xE0 first, and the break (release) code with bit 7 set.

Pointer motion is flow-controlled: the server acknowledges every 4 motion messages;
with more than 8 unacknowledged, new motion is merged into one pending message that
goes when the next acknowledgement comes.
"""
from __future__ import annotations

from connectors.console.client import ConsoleClient
from connectors.console.spice.channel import Outgoing
from connectors.console.spice.wire import CHANNEL_INPUTS, Payload, caps_words, pack

# Server -> client.
MSG_INIT, MSG_KEY_MODIFIERS, MSG_MOUSE_MOTION_ACK = 101, 102, 111
# Client -> server.
MSGC_KEY_DOWN, MSGC_KEY_UP, MSGC_KEY_MODIFIERS, MSGC_KEY_SCANCODE = 101, 102, 103, 104
MSGC_MOUSE_MOTION, MSGC_MOUSE_POSITION, MSGC_MOUSE_PRESS, MSGC_MOUSE_RELEASE = 111, 112, 113, 114

CAP_KEY_SCANCODE = 0
MOTION_ACK_BUNCH = 4
MAX_UNACKED_MOTION = 2 * MOTION_ACK_BUNCH

BUTTON_LEFT, BUTTON_MIDDLE, BUTTON_RIGHT, BUTTON_UP, BUTTON_DOWN = 1, 2, 3, 4, 5
# ConsoleClient.send_pointer's button bits (as RFB's): 1 left, 2 middle, 4 right,
# 8 wheel up, 16 wheel down. The first three are SPICE's button-state mask as well.
_BUTTON_BITS = ((1, BUTTON_LEFT), (2, BUTTON_MIDDLE), (4, BUTTON_RIGHT))
_WHEEL_BITS = ((8, BUTTON_UP), (16, BUTTON_DOWN))
STATE_MASK = 0x7
# In relative mode the view sends positions around this centre (QEMU's VNC convention,
# see widgets/console/view.py): the motion is the offset from it.
RELATIVE_CENTRE = 0x7FFF

SC_PAUSE = 0xC6
# Pause has no break code; a PC keyboard sends this on press.
_PAUSE_BYTES = (bytes((0xE1, 0x1D, 0x45)), bytes((0xE1, 0x9D, 0xC5)))


def key_code(scancode: int, down: bool) -> int:
    """The u32 a KEY_DOWN / KEY_UP carries for a qnum scancode."""
    code = (scancode & 0x7F) | (0 if down else 0x80)
    if scancode & 0x80:
        return 0xE0 | code << 8
    return code


def key_messages(scancode: int, down: bool) -> list[Outgoing]:
    if not 0 < scancode <= 0xFF:
        return []
    if scancode == SC_PAUSE:
        if not down:
            return []
        return [(MSGC_KEY_DOWN, part.ljust(4, b"\0")) for part in _PAUSE_BYTES]
    return [(MSGC_KEY_DOWN if down else MSGC_KEY_UP, pack("I", key_code(scancode, down)))]


class InputsChannel:
    """The inputs channel's handler and the encoder of what the user does."""

    channel_type = CHANNEL_INPUTS

    def __init__(self, client: ConsoleClient) -> None:
        self.client = client
        self.buttons = 0                  # the send_pointer bits last seen
        self.position: tuple[int, int] | None = None
        self._unacked = 0
        self._pending_position: tuple[int, int] | None = None
        self._pending_motion: tuple[int, int] | None = None

    # ---- ChannelHandler ----

    def capabilities(self) -> tuple[list[int], list[int]]:
        return [], caps_words(CAP_KEY_SCANCODE)

    def initial_messages(self) -> list[Outgoing]:
        return []

    def handle(self, msg_type: int, payload: memoryview) -> list[Outgoing]:
        p = Payload(payload, f"inputs channel message {msg_type}")
        if msg_type in (MSG_INIT, MSG_KEY_MODIFIERS):
            leds = p.u16() & 0x7   # bit 0 scroll, 1 num, 2 caps lock: as ConsoleClient.leds
            if leds != self.client.leds:
                self.client.leds = leds
                self.client.on_capabilities()
            return []
        if msg_type == MSG_MOUSE_MOTION_ACK:
            self._unacked = max(0, self._unacked - MOTION_ACK_BUNCH)
            return self._flush_motion()
        return []

    # ---- keys ----

    def key(self, down: bool, scancode: int) -> list[Outgoing]:
        return key_messages(scancode, down)

    def lock_keys(self, leds: int) -> list[Outgoing]:
        """Set the guest's scroll/num/caps lock state (bits as ConsoleClient.leds)."""
        return [(MSGC_KEY_MODIFIERS, pack("H", leds & 0x7))]

    # ---- pointer ----

    def pointer(self, buttons: int, x: int, y: int, absolute: bool) -> list[Outgoing]:
        """One send_pointer call: motion first, then button changes, then the wheel."""
        out: list[Outgoing] = []
        old = self.buttons
        state = buttons & STATE_MASK
        if absolute:
            x, y = max(0, x), max(0, y)
            if (x, y) != self.position:
                self.position = (x, y)
                self._pending_position = (x, y)
        else:
            dx, dy = x - RELATIVE_CENTRE, y - RELATIVE_CENTRE
            if dx or dy:
                px, py = self._pending_motion or (0, 0)
                self._pending_motion = (px + dx, py + dy)
        changed = (old ^ buttons) & STATE_MASK
        wheel = buttons & ~old & 0x18
        # A click goes where the pointer is: flush pending motion whatever the flow control.
        out += self._flush_motion(force=bool(changed or wheel))
        for bit, button in _BUTTON_BITS:
            if changed & bit:
                kind = MSGC_MOUSE_PRESS if buttons & bit else MSGC_MOUSE_RELEASE
                out.append((kind, pack("BH", button, state)))
        for bit, button in _WHEEL_BITS:
            if wheel & bit:
                out.append((MSGC_MOUSE_PRESS, pack("BH", button, state)))
                out.append((MSGC_MOUSE_RELEASE, pack("BH", button, state)))
        self.buttons = buttons
        return out

    def _flush_motion(self, force: bool = False) -> list[Outgoing]:
        if self._unacked >= MAX_UNACKED_MOTION and not force:
            return []
        out: list[Outgoing] = []
        state = self.buttons & STATE_MASK
        if self._pending_position is not None:
            x, y = self._pending_position
            out.append((MSGC_MOUSE_POSITION, pack("IIHB", x, y, state, 0)))
            self._pending_position = None
        if self._pending_motion is not None:
            dx, dy = self._pending_motion
            out.append((MSGC_MOUSE_MOTION, pack("iiH", _int32(dx), _int32(dy), state)))
            self._pending_motion = None
        self._unacked += len(out)
        return out


def _int32(value: int) -> int:
    """A motion clamped to what the message's signed 32-bit fields hold."""
    return max(-0x80000000, min(0x7FFFFFFF, value))
