"""Keyboard tables as plain data: Qt key codes (passed as ints, so no Qt import here) to
X keysyms (what RFB's KeyEvent carries) and to PC scancodes (what QEMU's extended key
event carries, which makes keys right whatever the two keyboard layouts are).

Scancodes are QEMU's "qnum" numbering: the XT set-1 make code, with keys that need the
0xE0 prefix written as 0x80 | code (right Ctrl is 0x9D). The values of the Qt constants
are checked against PySide6 by tests/unit/test_console_keymap.py.
"""
from __future__ import annotations

# ---- Qt key codes (Qt::Key) ----
QT_ESCAPE, QT_TAB, QT_BACKTAB, QT_BACKSPACE = 0x01000000, 0x01000001, 0x01000002, 0x01000003
QT_RETURN, QT_ENTER, QT_INSERT, QT_DELETE = 0x01000004, 0x01000005, 0x01000006, 0x01000007
QT_PAUSE, QT_PRINT, QT_SYSREQ = 0x01000008, 0x01000009, 0x0100000A
QT_HOME, QT_END, QT_LEFT, QT_UP = 0x01000010, 0x01000011, 0x01000012, 0x01000013
QT_RIGHT, QT_DOWN, QT_PAGEUP, QT_PAGEDOWN = 0x01000014, 0x01000015, 0x01000016, 0x01000017
QT_SHIFT, QT_CONTROL, QT_META, QT_ALT = 0x01000020, 0x01000021, 0x01000022, 0x01000023
QT_CAPSLOCK, QT_NUMLOCK, QT_SCROLLLOCK = 0x01000024, 0x01000025, 0x01000026
QT_F1 = 0x01000030  # F1..F35 are consecutive
QT_SUPER_L, QT_SUPER_R, QT_MENU = 0x01000053, 0x01000054, 0x01000055
QT_ALTGR = 0x01001103

# ---- X keysyms ----
XK_BACKSPACE, XK_TAB, XK_RETURN, XK_ESCAPE, XK_DELETE = 0xFF08, 0xFF09, 0xFF0D, 0xFF1B, 0xFFFF
XK_HOME, XK_LEFT, XK_UP, XK_RIGHT, XK_DOWN = 0xFF50, 0xFF51, 0xFF52, 0xFF53, 0xFF54
XK_PAGE_UP, XK_PAGE_DOWN, XK_END, XK_INSERT = 0xFF55, 0xFF56, 0xFF57, 0xFF63
XK_PRINT, XK_SYS_REQ, XK_PAUSE, XK_SCROLL_LOCK, XK_NUM_LOCK = 0xFF61, 0xFF15, 0xFF13, 0xFF14, 0xFF7F
XK_MENU, XK_KP_ENTER, XK_F1 = 0xFF67, 0xFF8D, 0xFFBE
XK_SHIFT_L, XK_SHIFT_R, XK_CONTROL_L, XK_CONTROL_R = 0xFFE1, 0xFFE2, 0xFFE3, 0xFFE4
XK_CAPS_LOCK, XK_META_L, XK_ALT_L, XK_ALT_R = 0xFFE5, 0xFFE7, 0xFFE9, 0xFFEA
XK_SUPER_L, XK_SUPER_R, XK_ISO_LEVEL3_SHIFT, XK_ISO_LEFT_TAB = 0xFFEB, 0xFFEC, 0xFE03, 0xFE20

# ---- scancodes (qnum) of the keys the Send Key menu and the tables below need ----
SC_ESCAPE, SC_BACKSPACE, SC_TAB, SC_RETURN = 0x01, 0x0E, 0x0F, 0x1C
SC_CONTROL_L, SC_SHIFT_L, SC_SHIFT_R, SC_ALT_L, SC_SPACE = 0x1D, 0x2A, 0x36, 0x38, 0x39
SC_CAPS_LOCK, SC_NUM_LOCK, SC_SCROLL_LOCK = 0x3A, 0x45, 0x46
SC_SYSRQ = 0x54  # Alt+PrintScreen on a PC keyboard
SC_CONTROL_R, SC_ALT_R, SC_KP_ENTER, SC_PRINT, SC_PAUSE = 0x9D, 0xB8, 0x9C, 0xB7, 0xC6
SC_HOME, SC_UP, SC_PAGE_UP, SC_LEFT, SC_RIGHT = 0xC7, 0xC8, 0xC9, 0xCB, 0xCD
SC_END, SC_DOWN, SC_PAGE_DOWN, SC_INSERT, SC_DELETE = 0xCF, 0xD0, 0xD1, 0xD2, 0xD3
SC_SUPER_L, SC_SUPER_R, SC_MENU = 0xDB, 0xDC, 0xDD


