"""Hostile and broken server streams: whatever a server sends, the client either applies
it or stops with a ConsoleError (ProtocolError, AuthenticationError) — no other
exception, no hang (every run is bounded by a timeout), and no allocation beyond a
bound (sizes are refused before anything is allocated)."""
from __future__ import annotations

import asyncio
import struct
import tracemalloc
import zlib

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from connectors.console.rfb import messages as m
from connectors.console.state import ConsoleError, ProtocolError
from tests.unit.rfb_helpers import handshake_38, rect, run_client, update

FUZZ = settings(deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
ENCODINGS = [m.ENC_RAW, m.ENC_COPYRECT, m.ENC_HEXTILE, m.ENC_ZRLE, m.ENC_TIGHT,
             m.ENC_TIGHT_PNG, m.ENC_DESKTOP_SIZE, m.ENC_EXTENDED_DESKTOP_SIZE, m.ENC_CURSOR,
             m.ENC_LAST_RECT, m.ENC_QEMU_LED_STATE, m.ENC_QEMU_EXTENDED_KEY_EVENT,
             m.ENC_QEMU_POINTER_MOTION_CHANGE]
ALL = ("raw", "hextile", "zrle", "tight", "tightpng")
MEMORY_BOUND = 64 << 20  # far above a 64x48 screen, far below a 65535x65535 one


def survive(data: bytes) -> None:
    """Run a client against ``data``; only ConsoleErrors may come out, within 10 s."""
    async def go():
        try:
            await run_client(data, timeout=10, encodings=ALL)
        except ConsoleError:
            pass
    tracemalloc.start()
    try:
        asyncio.run(go())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND


@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes_as_the_whole_stream(data):
    survive(data)


@FUZZ
@given(st.binary(max_size=600))
def test_any_bytes_after_a_valid_handshake(data):
    survive(handshake_38() + data)


small = st.integers(0, 80)


@FUZZ
@given(st.lists(st.tuples(small, small, small, small, st.sampled_from(ENCODINGS),
                          st.binary(max_size=200)), min_size=1, max_size=4))
def test_rectangles_with_random_bodies(rects):
    survive(handshake_38() + update(*(rect(*r) for r in rects)))


@FUZZ
@given(st.integers(1, 64), st.integers(1, 48), st.binary(max_size=400), st.booleans())
def test_zrle_with_random_inflated_payload(w, h, payload, sync):
    stream = zlib.compressobj()
    data = stream.compress(payload) + stream.flush(zlib.Z_SYNC_FLUSH if sync else zlib.Z_FINISH)
    survive(handshake_38() + update(rect(0, 0, w, h, m.ENC_ZRLE,
                                         struct.pack(">I", len(data)) + data)))


@FUZZ
@given(st.integers(1, 64), st.integers(1, 48), st.integers(0, 255), st.binary(max_size=400))
def test_tight_with_random_control_and_payload(w, h, control, payload):
    survive(handshake_38() + update(rect(0, 0, w, h, m.ENC_TIGHT, bytes([control]) + payload)))


@FUZZ
@given(st.binary(min_size=0, max_size=40), st.integers(0, 3))
def test_handshakes_with_random_security_phases(tail, version):
    banner = [b"RFB 003.003\n", b"RFB 003.007\n", b"RFB 003.008\n", b"RFB 004.001\n"][version]
    survive(banner + tail)


@pytest.mark.parametrize("message", [
    # The screen itself
    b"RFB 003.008\n" + bytes([1, 1]) + struct.pack(">I", 0) + struct.pack(">HH", 65535, 65535)
    + bytes(16) + struct.pack(">I", 0),
    # DesktopSize and ExtendedDesktopSize to 65535x65535
    handshake_38() + update(rect(0, 0, 65535, 65535, m.ENC_DESKTOP_SIZE)),
    handshake_38() + update(rect(0, 0, 65535, 65535, m.ENC_EXTENDED_DESKTOP_SIZE,
                                 bytes(4))),
    # A rectangle far outside the screen, in each encoding
    *[handshake_38() + update(rect(0, 0, 65535, 65535, enc)) for enc in
      (m.ENC_RAW, m.ENC_HEXTILE, m.ENC_ZRLE, m.ENC_TIGHT)],
    # Huge lengths: clipboard, desktop name, ZRLE data, cursor
    handshake_38() + struct.pack(">B3xI", 3, 0xFFFFFFFF),
    b"RFB 003.008\n" + bytes([1, 1]) + struct.pack(">I", 0) + struct.pack(">HH", 8, 8)
    + bytes(16) + struct.pack(">I", 0xFFFFFFFF),
    handshake_38() + update(rect(0, 0, 8, 8, m.ENC_ZRLE, struct.pack(">I", 0xFFFFFFFF))),
    handshake_38() + update(rect(0, 0, 65535, 65535, m.ENC_CURSOR)),
    # A zlib bomb: 8x8 pixels promised, megabytes of zeros inflated
    handshake_38() + update(rect(0, 0, 8, 8, m.ENC_TIGHT, bytes([0x00]) + bytes([0xFF, 0xFF, 0x03])
                                 + zlib.compress(bytes(1 << 22)))),
])
def test_huge_sizes_are_refused_before_allocating(message):
    async def go():
        await run_client(message, timeout=10)
    tracemalloc.start()
    try:
        with pytest.raises(ProtocolError):
            asyncio.run(go())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND


def test_a_server_that_stalls_mid_message_times_out(monkeypatch):
    from connectors.console.rfb import client as client_module
    monkeypatch.setattr(client_module, "BODY_TIMEOUT_S", 0.3)

    async def go():
        from tests.unit.rfb_helpers import ScriptedServer
        from connectors.console.rfb.client import RfbClient
        # A header promising 8x8 raw pixels, then nothing (the socket stays open).
        server = ScriptedServer(handshake_38() + struct.pack(">BxH", 0, 1)
                                + rect(0, 0, 8, 8, m.ENC_RAW), eof=False)
        c = RfbClient(server)
        await c.connect()
        await asyncio.wait_for(c.run(), 10)
    with pytest.raises(ProtocolError, match="stopped in the middle"):
        asyncio.run(go())
