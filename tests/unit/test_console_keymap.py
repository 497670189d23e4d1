"""The key tables are plain data; their Qt key numbers must be Qt's own."""
from __future__ import annotations

from connectors.console import keymap as k


def test_qt_constants_match_pyside():
    from PySide6.QtCore import Qt
    pairs = {
        k.QT_ESCAPE: Qt.Key_Escape, k.QT_TAB: Qt.Key_Tab, k.QT_BACKTAB: Qt.Key_Backtab,
        k.QT_BACKSPACE: Qt.Key_Backspace, k.QT_RETURN: Qt.Key_Return, k.QT_ENTER: Qt.Key_Enter,
        k.QT_INSERT: Qt.Key_Insert, k.QT_DELETE: Qt.Key_Delete, k.QT_PAUSE: Qt.Key_Pause,
        k.QT_PRINT: Qt.Key_Print, k.QT_SYSREQ: Qt.Key_SysReq, k.QT_HOME: Qt.Key_Home,
        k.QT_END: Qt.Key_End, k.QT_LEFT: Qt.Key_Left, k.QT_UP: Qt.Key_Up,
        k.QT_RIGHT: Qt.Key_Right, k.QT_DOWN: Qt.Key_Down, k.QT_PAGEUP: Qt.Key_PageUp,
        k.QT_PAGEDOWN: Qt.Key_PageDown, k.QT_SHIFT: Qt.Key_Shift, k.QT_CONTROL: Qt.Key_Control,
        k.QT_META: Qt.Key_Meta, k.QT_ALT: Qt.Key_Alt, k.QT_CAPSLOCK: Qt.Key_CapsLock,
        k.QT_NUMLOCK: Qt.Key_NumLock, k.QT_SCROLLLOCK: Qt.Key_ScrollLock, k.QT_F1: Qt.Key_F1,
        k.QT_F1 + 11: Qt.Key_F12, k.QT_SUPER_L: Qt.Key_Super_L, k.QT_SUPER_R: Qt.Key_Super_R,
        k.QT_MENU: Qt.Key_Menu, k.QT_ALTGR: Qt.Key_AltGr,
    }
    for ours, qt in pairs.items():
        assert ours == int(qt.value), qt
    assert k.QT_TO_SCANCODE[int(Qt.Key_A.value)] == 0x1E
    assert k.QT_TO_SCANCODE[int(Qt.Key_Slash.value)] == 0x35


def test_scancodes_of_well_known_keys():
    assert k.qt_scancode(ord("Q")) == 0x10 and k.qt_scancode(ord("1")) == 0x02
    assert k.qt_scancode(k.QT_F1) == 0x3B and k.qt_scancode(k.QT_F1 + 11) == 0x58
    assert k.qt_scancode(k.QT_DELETE) == 0xD3  # E0 53
    # Native evdev codes win: right Ctrl (97) is E0 1D, which the Qt key cannot tell.
    assert k.qt_scancode(k.QT_CONTROL, native_evdev=97) == 0x9D
    assert k.qt_scancode(k.QT_CONTROL) == 0x1D


def test_keysyms_prefer_the_typed_text():
    assert k.qt_keysym(ord("A"), "a") == ord("a")
    assert k.qt_keysym(ord("A"), "A") == ord("A")
    assert k.qt_keysym(ord("A")) == ord("a")
    assert k.qt_keysym(k.QT_RETURN, "\r") == k.XK_RETURN
    assert k.qt_keysym(0, "€") == 0x010020AC


def test_text_becomes_us_layout_keystrokes():
    keys = k.text_keystrokes("eA !\n")
    assert keys == [(0x12, ord("e"), False), (0x1E, ord("A"), True), (0x39, 0x20, False),
                    (0x02, ord("!"), True), (0x1C, k.XK_RETURN, False)]
    assert k.text_keystrokes("é") == [(None, 0xE9, False)]