def sc_function_key(n: int) -> int:
    """F1..F10 are 0x3B..0x44; F11 and F12 came later, at 0x57 and 0x58."""
    if 1 <= n <= 10:
        return 0x3A + n
    if n in (11, 12):
        return 0x4C + n
    raise ValueError(f"no scancode for F{n}")


# The US layout: each printable character -> (scancode, shift held). Used for scancodes of
# character keys and for typing the clipboard's text.
_US_ROWS = [
    # (scancode of the first key, unshifted characters, shifted characters)
    (0x02, "1234567890-=", "!@#$%^&*()_+"),
    (0x10, "qwertyuiop[]", "QWERTYUIOP{}"),
    (0x1E, "asdfghjkl;'`", 'ASDFGHJKL:"~'),
    (0x2B, "\\zxcvbnm,./", "|ZXCVBNM<>?"),
]
US_CHARS: dict[str, tuple[int, bool]] = {" ": (SC_SPACE, False), "\n": (SC_RETURN, False),
                                          "\t": (SC_TAB, False)}
for _first, _plain, _shifted in _US_ROWS:
    for _i, (_p, _s) in enumerate(zip(_plain, _shifted, strict=True)):
        US_CHARS[_p] = (_first + _i, False)
        US_CHARS[_s] = (_first + _i, True)

# Qt keys that are not characters.
QT_TO_KEYSYM: dict[int, int] = {
    QT_ESCAPE: XK_ESCAPE, QT_TAB: XK_TAB, QT_BACKTAB: XK_ISO_LEFT_TAB,
    QT_BACKSPACE: XK_BACKSPACE, QT_RETURN: XK_RETURN, QT_ENTER: XK_KP_ENTER,
    QT_INSERT: XK_INSERT, QT_DELETE: XK_DELETE, QT_PAUSE: XK_PAUSE, QT_PRINT: XK_PRINT,
    QT_SYSREQ: XK_SYS_REQ, QT_HOME: XK_HOME, QT_END: XK_END, QT_LEFT: XK_LEFT, QT_UP: XK_UP,
    QT_RIGHT: XK_RIGHT, QT_DOWN: XK_DOWN, QT_PAGEUP: XK_PAGE_UP, QT_PAGEDOWN: XK_PAGE_DOWN,
    QT_SHIFT: XK_SHIFT_L, QT_CONTROL: XK_CONTROL_L, QT_META: XK_SUPER_L, QT_ALT: XK_ALT_L,
    QT_CAPSLOCK: XK_CAPS_LOCK, QT_NUMLOCK: XK_NUM_LOCK, QT_SCROLLLOCK: XK_SCROLL_LOCK,
    QT_SUPER_L: XK_SUPER_L, QT_SUPER_R: XK_SUPER_R, QT_MENU: XK_MENU,
    QT_ALTGR: XK_ISO_LEVEL3_SHIFT,
    **{QT_F1 + i: XK_F1 + i for i in range(12)},
}

QT_TO_SCANCODE: dict[int, int] = {
    QT_ESCAPE: SC_ESCAPE, QT_TAB: SC_TAB, QT_BACKTAB: SC_TAB, QT_BACKSPACE: SC_BACKSPACE,
    QT_RETURN: SC_RETURN, QT_ENTER: SC_KP_ENTER, QT_INSERT: SC_INSERT, QT_DELETE: SC_DELETE,
    QT_PAUSE: SC_PAUSE, QT_PRINT: SC_PRINT, QT_SYSREQ: SC_SYSRQ, QT_HOME: SC_HOME,
    QT_END: SC_END, QT_LEFT: SC_LEFT, QT_UP: SC_UP, QT_RIGHT: SC_RIGHT, QT_DOWN: SC_DOWN,
    QT_PAGEUP: SC_PAGE_UP, QT_PAGEDOWN: SC_PAGE_DOWN, QT_SHIFT: SC_SHIFT_L,
    QT_CONTROL: SC_CONTROL_L, QT_META: SC_SUPER_L, QT_ALT: SC_ALT_L, QT_CAPSLOCK: SC_CAPS_LOCK,
    QT_NUMLOCK: SC_NUM_LOCK, QT_SCROLLLOCK: SC_SCROLL_LOCK, QT_SUPER_L: SC_SUPER_L,
    QT_SUPER_R: SC_SUPER_R, QT_MENU: SC_MENU, QT_ALTGR: SC_ALT_R,
    **{QT_F1 + i: sc_function_key(i + 1) for i in range(12)},
    # Character keys: Qt names them by their unshifted (letters: upper-case) character.
    **{ord(ch.upper()) if ch.isalpha() else ord(ch): code
       for ch, (code, _shift) in US_CHARS.items() if ch not in "\n\t"},
}

