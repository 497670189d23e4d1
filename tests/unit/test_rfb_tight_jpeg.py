"""Tight JPEG decoded by simplejpeg (libjpeg-turbo into the framebuffer) and by Pillow
must give the same pixels: both run libjpeg-turbo at full quality. JPEGs come from a real
encoder (Pillow's libjpeg-turbo, as benchmarks/rfb_encoders.py uses it)."""
from __future__ import annotations

import asyncio
import io
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image

from benchmarks.rfb_encoders import desktop_frames
from connectors.console.framebuffer import Framebuffer, Rect
from connectors.console.rfb import tight
from connectors.console.state import ProtocolError
from tests.unit.rfb_helpers import compact, memory_reader

EXAMPLES = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def test_simplejpeg_is_installed():
    # A dependency in pyproject.toml; without it every JPEG goes the slower Pillow way.
    assert tight.SIMPLEJPEG is not None


def _jpeg(rgb: np.ndarray, mode: str = "RGB", **save) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).convert(mode).save(buf, "JPEG", **save)
    return buf.getvalue()


def _decode(jpeg: bytes, fb: Framebuffer, x: int, y: int, w: int, h: int, simple: bool):
    decoder = tight.TightDecoder(jpeg=simple)
    assert (decoder.jpeg is not None) == simple
    body = bytes([0x90]) + compact(len(jpeg)) + jpeg
    asyncio.run(decoder.decode(memory_reader(body), fb, x, y, w, h))


def _both(jpeg: bytes, size: tuple[int, int], x: int, y: int, w: int, h: int):
    out = []
    for simple in (True, False):
        fb = Framebuffer(*size)
        _decode(jpeg, fb, x, y, w, h, simple)
        assert Rect(x, y, w, h) in fb.take_damage()
        out.append(fb.words.copy())
    assert np.array_equal(out[0], out[1])
    assert ((out[0] >> 24) == 0xFF).all()
    return out[0]


def test_desktop_strips_full_width_and_offset_are_identical_both_ways(qapp):
    rgb = desktop_frames(256, 96, 1)[0]
    for quality, subsampling in ((80, 2), (95, 0)):
        strip = rgb[:32]
        data = _jpeg(strip, quality=quality, subsampling=subsampling)
        # Full width: decoded in place, the rows being contiguous in the framebuffer.
        words = _both(data, (256, 96), 0, 40, 256, 32)
        got = np.stack([(words >> 16) & 255, (words >> 8) & 255, words & 255], -1)[40:72]
        assert np.abs(got.astype(int) - strip.astype(int)).mean() < 8
        # Not full width: decoded aside, then copied in.
        _both(data, (300, 96), 30, 10, 256, 32)


@EXAMPLES
@given(st.integers(0, 2**32 - 1), st.integers(1, 80), st.integers(1, 60),
       st.integers(0, 20), st.integers(0, 20), st.sampled_from(["RGB", "L"]),
       st.sampled_from([10, 50, 90, 100]))
def test_random_images_are_identical_both_ways(seed, w, h, x, y, mode, quality):
    rng = np.random.default_rng(seed)
    rgb = np.kron(rng.integers(0, 256, (h // 4 + 1, w // 4 + 1, 3), np.uint8),
                  np.ones((4, 4, 1), np.uint8))[:h, :w]
    _both(_jpeg(rgb, mode, quality=quality), (100, 80), x, y, w, h)


def test_cmyk_jpeg_is_left_to_pillow():
    rgb = np.full((8, 16, 3), (200, 30, 60), np.uint8)
    data = _jpeg(rgb, "CMYK", quality=95)
    fb = Framebuffer(16, 8)
    _decode(data, fb, 0, 0, 16, 8, simple=True)
    assert np.abs(fb.rgb().astype(int) - rgb.astype(int)).max() < 12


@pytest.mark.parametrize("simple", [True, False])
def test_an_image_of_the_wrong_size_is_refused(simple):
    data = _jpeg(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ProtocolError, match="does not fill"):
        _decode(data, Framebuffer(32, 32), 0, 0, 16, 8, simple)


@EXAMPLES
@given(st.integers(0, 2000), st.binary(min_size=1, max_size=64), st.booleans())
def test_corrupt_jpegs_are_refused_not_crashed_either_way(cut, junk, simple):
    rgb = np.random.default_rng(3).integers(0, 256, (24, 40, 3), np.uint8)
    good = _jpeg(rgb, quality=70)
    cut = min(cut, len(good) - 1)
    data = good[:cut] + junk + good[cut + len(junk):]
    fb = Framebuffer(64, 32)
    tracemalloc.start()
    try:
        try:
            _decode(data, fb, 0, 0, 40, 24, simple)
        except ProtocolError:
            pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20
    assert ((fb.words >> 24) == 0xFF).all()
