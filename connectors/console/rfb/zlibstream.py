"""Bounded inflation of one of a connection's long-lived zlib streams (ZRLE has one,
Tight four): a rectangle never inflates to more than its worst-case size."""
from __future__ import annotations

import zlib

from connectors.console.state import ProtocolError


class ZlibStream:
    def __init__(self) -> None:
        self._inflater = zlib.decompressobj()

    def reset(self) -> None:
        self._inflater = zlib.decompressobj()

    def inflate(self, data: bytes, limit: int) -> bytes:
        """All of ``data`` inflated, refusing more than ``limit`` bytes of output."""
        try:
            out = self._inflater.decompress(data, limit)
            tail = self._inflater.unconsumed_tail
            while tail:
                # Whatever is left may only be flush markers that produce nothing.
                if self._inflater.decompress(tail, 1):
                    raise ProtocolError("compressed data inflates beyond its rectangle")
                if self._inflater.unconsumed_tail == tail:
                    raise ProtocolError("compressed data does not progress")
                tail = self._inflater.unconsumed_tail
        except zlib.error as err:
            raise ProtocolError(f"corrupt compressed data ({err})") from None
        return out