# Linux evdev key codes (what X11 and Wayland report as native scan code minus 8) to qnum:
# the main block is numbered alike; the keys after it need the table.
_EVDEV_EXTENDED = {
    96: SC_KP_ENTER, 97: SC_CONTROL_R, 98: 0xB5, 99: SC_PRINT, 100: SC_ALT_R, 102: SC_HOME,
    103: SC_UP, 104: SC_PAGE_UP, 105: SC_LEFT, 106: SC_RIGHT, 107: SC_END, 108: SC_DOWN,
    109: SC_PAGE_DOWN, 110: SC_INSERT, 111: SC_DELETE, 119: SC_PAUSE, 125: SC_SUPER_L,
    126: SC_SUPER_R, 127: SC_MENU,
}


def evdev_to_scancode(code: int) -> int | None:
    if 1 <= code <= 88:
        return code
    return _EVDEV_EXTENDED.get(code)


def char_keysym(ch: str) -> int:
    """X keysym of a character: Latin-1 as itself, the rest as 0x01000000 + code point."""
    cp = ord(ch)
    if ch == "\n":
        return XK_RETURN
    if ch == "\t":
        return XK_TAB
    if 0x20 <= cp <= 0x7E or 0xA0 <= cp <= 0xFF:
        return cp
    return 0x01000000 + cp


def qt_keysym(qt_key: int, text: str = "") -> int | None:
    """The keysym for a Qt key event: its text when it is one printable character (the
    local layout already applied), else the table."""
    if len(text) == 1 and text.isprintable():
        return char_keysym(text)
    if qt_key in QT_TO_KEYSYM:
        return QT_TO_KEYSYM[qt_key]
    if 0x20 <= qt_key <= 0x7E:
        return ord(chr(qt_key).lower())
    return None


def qt_scancode(qt_key: int, native_evdev: int | None = None) -> int | None:
    """The qnum scancode for a Qt key event: from the native key code when the platform
    gives one (exact, left/right distinct), else by the key's place on a US keyboard."""
    if native_evdev is not None:
        code = evdev_to_scancode(native_evdev)
        if code is not None:
            return code
    return QT_TO_SCANCODE.get(qt_key)


def text_keystrokes(text: str) -> list[tuple[int | None, int, bool]]:
    """Keys that type ``text`` on a US-layout guest: (scancode or None, keysym, shift)
    per character. Characters without a US key get scancode None (keysym only)."""
    keys = []
    for ch in text.replace("\r\n", "\n"):
        code, shift = US_CHARS.get(ch, (None, False))
        keys.append((code, char_keysym(ch), shift))
    return keys


# The Send Key menu: keys a desktop would catch for itself. (label, [(scancode, keysym)]).
_CTRL, _ALT = (SC_CONTROL_L, XK_CONTROL_L), (SC_ALT_L, XK_ALT_L)
SEND_KEYS: list[tuple[str, list[tuple[int, int]]]] = [
    ("Ctrl+Alt+Del", [_CTRL, _ALT, (SC_DELETE, XK_DELETE)]),
    ("Ctrl+Alt+Backspace", [_CTRL, _ALT, (SC_BACKSPACE, XK_BACKSPACE)]),
    *[(f"Ctrl+Alt+F{n}", [_CTRL, _ALT, (sc_function_key(n), XK_F1 + n - 1)])
      for n in range(1, 13)],
    ("PrintScreen", [(SC_PRINT, XK_PRINT)]),
    ("SysRq", [_ALT, (SC_SYSRQ, XK_SYS_REQ)]),
]
