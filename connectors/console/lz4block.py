"""LZ4 blocks decompressed straight into memory the caller owns (a piece of the
framebuffer), through liblz4's LZ4_decompress_safe.

Why not python-lz4 alone: it only returns new bytes, and for a 1920x1080 SPICE image
that is an 8 MB allocation per frame whose page faults cost about as much as the
decompression itself, followed by a second pass to copy the pixels into the screen.
LZ4_decompress_safe never reads past its input nor writes past ``len(out)`` whatever the
bytes say, so a hostile server gets the same guarantees as with python-lz4.

Without liblz4 (it is part of every Debian system, but a wheel may land elsewhere)
``AVAILABLE`` is False and callers keep python-lz4's path.
"""
from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any

import numpy as np

# Above this an int-sized length could overflow; no console message comes near it.
MAX_BLOCK = (1 << 31) - 1


def _load() -> Any:
    """liblz4's LZ4_decompress_safe with its argument types, or None."""
    for name in ("liblz4.so.1", ctypes.util.find_library("lz4")):
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        function = lib.LZ4_decompress_safe
        function.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        function.restype = ctypes.c_int
        return function
    return None


_DECOMPRESS_SAFE = _load()
AVAILABLE = _DECOMPRESS_SAFE is not None


def decompress_into(block: bytes | memoryview, out: np.ndarray) -> int:
    """Decompress one LZ4 block into ``out`` (C-contiguous and writable); the number of
    bytes written, or -1 when the block is broken or would not fit (``out`` may then
    hold part of it). Only to be called when AVAILABLE."""
    if not (out.flags.c_contiguous and out.flags.writeable):
        raise ValueError("LZ4 decompresses only into contiguous, writable memory")
    if len(block) > MAX_BLOCK or out.nbytes > MAX_BLOCK:
        return -1
    if not len(block):
        return -1
    source = np.frombuffer(block, np.uint8)  # no copy, read-only is fine
    written: int = _DECOMPRESS_SAFE(source.ctypes.data, out.ctypes.data, len(source),
                                    out.nbytes)
    return written if written >= 0 else -1
