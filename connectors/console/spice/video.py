"""The display channel's video streams: a region the server sends as a run of frames.

A server that sees a region change many times a second (a playing video, a scrolling
page) streams it: STREAM_CREATE names its surface, size, place and clip, then each
STREAM_DATA (or STREAM_DATA_SIZED, with a size and place of its own) carries one frame.
HVConsole announces MJPEG only (its frames are JPEGs, decoded in C by libjpeg-turbo); a
stream in any other codec is named once through the display's notice and not drawn.
"""
from __future__ import annotations

from typing import Protocol

import numpy as np

from connectors.console.spice import canvas
from connectors.console.spice.canvas import Box, Surface, read_clip, read_rect
from connectors.console.spice.images import check_image_size, decode_jpeg
from connectors.console.spice.wire import Payload
from connectors.console.state import ProtocolError

STREAM_TOP_DOWN = 1
CODEC_MJPEG = 1
CODEC_NAMES = {1: "MJPEG", 2: "VP8", 3: "H.264", 4: "VP9", 5: "H.265"}
MAX_STREAMS = 64


class Screen(Protocol):
    """What streams need of the display channel: its surfaces and where damage goes."""

    surfaces: dict[int, Surface]

    def target(self, surface_id: int) -> Surface | None: ...
    def words(self, surface: Surface) -> np.ndarray: ...
    def damage(self, surface: Surface, parts: list[Box]) -> None: ...
    def notice(self, what: str) -> None: ...


class Stream:
    """A video stream: frames of width x height drawn over ``dest``, inside ``clip``
    (an (n, 4) array of rectangles, or None)."""

    __slots__ = ("surface_id", "codec", "top_down", "width", "height", "dest", "clip")

    def __init__(self, surface_id: int, codec: int, top_down: bool, width: int, height: int,
                 dest: Box, clip: np.ndarray | None) -> None:
        self.surface_id = surface_id
        self.codec = codec
        self.top_down = top_down
        self.width = width
        self.height = height
        self.dest = dest
        self.clip = clip


class VideoStreams:
    """The streams of one display channel; each ``on_*`` handles one message."""

    def __init__(self, screen: Screen) -> None:
        self.screen = screen
        self.streams: dict[int, Stream] = {}

    def clear(self) -> None:
        self.streams.clear()

    def forget_surface(self, surface_id: int) -> None:
        """A surface was destroyed: so are the streams drawn on it."""
        for stream_id in [i for i, s in self.streams.items() if s.surface_id == surface_id]:
            del self.streams[stream_id]

    def on_create(self, data: memoryview) -> None:
        p = Payload(data, "stream")
        surface_id, stream_id, flags, codec, _stamp = p.unpack("IIBBQ")
        width, height, _src_w, _src_h = p.unpack("IIII")
        dest = read_rect(p)
        rects = read_clip(p)
        if stream_id in self.streams or len(self.streams) >= MAX_STREAMS:
            raise ProtocolError(f"stream {stream_id} created twice, or too many streams")
        check_image_size(width, height, "video")
        surface = self.screen.target(surface_id)
        if surface is not None:
            canvas.check_box(dest, surface.width, surface.height, "video")
        if codec != CODEC_MJPEG:
            self.screen.notice(f"video in {CODEC_NAMES.get(codec, f'codec {codec}')}")
        self.streams[stream_id] = Stream(surface_id, codec, bool(flags & STREAM_TOP_DOWN),
                                         width, height, dest, rects)

    def _stream(self, stream_id: int) -> Stream:
        stream = self.streams.get(stream_id)
        if stream is None:
            raise ProtocolError(f"a frame of stream {stream_id}, which does not exist")
        return stream

    def on_data(self, data: memoryview) -> None:
        p = Payload(data, "video frame")
        stream_id, _time, size = p.unpack("III")
        stream = self._stream(stream_id)
        self._frame(stream, p.take(size), stream.width, stream.height, stream.dest)

    def on_data_sized(self, data: memoryview) -> None:
        p = Payload(data, "video frame")
        stream_id, _time, width, height = p.unpack("IIII")
        dest = read_rect(p)
        size = p.u32()
        stream = self._stream(stream_id)
        check_image_size(width, height, "video frame")
        surface = self.screen.surfaces.get(stream.surface_id)
        if surface is not None:
            canvas.check_box(dest, surface.width, surface.height, "video frame")
        self._frame(stream, p.take(size), width, height, dest)

    def _frame(self, stream: Stream, body: memoryview, width: int, height: int,
               dest: Box) -> None:
        if stream.codec != CODEC_MJPEG:
            return
        surface = self.screen.surfaces.get(stream.surface_id)
        if surface is None:
            return
        left, top, right, bottom = dest
        if stream.top_down and stream.clip is None:
            # Unscaled and unclipped (what QEMU sends for a video playing in a window):
            # libjpeg-turbo writes the screen itself, no frame array and copy.
            region = self.screen.words(surface)[top:bottom, left:right]
            if region.shape == (height, width):
                decode_jpeg(body, width, height, region)
                self.screen.damage(surface, [dest])
                return
        frame = decode_jpeg(body, width, height)
        if not stream.top_down:
            frame = frame[::-1]
        block = canvas.scale(frame, dest[2] - dest[0], dest[3] - dest[1], True)
        parts = canvas.clip_boxes(dest, stream.clip)
        canvas.draw(self.screen.words(surface), dest, parts, block)
        self.screen.damage(surface, parts)

    def on_clip(self, data: memoryview) -> None:
        p = Payload(data, "stream clip")
        stream = self._stream(p.u32())
        stream.clip = read_clip(p)

    def on_destroy(self, data: memoryview) -> None:
        stream_id = Payload(data, "stream").u32()
        if self.streams.pop(stream_id, None) is None:
            raise ProtocolError(f"stream {stream_id} destroyed but never created")

    def on_destroy_all(self, data: memoryview) -> None:
        self.streams.clear()
