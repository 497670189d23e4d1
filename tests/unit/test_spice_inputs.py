"""The inputs channel's encoding: PC AT scancode bytes (0xE0 prefix, break codes),
Pause's special sequence, the pointer in both mouse modes, buttons, the wheel, the
motion flow control, and the lock keys the guest reports."""
from __future__ import annotations

import struct

from connectors.console import keymap
from connectors.console.client import ConsoleClient
from connectors.console.spice.inputs import (
    MSG_INIT, MSG_KEY_MODIFIERS, MSG_MOUSE_MOTION_ACK, MSGC_KEY_DOWN, MSGC_KEY_MODIFIERS,
    MSGC_KEY_UP, MSGC_MOUSE_MOTION, MSGC_MOUSE_POSITION, MSGC_MOUSE_PRESS, MSGC_MOUSE_RELEASE,
    RELATIVE_CENTRE, InputsChannel, key_code, key_messages)


def test_plain_keys_are_their_make_and_break_codes():
    assert key_code(keymap.SC_RETURN, True) == 0x1C
    assert key_code(keymap.SC_RETURN, False) == 0x9C
    assert key_messages(0x1E, True) == [(MSGC_KEY_DOWN, struct.pack("<I", 0x1E))]
    assert key_messages(0x1E, False) == [(MSGC_KEY_UP, struct.pack("<I", 0x9E))]


def test_extended_keys_send_e0_first():
    # Right Ctrl is qnum 0x9D: bytes E0 1D down, E0 9D up.
    assert key_messages(keymap.SC_CONTROL_R, True) == [(MSGC_KEY_DOWN, bytes([0xE0, 0x1D, 0, 0]))]
    assert key_messages(keymap.SC_CONTROL_R, False) == [(MSGC_KEY_UP, bytes([0xE0, 0x9D, 0, 0]))]
    assert key_messages(keymap.SC_DELETE, True) == [(MSGC_KEY_DOWN, bytes([0xE0, 0x53, 0, 0]))]


def test_pause_sends_its_sequence_on_press_only():
    assert key_messages(keymap.SC_PAUSE, True) == [
        (MSGC_KEY_DOWN, bytes([0xE1, 0x1D, 0x45, 0])),
        (MSGC_KEY_DOWN, bytes([0xE1, 0x9D, 0xC5, 0]))]
    assert key_messages(keymap.SC_PAUSE, False) == []


def test_no_message_for_impossible_scancodes():
    assert key_messages(0, True) == [] and key_messages(0x1FF, True) == []


def test_absolute_pointer_moves_then_clicks():
    inputs = InputsChannel(ConsoleClient())
    assert inputs.pointer(0, 10, 20, absolute=True) == [
        (MSGC_MOUSE_POSITION, struct.pack("<IIHB", 10, 20, 0, 0))]
    assert inputs.pointer(0, 10, 20, absolute=True) == []   # no motion, no message
    # Press left at a new place: position first (with the old state), then the press.
    assert inputs.pointer(1, 11, 20, absolute=True) == [
        (MSGC_MOUSE_POSITION, struct.pack("<IIHB", 11, 20, 0, 0)),
        (MSGC_MOUSE_PRESS, struct.pack("<BH", 1, 1))]
    assert inputs.pointer(5, 11, 20, absolute=True) == [
        (MSGC_MOUSE_PRESS, struct.pack("<BH", 3, 5))]
    assert inputs.pointer(0, 11, 20, absolute=True) == [
        (MSGC_MOUSE_RELEASE, struct.pack("<BH", 1, 0)),
        (MSGC_MOUSE_RELEASE, struct.pack("<BH", 3, 0))]


def test_wheel_is_a_press_and_release_of_up_or_down():
    inputs = InputsChannel(ConsoleClient())
    inputs.pointer(0, 5, 5, absolute=True)
    assert inputs.pointer(8, 5, 5, absolute=True) == [
        (MSGC_MOUSE_PRESS, struct.pack("<BH", 4, 0)),
        (MSGC_MOUSE_RELEASE, struct.pack("<BH", 4, 0))]
    assert inputs.pointer(0, 5, 5, absolute=True) == []
    assert inputs.pointer(16, 5, 5, absolute=True)[0] == (
        MSGC_MOUSE_PRESS, struct.pack("<BH", 5, 0))


def test_relative_motion_is_the_offset_from_the_centre():
    inputs = InputsChannel(ConsoleClient())
    assert inputs.pointer(0, RELATIVE_CENTRE + 3, RELATIVE_CENTRE - 4, absolute=False) == [
        (MSGC_MOUSE_MOTION, struct.pack("<iiH", 3, -4, 0))]
    assert inputs.pointer(0, RELATIVE_CENTRE, RELATIVE_CENTRE, absolute=False) == []


def test_motion_waits_for_acks_and_is_merged_meanwhile():
    inputs = InputsChannel(ConsoleClient())
    for _ in range(8):
        assert len(inputs.pointer(0, RELATIVE_CENTRE + 1, RELATIVE_CENTRE, absolute=False)) == 1
    assert inputs.pointer(0, RELATIVE_CENTRE + 1, RELATIVE_CENTRE, absolute=False) == []
    assert inputs.pointer(0, RELATIVE_CENTRE + 2, RELATIVE_CENTRE + 5, absolute=False) == []
    assert inputs.handle(MSG_MOUSE_MOTION_ACK, memoryview(b"")) == [
        (MSGC_MOUSE_MOTION, struct.pack("<iiH", 3, 5, 0))]


def test_a_click_goes_out_even_while_motion_waits():
    inputs = InputsChannel(ConsoleClient())
    for i in range(8):
        inputs.pointer(0, i, 0, absolute=True)
    out = inputs.pointer(1, 100, 0, absolute=True)
    assert out == [(MSGC_MOUSE_POSITION, struct.pack("<IIHB", 100, 0, 0, 0)),
                   (MSGC_MOUSE_PRESS, struct.pack("<BH", 1, 1))]


def test_lock_keys_both_ways():
    client = ConsoleClient()
    calls = []
    client.on_capabilities = lambda: calls.append(client.leds)
    inputs = InputsChannel(client)
    inputs.handle(MSG_INIT, memoryview(struct.pack("<H", 2)))
    inputs.handle(MSG_KEY_MODIFIERS, memoryview(struct.pack("<H", 6)))
    assert calls == [2, 6]
    assert inputs.lock_keys(4) == [(MSGC_KEY_MODIFIERS, struct.pack("<H", 4))]
