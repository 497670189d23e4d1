"""RFB numbers and the client's messages, as the RFB protocol (RFC 6143 and the
community's rfbproto document for the QEMU and Tight extensions) defines them."""
from __future__ import annotations

import struct

# Security types
SEC_INVALID, SEC_NONE, SEC_VNC_AUTH, SEC_VENCRYPT = 0, 1, 2, 19

# Server -> client message types
MSG_FRAMEBUFFER_UPDATE, MSG_SET_COLOUR_MAP, MSG_BELL, MSG_SERVER_CUT_TEXT = 0, 1, 2, 3

# Encodings
ENC_RAW, ENC_COPYRECT, ENC_RRE, ENC_HEXTILE, ENC_TIGHT, ENC_ZRLE = 0, 1, 2, 5, 7, 16
ENC_TIGHT_PNG = -260
# Pseudo-encodings
ENC_DESKTOP_SIZE, ENC_LAST_RECT, ENC_CURSOR = -223, -224, -239
ENC_EXTENDED_DESKTOP_SIZE = -308
ENC_QEMU_POINTER_MOTION_CHANGE, ENC_QEMU_EXTENDED_KEY_EVENT = -257, -258
ENC_QEMU_LED_STATE = -261
ENC_JPEG_QUALITY_0 = -32     # -32..-23: JPEG quality levels 0..9 (Tight)
ENC_COMPRESS_LEVEL_0 = -256  # -256..-247: zlib compression levels 0..9

ENCODING_NAMES = {"raw": ENC_RAW, "copyrect": ENC_COPYRECT, "hextile": ENC_HEXTILE,
                  "zrle": ENC_ZRLE, "tight": ENC_TIGHT, "tightpng": ENC_TIGHT_PNG}

PSEUDO_ENCODINGS = (ENC_DESKTOP_SIZE, ENC_EXTENDED_DESKTOP_SIZE, ENC_LAST_RECT, ENC_CURSOR,
                    ENC_QEMU_EXTENDED_KEY_EVENT, ENC_QEMU_POINTER_MOTION_CHANGE,
                    ENC_QEMU_LED_STATE)

# The pixel format the client asks for: 32 bits, depth 24, little-endian true colour with
# red at bit 16 -> bytes B, G, R, X: the framebuffer's own layout, so Raw is one copy.
OUR_PIXEL_FORMAT = struct.pack(">BBBBHHHBBB3x", 32, 24, 0, 1, 255, 255, 255, 16, 8, 0)


def set_pixel_format(pixel_format: bytes = OUR_PIXEL_FORMAT) -> bytes:
    return b"\x00\x00\x00\x00" + pixel_format


def set_encodings(encodings: list[int]) -> bytes:
    return struct.pack(f">BxH{len(encodings)}i", 2, len(encodings), *encodings)


def update_request(incremental: bool, x: int, y: int, w: int, h: int) -> bytes:
    return struct.pack(">BBHHHH", 3, int(incremental), x, y, w, h)


def key_event(down: bool, keysym: int) -> bytes:
    return struct.pack(">BBxxI", 4, int(down), keysym)


def qemu_extended_key_event(down: bool, keysym: int, scancode: int) -> bytes:
    return struct.pack(">BBHII", 255, 0, int(down), keysym, scancode)


def pointer_event(buttons: int, x: int, y: int) -> bytes:
    return struct.pack(">BBHH", 5, buttons & 0xFF, max(0, min(x, 0xFFFF)),
                       max(0, min(y, 0xFFFF)))


def client_cut_text(text: str) -> bytes:
    data = text.encode("latin-1", "replace")
    return struct.pack(">BxxxI", 6, len(data)) + data
