"""Server-side RFB encoders for the console benchmark: they turn a realistic 1920x1080
screen into the byte streams a server would send (zlib and JPEG done by zlib and Pillow,
the tile choices made the way common servers make them: the smallest of raw, solid,
palette and run-length per tile). Benchmark input only; the client never uses this."""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np

from connectors.console.rfb import messages as m
from tests.unit.rfb_helpers import compact


def desktop_frames(width: int, height: int, count: int) -> list[np.ndarray]:
    """``count`` (h, w, 3) RGB screens of a desktop: a gradient wallpaper, a photo-like
    area and windows full of text, the text scrolling one line per frame."""
    from PySide6.QtCore import QRect
    from PySide6.QtGui import QColor, QFont, QImage, QLinearGradient, QPainter

    rng = np.random.default_rng(7)
    photo = rng.integers(0, 256, (height // 8 + 1, width // 8 + 1, 3)).astype(np.uint8)
    photo = np.kron(photo, np.ones((8, 8, 1), np.uint8))[:height // 2, :width // 3]
    frames = []
    for n in range(count):
        image = QImage(width, height, QImage.Format.Format_RGB32)
        p = QPainter(image)
        gradient = QLinearGradient(0, 0, width, height)
        gradient.setColorAt(0, QColor(30, 60, 120))
        gradient.setColorAt(1, QColor(120, 40, 90))
        p.fillRect(image.rect(), gradient)
        p.setFont(QFont("DejaVu Sans Mono", 11))
        for wx, wy, ww, wh in ((40, 40, 900, 700), (980, 120, 880, 500), (300, 600, 1200, 440)):
            p.fillRect(QRect(wx, wy, ww, wh), QColor(250, 250, 250))
            p.fillRect(QRect(wx, wy, ww, 28), QColor(60, 60, 70))
            p.setPen(QColor(20, 20, 20))
            for line in range((wh - 40) // 18):
                p.drawText(wx + 8, wy + 48 + line * 18,
                           f"{n + line:5d}  guest# ls -l /usr/lib/x86_64-linux-gnu | head "
                           f"-n {n * 7 + line} # line {line}")
        p.end()
        ptr = image.constBits()
        bgrx = np.frombuffer(ptr, np.uint8, width * height * 4).reshape(height, width, 4)
        rgb = bgrx[:, :, 2::-1].copy()
        rgb[height // 2:, width - width // 3:] = photo[:height - height // 2, :width // 3]
        frames.append(rgb)
    return frames


def _bgrx(rgb: np.ndarray) -> bytes:
    h, w, _ = rgb.shape
    out = np.zeros((h, w, 4), np.uint8)
    out[:, :, :3] = rgb[:, :, ::-1]
    return out.tobytes()


def _rect(x, y, w, h, encoding, body: bytes) -> bytes:
    return struct.pack(">HHHHi", x, y, w, h, encoding) + body


def _update(rects: list[bytes]) -> bytes:
    return struct.pack(">BxH", 0, len(rects)) + b"".join(rects)


def encode_raw(rgb: np.ndarray) -> bytes:
    h, w, _ = rgb.shape
    return _update([_rect(0, 0, w, h, m.ENC_RAW, _bgrx(rgb))])


def _words(rgb: np.ndarray) -> np.ndarray:
    c = rgb.astype(np.uint32)
    return (c[..., 0] << 16) | (c[..., 1] << 8) | c[..., 2]


def _run_bodies(heads: np.ndarray, lengths: np.ndarray, single_byte: bool) -> bytes:
    """Runs as ZRLE writes them, all at once: per run its head bytes (a CPIXEL, or a
    palette index with the top bit set), then the length less one as 255s and a
    remainder. With ``single_byte`` (palette RLE) a run of one is its bare index."""
    heads = heads.reshape(len(lengths), -1)
    head_size = heads.shape[1]
    extra = (lengths - 1) // 255  # 255-bytes before the remainder
    has_length = lengths > 1 if single_byte else np.ones(len(lengths), bool)
    sizes = head_size + np.where(has_length, extra + 1, 0)
    ends = np.cumsum(sizes)
    starts = ends - sizes
    out = np.full(int(ends[-1]), 255, np.uint8)
    for i in range(head_size):
        out[starts + i] = heads[:, i]
    out[(ends - 1)[has_length]] = ((lengths - 1) % 255)[has_length]
    return out.tobytes()


def _runs(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    starts = np.flatnonzero(np.r_[True, flat[1:] != flat[:-1]])
    lengths = np.diff(np.r_[starts, flat.size])
    return starts, lengths


def _zrle_tile(tile: np.ndarray) -> bytes:
    """One tile the way common servers choose: the smallest of raw, solid, packed
    palette, plain RLE and palette RLE. Built with numpy, not per pixel or per run."""
    th, tw, _ = tile.shape
    bgr = np.ascontiguousarray(tile[:, :, ::-1]).reshape(-1, 3)  # CPIXELs: B, G, R
    flat = _words(tile).ravel()
    colours, first, index = np.unique(flat, return_index=True, return_inverse=True)
    palette = bgr[first].tobytes()
    if colours.size == 1:
        return b"\x01" + palette
    best = b"\x00" + bgr.tobytes()
    run_starts, lengths = _runs(flat)
    if colours.size <= 16:
        bits = 1 if colours.size == 2 else 2 if colours.size <= 4 else 4
        idx = index.reshape(th, tw).astype(np.uint8)
        unpacked = ((idx[:, :, None] >> np.arange(bits - 1, -1, -1)) & 1).astype(np.uint8)
        packed = np.packbits(unpacked.reshape(th, tw * bits), axis=1).tobytes()
        candidate = bytes([colours.size]) + palette + packed
        best = min(best, candidate, key=len)
    if colours.size <= 127 and len(run_starts) * 2 < flat.size:
        heads = index.ravel()[run_starts].astype(np.uint8)
        heads = np.where(lengths > 1, heads | 0x80, heads).astype(np.uint8)
        body = bytes([128 + colours.size]) + palette + _run_bodies(heads, lengths, True)
        best = min(best, body, key=len)
    elif len(run_starts) * 4 < flat.size * 3:
        body = b"\x80" + _run_bodies(bgr[run_starts], lengths, False)
        best = min(best, body, key=len)
    return best


def encode_zrle_frames(frames: list[np.ndarray]) -> list[bytes]:
    stream = zlib.compressobj(6)
    out = []
    for rgb in frames:
        h, w, _ = rgb.shape
        tiles = b"".join(_zrle_tile(rgb[ty:ty + 64, tx:tx + 64])
                         for ty in range(0, h, 64) for tx in range(0, w, 64))
        data = stream.compress(tiles) + stream.flush(zlib.Z_SYNC_FLUSH)
        out.append(_update([_rect(0, 0, w, h, m.ENC_ZRLE, struct.pack(">I", len(data)) + data)]))
    return out


def _hextile_tile(tile: np.ndarray) -> bytes:
    words = _words(tile)
    th, tw = words.shape
    colours, counts = np.unique(words, return_counts=True)
    px = lambda w: struct.pack("<I", int(w))  # noqa: E731
    if colours.size == 1:
        return b"\x02" + px(colours[0])
    if colours.size == 2:
        bg, fg = colours[np.argsort(-counts)]
        subrects = bytearray()
        n = 0
        for y in range(th):
            row = words[y] == fg
            starts = np.flatnonzero(np.diff(np.r_[0, row.astype(np.int8)]) == 1)
            ends = np.flatnonzero(np.diff(np.r_[row.astype(np.int8), 0]) == -1)
            for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
                subrects += bytes([(s << 4) | y, ((e - s) << 4)])
                n += 1
        if n <= 255 and 1 + 8 + 1 + 2 * n < tw * th * 4:
            return b"\x0e" + px(bg) + px(fg) + bytes([n]) + bytes(subrects)
    return b"\x01" + _bgrx(tile)


def encode_hextile(rgb: np.ndarray) -> bytes:
    h, w, _ = rgb.shape
    body = b"".join(_hextile_tile(rgb[ty:ty + 16, tx:tx + 16])
                    for ty in range(0, h, 16) for tx in range(0, w, 16))
    return _update([_rect(0, 0, w, h, m.ENC_HEXTILE, body)])


def encode_tight_jpeg(rgb: np.ndarray, quality: int = 80, strip: int = 32) -> bytes:
    """Full-width strips (at most 65536 pixels each, as TigerVNC sends them) as JPEG."""
    from PIL import Image
    h, w, _ = rgb.shape
    rects = []
    for y in range(0, h, strip):
        part = rgb[y:y + strip]
        buf = io.BytesIO()
        Image.fromarray(part).save(buf, "JPEG", quality=quality)
        data = buf.getvalue()
        rects.append(_rect(0, y, w, part.shape[0], m.ENC_TIGHT,
                           b"\x90" + compact(len(data)) + data))
    return _update(rects)


def encode_tight_frames(frames: list[np.ndarray], tile_w: int = 128, tile_h: int = 64
                        ) -> list[bytes]:
    """Lossless Tight, as servers send it without a JPEG quality: per rectangle a fill,
    a palette (1 bit per pixel for two colours, else a byte) or full colour, each kind on
    its own zlib stream (0: full colour, 1: two colours, 2: palette)."""
    streams = [zlib.compressobj(6) for _ in range(3)]

    def payload(stream: int, raw: bytes) -> bytes:
        if len(raw) < 12:
            return raw
        data = streams[stream].compress(raw) + streams[stream].flush(zlib.Z_SYNC_FLUSH)
        return compact(len(data)) + data

    out = []
    for rgb in frames:
        h, w, _ = rgb.shape
        rects = []
        for y in range(0, h, tile_h):
            for x in range(0, w, tile_w):
                part = rgb[y:y + tile_h, x:x + tile_w]
                ph, pw, _ = part.shape
                words = _words(part)
                colours, index = np.unique(words, return_inverse=True)
                if colours.size == 1:
                    body = b"\x80" + bytes(part[0, 0])
                elif colours.size <= 256:
                    palette = b"".join(struct.pack(">I", int(c))[1:] for c in colours)
                    idx = index.reshape(ph, pw).astype(np.uint8)
                    if colours.size == 2:
                        raw, stream = np.packbits(idx, axis=1).tobytes(), 1
                    else:
                        raw, stream = idx.tobytes(), 2
                    body = (bytes([0x40 | (stream << 4), 1, colours.size - 1]) + palette
                            + payload(stream, raw))
                else:
                    body = b"\x00" + payload(0, np.ascontiguousarray(part).tobytes())
                rects.append(_rect(x, y, pw, ph, m.ENC_TIGHT, body))
        out.append(_update(rects))
    return out
