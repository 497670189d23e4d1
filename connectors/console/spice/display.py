"""The SPICE display channel: surfaces, drawing commands and image caches, drawn into the
console's framebuffer (the primary surface) with numpy; its MJPEG video streams are
video.py's.

The capabilities and the preferred compression announce what HVConsole decodes in C
(bitmaps, LZ4, JPEG, MJPEG streams) so that a server never needs to send QUIC or GLZ,
which Python would decode slowly. Whatever a server still sends that HVConsole cannot
show is skipped and named once through ``client.on_notice``, rather than drawn as
garbage. Anything malformed (offsets, lengths, sizes outside the message or the
surface) is a ProtocolError; sizes are checked before anything is allocated.
"""
from __future__ import annotations

import logging
import struct

import numpy as np

from connectors.console.client import ConsoleClient
from connectors.console.framebuffer import MAX_HEIGHT, MAX_WIDTH
from connectors.console.spice import canvas, wire
from connectors.console.spice import images as image_types
from connectors.console.spice.canvas import (CLIP_NONE, Block, Box, Surface, read_clip,
                                             read_rect)
from connectors.console.spice.images import ImageDecoder, UnsupportedImage, check_image_size
from connectors.console.spice.video import VideoStreams
from connectors.console.spice.wire import Payload
from connectors.console.state import ProtocolError

log = logging.getLogger(__name__)

# ---- server messages ----
MSG_MODE, MSG_MARK, MSG_RESET, MSG_COPY_BITS = 101, 102, 103, 104
MSG_INVAL_LIST, MSG_INVAL_ALL_PIXMAPS = 105, 106
MSG_INVAL_PALETTE, MSG_INVAL_ALL_PALETTES = 107, 108
MSG_STREAM_CREATE, MSG_STREAM_DATA, MSG_STREAM_CLIP = 122, 123, 124
MSG_STREAM_DESTROY, MSG_STREAM_DESTROY_ALL = 125, 126
MSG_DRAW_FILL, MSG_DRAW_OPAQUE, MSG_DRAW_COPY, MSG_DRAW_BLEND = 302, 303, 304, 305
MSG_DRAW_BLACKNESS, MSG_DRAW_WHITENESS, MSG_DRAW_INVERS = 306, 307, 308
MSG_DRAW_ROP3, MSG_DRAW_STROKE, MSG_DRAW_TEXT = 309, 310, 311
MSG_DRAW_TRANSPARENT, MSG_DRAW_ALPHA_BLEND = 312, 313
MSG_SURFACE_CREATE, MSG_SURFACE_DESTROY, MSG_STREAM_DATA_SIZED = 314, 315, 316
MSG_MONITORS_CONFIG, MSG_DRAW_COMPOSITE, MSG_STREAM_ACTIVATE_REPORT = 317, 318, 319
MSG_GL_SCANOUT_UNIX, MSG_GL_DRAW, MSG_QUALITY_INDICATOR = 320, 321, 322
# ---- client messages ----
MSGC_INIT, MSGC_STREAM_REPORT, MSGC_PREFERRED_COMPRESSION = 101, 102, 103

# ---- display capabilities (bit numbers) ----
CAP_SIZED_STREAM, CAP_MONITORS_CONFIG, CAP_COMPOSITE, CAP_A8_SURFACE = 0, 1, 2, 3
CAP_STREAM_REPORT, CAP_LZ4_COMPRESSION, CAP_PREF_COMPRESSION, CAP_GL_SCANOUT = 4, 5, 6, 7
CAP_MULTI_CODEC, CAP_CODEC_MJPEG = 8, 9
# What we announce: LZ4 images, MJPEG (and only MJPEG) video, sized stream frames, and
# that we say which compression we prefer. Not COMPOSITE / A8 surfaces (X drivers then
# render text themselves), not GL scanout (needs a local Unix socket and EGL).
OUR_CAPS = (CAP_SIZED_STREAM, CAP_LZ4_COMPRESSION, CAP_PREF_COMPRESSION, CAP_MULTI_CODEC,
            CAP_CODEC_MJPEG)

# SpiceImageCompression: LZ4 for every RGB image; the server falls back to its LZ only
# for palette images, which current guests do not draw.
COMPRESSION_LZ4 = 7
# SpiceSurfaceFlags, SpiceBrushType, SpiceMaskFlags, scale modes
SURFACE_PRIMARY = 1
BRUSH_NONE, BRUSH_SOLID, BRUSH_PATTERN = 0, 1, 2
MASK_INVERS = 1
SCALE_INTERPOLATE, SCALE_NEAREST = 0, 1
ALPHA_SRC_HAS_ALPHA = 2
RES_TYPE_PIXMAP = 1
# A DRAW_COPY without clip rectangles: surface, box (top, left, bottom, right), clip
# type, image pointer, source area, rop descriptor, scale mode, mask flags, x, y, pointer.
PLAIN_COPY = struct.Struct("<IiiiiBIiiiiHBBiiI")

# Pixels the server may keep in our image cache (what spice-gtk announces by default).
CACHE_PIXELS = 8 << 20
# Pixels of off-screen surfaces kept in all; the primary surface is the framebuffer.
OFFSCREEN_PIXELS = 16 << 20
MAX_SURFACES = 4096
# One display message at most: a whole 4K screen as an uncompressed 32-bit bitmap is
# 33 MB.
MAX_MESSAGE_SIZE = 64 << 20

# A Brush: none, one colour word, or a pattern image with its origin.
Brush = int | tuple[np.ndarray, int, int] | None

UNDRAWN = {MSG_DRAW_ROP3: "ternary raster operations", MSG_DRAW_STROKE: "lines",
           MSG_DRAW_TEXT: "text drawn by the server",
           MSG_DRAW_COMPOSITE: "composited pictures",
           MSG_GL_SCANOUT_UNIX: "an OpenGL screen (local connections only)",
           MSG_GL_DRAW: "an OpenGL screen (local connections only)"}


class DisplayChannel:
    """The handler for one display channel (channel.ChannelHandler).

    ``client`` is the ConsoleClient: its ``framebuffer`` is the primary surface;
    ``on_resize(w, h)`` follows a new primary surface, ``frames`` counts the messages
    that changed the screen and ``on_update()`` follows each of them; ``on_notice``
    tells the user what the server sent that HVConsole cannot show (once per kind)."""

    channel_type = wire.CHANNEL_DISPLAY
    max_message_size = MAX_MESSAGE_SIZE

    def __init__(self, client: ConsoleClient, channel_id: int = 0, *,
                 cache_pixels: int = CACHE_PIXELS,
                 offscreen_pixels: int = OFFSCREEN_PIXELS,
                 max_primary_pixels: int = MAX_WIDTH * MAX_HEIGHT) -> None:
        self.client = client
        self.channel_id = channel_id
        self.cache_pixels = cache_pixels
        self.offscreen_pixels = offscreen_pixels
        self.max_primary_pixels = max_primary_pixels
        self.surfaces: dict[int, Surface] = {}
        self.dropped: set[int] = set()   # off-screen surfaces beyond the budget
        self.video = VideoStreams(self)
        self.images = ImageDecoder(cache_pixels=cache_pixels,
                                   surface_words=self._surface_words)
        self.told: set[str] = set()
        self.marked = False
        self._damaged = False
        self._batching = False      # a channel is handing over a batch of messages
        self._update_due = False
        self._run: list[int] | None = None   # damage not yet handed to the framebuffer
        self._screen: tuple[np.ndarray, np.ndarray] | None = None  # (pixels, words)
        self._handlers = {
            MSG_MODE: self._ignore, MSG_MARK: self._mark, MSG_RESET: self._reset,
            MSG_COPY_BITS: self._copy_bits, MSG_INVAL_LIST: self._inval_list,
            MSG_INVAL_ALL_PIXMAPS: self._inval_all_pixmaps,
            MSG_INVAL_PALETTE: self._inval_palette,
            MSG_INVAL_ALL_PALETTES: self._inval_all_palettes,
            MSG_STREAM_CREATE: self.video.on_create, MSG_STREAM_DATA: self.video.on_data,
            MSG_STREAM_CLIP: self.video.on_clip, MSG_STREAM_DESTROY: self.video.on_destroy,
            MSG_STREAM_DESTROY_ALL: self.video.on_destroy_all,
            MSG_STREAM_DATA_SIZED: self.video.on_data_sized,
            MSG_DRAW_FILL: self._draw_fill, MSG_DRAW_OPAQUE: self._draw_opaque,
            MSG_DRAW_COPY: self._draw_copy, MSG_DRAW_BLEND: self._draw_blend,
            MSG_DRAW_BLACKNESS: self._draw_blackness,
            MSG_DRAW_WHITENESS: self._draw_whiteness, MSG_DRAW_INVERS: self._draw_invers,
            MSG_DRAW_TRANSPARENT: self._draw_transparent,
            MSG_DRAW_ALPHA_BLEND: self._draw_alpha_blend,
            MSG_SURFACE_CREATE: self._surface_create,
            MSG_SURFACE_DESTROY: self._surface_destroy,
            MSG_MONITORS_CONFIG: self._ignore, MSG_STREAM_ACTIVATE_REPORT: self._ignore,
            MSG_QUALITY_INDICATOR: self._ignore,
        }

    # ---- the handler contract ----

    def capabilities(self) -> tuple[list[int], list[int]]:
        return [], wire.caps_words(*OUR_CAPS)

    def initial_messages(self) -> list[tuple[int, bytes]]:
        # Pixmap cache 1 of cache_pixels; GLZ dictionary 1 with a window of 0 pixels:
        # we never want GLZ.
        init = wire.pack("BqBi", 1, self.cache_pixels, 1, 0)
        return [(MSGC_INIT, init),
                (MSGC_PREFERRED_COMPRESSION, bytes([COMPRESSION_LZ4]))]

    def handle(self, msg_type: int, payload: memoryview) -> list[tuple[int, bytes]]:
        handler = self._handlers.get(msg_type)
        if handler is None:
            if msg_type in UNDRAWN:
                self.notice(UNDRAWN[msg_type])
            else:
                log.debug("SPICE display: message %d ignored", msg_type)
            return []
        self._damaged = False
        try:
            handler(payload)
        except UnsupportedImage as err:
            self.notice(err.what)
        if self._damaged:
            self.client.frames += 1
            if self._batching:
                self._update_due = True
            else:
                self._flush_damage()
                self.client.on_update()
        return []

    def begin_batch(self) -> None:
        """Messages that arrived together follow: one on_update after them all (QEMU
        draws a changed text screen in a hundred pieces)."""
        self._batching = True

    def end_batch(self) -> None:
        self._batching = False
        self._flush_damage()
        if self._update_due:
            self._update_due = False
            self.client.on_update()

    def notice(self, what: str) -> None:
        """Tell the user once per kind what the server sent that HVConsole cannot show."""
        if what in self.told:
            return
        self.told.add(what)
        log.info("SPICE display: the server sent %s, which HVConsole cannot show", what)
        self.client.on_notice(f"The SPICE server sent {what}, which HVConsole cannot show; "
                              "parts of the screen may be missing or out of date.")

    # ---- surfaces ----

    def _surface_words(self, surface_id: int) -> np.ndarray | None:
        surface = self.surfaces.get(surface_id)
        if surface is None:
            if surface_id in self.dropped:
                return None
            raise ProtocolError(f"an image of surface {surface_id}, which does not exist")
        return self.words(surface)

    def words(self, surface: Surface) -> np.ndarray:
        """Where a surface's pixels are (the primary one's are the framebuffer's)."""
        return surface.words if surface.words is not None else self.client.framebuffer.words

    def target(self, surface_id: int) -> Surface | None:
        """The surface a command (or a video stream) draws on; None for one dropped over
        the budget."""
        surface = self.surfaces.get(surface_id)
        if surface is None and surface_id not in self.dropped:
            raise ProtocolError(f"a drawing on surface {surface_id}, which does not exist")
        return surface

    def _offscreen_in_use(self) -> int:
        return sum(s.width * s.height for s in self.surfaces.values() if not s.primary)

    def _surface_create(self, data: memoryview) -> None:
        surface_id, width, height, _fmt, flags = Payload(data, "surface").unpack("IIIII")
        check_image_size(width, height, "surface")
        if surface_id in self.surfaces or len(self.surfaces) >= MAX_SURFACES:
            raise ProtocolError(f"surface {surface_id} created twice, or too many surfaces")
        if flags & SURFACE_PRIMARY:
            if width * height > self.max_primary_pixels:
                raise ProtocolError(f"a {width}x{height} screen is larger than the console "
                                    "shows")
            # One screen: a new primary surface replaces any other.
            for old in [i for i, s in self.surfaces.items() if s.primary]:
                del self.surfaces[old]
            fb = self.client.framebuffer
            self._run = None        # the whole new screen is damaged below
            fb.resize(width, height)
            fb.words[:] = 0xFF000000
            fb.add_damage_xywh(0, 0, width, height)
            self.surfaces[surface_id] = Surface(None, width, height, True)
            self.client.on_resize(width, height)
            self._damaged = True
            return
        self.dropped.discard(surface_id)
        if self._offscreen_in_use() + width * height > self.offscreen_pixels:
            self.dropped.add(surface_id)
            self.notice(f"more off-screen pictures than HVConsole keeps "
                        f"({self.offscreen_pixels * 4 >> 20} MB)")
            return
        self.surfaces[surface_id] = Surface(np.zeros((height, width), np.uint32), width,
                                            height, False)

    def _surface_destroy(self, data: memoryview) -> None:
        surface_id = Payload(data, "surface").u32()
        self.dropped.discard(surface_id)
        if self.surfaces.pop(surface_id, None) is None:
            raise ProtocolError(f"surface {surface_id} destroyed but never created")
        self.video.forget_surface(surface_id)

    def damage(self, surface: Surface, parts: list[Box]) -> None:
        """The drawn parts of a surface: screen damage when it is the primary one."""
        if not surface.primary or not parts:
            return
        for left, top, right, bottom in parts:
            self._damage_box(left, top, right, bottom)

    def _damage_box(self, left: int, top: int, right: int, bottom: int) -> None:
        """Damage on the screen. A piece that continues the last one to its right (QEMU
        draws a text screen in rows of 32-pixel pieces) widens it: the view then
        repaints a few rows, not a hundred rectangles."""
        run = self._run
        if run is not None and run[2] == left and run[1] == top and run[3] == bottom:
            run[2] = right
        else:
            self._flush_damage()
            self._run = [left, top, right, bottom]
        self._damaged = True

    def _flush_damage(self) -> None:
        run, self._run = self._run, None
        if run is not None:
            left, top, right, bottom = run
            self.client.framebuffer.add_damage_xywh(left, top, right - left, bottom - top)

    def _screen_words(self) -> np.ndarray:
        """The framebuffer's words, the view kept until the framebuffer changes size."""
        pixels = self.client.framebuffer.pixels
        if self._screen is None or self._screen[0] is not pixels:
            self._screen = (pixels, self.client.framebuffer.words)
        return self._screen[1]

    # ---- drawing commands ----

    def _base(self, p: Payload) -> tuple[Surface | None, Box, list[Box]]:
        """DisplayBase: the surface, the box, and the box's clipped parts."""
        surface_id = p.u32()
        box = read_rect(p)
        rects = read_clip(p)
        surface = self.target(surface_id)
        if surface is None:
            return None, box, []
        canvas.check_box(box, surface.width, surface.height)
        return surface, box, canvas.clip_boxes(box, rects)

    def _image(self, data: memoryview, pointer: int) -> np.ndarray:
        if not pointer:
            raise ProtocolError("a drawing command without its image")
        return self.images.decode(data, pointer)

    def _source(self, data: memoryview, surface: Surface | None, box: Box, area: Box,
                pointer: int, interpolate: bool) -> np.ndarray | None:
        """The image's ``area`` stretched over ``box``."""
        image = self._image(data, pointer)
        part = canvas.region(image, area)
        if surface is None:
            return None
        block = canvas.scale(part, box[2] - box[0], box[3] - box[1], interpolate)
        if np.may_share_memory(block, self.words(surface)):
            block = block.copy()
        return block

    def _brush(self, data: memoryview, p: Payload) -> Brush:
        """A Brush: None, a colour word, or (pattern image, origin x, origin y)."""
        kind = p.u8()
        if kind == BRUSH_NONE:
            return None
        if kind == BRUSH_SOLID:
            return p.u32()
        if kind == BRUSH_PATTERN:
            pointer, x, y = p.unpack("Iii")
            return self._image(data, pointer), x, y
        raise ProtocolError(f"brush type {kind} does not exist")

    @staticmethod
    def _brush_block(brush: Brush, box: Box) -> Block | None:
        if isinstance(brush, tuple):
            pattern, x, y = brush
            return canvas.tile(pattern, box, x, y)
        return brush

    def _mask(self, data: memoryview, p: Payload, box: Box) -> np.ndarray | None:
        flags, x, y, pointer = p.unpack("BiiI")
        if not pointer:
            return None
        image = self.images.decode(data, pointer)
        return canvas.mask_block((image & 0xFFFFFF) != 0, box, x, y,
                                 bool(flags & MASK_INVERS))

    def _draw_fill(self, data: memoryview) -> None:
        p = Payload(data, "fill")
        surface, box, parts = self._base(p)
        brush = self._brush(data, p)
        rop = p.u16()
        mask = self._mask(data, p, box)
        if surface is None or brush is None:
            return
        if canvas.draw(self.words(surface), box, parts, self._brush_block(brush, box),
                       rop=rop, src_invert=canvas.INVERS_BRUSH, mask=mask):
            self.damage(surface, parts)

    def _copy_like(self, data: memoryview, what: str, with_brush: bool) -> tuple[
            Surface | None, Box, list[Box], np.ndarray | None, Brush, int, np.ndarray | None]:
        """Copy, Blend and Opaque share their layout (Opaque adds a brush)."""
        p = Payload(data, what)
        surface, box, parts = self._base(p)
        pointer = p.u32()
        area = read_rect(p)
        brush = self._brush(data, p) if with_brush else None
        rop, scale_mode = p.unpack("HB")
        mask = self._mask(data, p, box)
        block = self._source(data, surface, box, area, pointer,
                             scale_mode == SCALE_INTERPOLATE)
        return surface, box, parts, block, brush, rop, mask

    def _draw_copy(self, data: memoryview) -> None:
        # A copy puts the image whatever its rop descriptor says (as spice-gtk does).
        if self._plain_copy(data):
            return
        surface, box, parts, block, _, _, mask = self._copy_like(data, "copy", False)
        if surface is not None:
            canvas.draw(self.words(surface), box, parts, block, mask=mask)
            self.damage(surface, parts)

    def _plain_copy(self, data: memoryview) -> bool:
        """The copy QEMU sends a hundred times per changed text screen: onto the screen,
        unclipped, unmasked, unscaled, from a decoded image. Drawn in a few numpy calls
        instead of the general path's dozens; False for anything else (the general path
        then draws it, or names what is wrong with it)."""
        if len(data) < PLAIN_COPY.size or data[20] != CLIP_NONE:
            return False
        (surface_id, top, left, bottom, right, _clip, pointer, a_top, a_left, a_bottom,
         a_right, _rop, _scale, _mask_flags, _x, _y, mask) = PLAIN_COPY.unpack_from(data)
        surface = self.surfaces.get(surface_id)
        if (mask or surface is None or not surface.primary
                or a_right - a_left != right - left or a_bottom - a_top != bottom - top
                or not 0 < pointer < len(data) - 8
                or data[pointer + 8] == image_types.SURFACE):
            return False
        if not (0 <= left <= right <= surface.width and 0 <= top <= bottom <= surface.height):
            canvas.check_box((left, top, right, bottom), surface.width, surface.height)
        # In place only where the decoder can write the screen itself: LZ4 needs the
        # piece contiguous in memory (the screen's full width); narrower pieces, most of
        # what QEMU sends, go the plain way without a second look at their header.
        kind = data[pointer + 8]
        if (a_left == a_top == 0 and right > left and bottom > top
                and (kind == image_types.JPEG
                     or (kind == image_types.LZ4 and right - left == surface.width))
                and self.images.decode_onto(data, pointer,
                                            self._screen_words()[top:bottom, left:right])):
            self._damage_box(left, top, right, bottom)  # the whole image, decoded in place
            return True
        block = canvas.region(self.images.decode(data, pointer),
                              (a_left, a_top, a_right, a_bottom))
        if right > left and bottom > top:
            np.bitwise_or(block, canvas.ALPHA,
                          out=self._screen_words()[top:bottom, left:right])
            self._damage_box(left, top, right, bottom)
        return True

    def _draw_blend(self, data: memoryview) -> None:
        surface, box, parts, block, _, rop, mask = self._copy_like(data, "blend", False)
        if surface is not None and canvas.draw(self.words(surface), box, parts, block,
                                               rop=rop, mask=mask):
            self.damage(surface, parts)

    def _draw_opaque(self, data: memoryview) -> None:
        # The image is put, then the brush combined with it: the rop's "source" is the
        # brush and its "destination" the image.
        surface, box, parts, block, brush, rop, mask = self._copy_like(data, "opaque", True)
        if surface is None:
            return
        words = self.words(surface)
        canvas.draw(words, box, parts, block, mask=mask)
        if brush is not None:
            canvas.draw(words, box, parts, self._brush_block(brush, box), rop=rop,
                        src_invert=canvas.INVERS_BRUSH, dest_invert=canvas.INVERS_SRC,
                        mask=mask)
        self.damage(surface, parts)

    def _draw_rop_only(self, data: memoryview, rop: int, what: str) -> None:
        p = Payload(data, what)
        surface, box, parts = self._base(p)
        mask = self._mask(data, p, box)
        if surface is not None and canvas.draw(self.words(surface), box, parts, None,
                                               rop=rop, mask=mask):
            self.damage(surface, parts)

    def _draw_blackness(self, data: memoryview) -> None:
        self._draw_rop_only(data, canvas.OP_BLACKNESS, "blackness")

    def _draw_whiteness(self, data: memoryview) -> None:
        self._draw_rop_only(data, canvas.OP_WHITENESS, "whiteness")

    def _draw_invers(self, data: memoryview) -> None:
        self._draw_rop_only(data, canvas.OP_INVERS, "invers")

    def _draw_transparent(self, data: memoryview) -> None:
        p = Payload(data, "transparent")
        surface, box, parts = self._base(p)
        pointer = p.u32()
        area = read_rect(p)
        src_colour, _true_colour = p.unpack("II")
        block = self._source(data, surface, box, area, pointer, False)
        if surface is None or block is None:
            return
        keep = (block & 0xFFFFFF) != (src_colour & 0xFFFFFF)
        canvas.draw(self.words(surface), box, parts, block, mask=keep)
        self.damage(surface, parts)

    def _draw_alpha_blend(self, data: memoryview) -> None:
        p = Payload(data, "alpha blend")
        surface, box, parts = self._base(p)
        flags, alpha, pointer = p.unpack("BBI")
        area = read_rect(p)
        block = self._source(data, surface, box, area, pointer, True)
        if surface is None or block is None:
            return
        words = self.words(surface)
        for part in parts:
            dest = words[part[1]:part[3], part[0]:part[2]]
            src = canvas.part_of(block, part, box)
            canvas.write(dest, _blend(src, dest, alpha, bool(flags & ALPHA_SRC_HAS_ALPHA)))
        self.damage(surface, parts)

    def _copy_bits(self, data: memoryview) -> None:
        p = Payload(data, "copy bits")
        surface, box, parts = self._base(p)
        src_x, src_y = p.unpack("ii")
        if surface is None:
            return
        canvas.copy_bits(self.words(surface), box, parts, src_x, src_y)
        self.damage(surface, parts)

    # ---- caches and the rest ----

    def _ignore(self, data: memoryview) -> None:
        pass

    def _mark(self, data: memoryview) -> None:
        self.marked = True

    def _reset(self, data: memoryview) -> None:
        self.images.reset()
        self.video.clear()
        self.marked = False

    def _inval_list(self, data: memoryview) -> None:
        p = Payload(data, "invalidation list")
        for _ in range(p.u16()):
            kind, image_id = p.unpack("BQ")
            if kind == RES_TYPE_PIXMAP:
                self.images.cache.remove(image_id)

    def _inval_all_pixmaps(self, data: memoryview) -> None:
        self.images.cache.clear()

    def _inval_palette(self, data: memoryview) -> None:
        self.images.forget_palette(Payload(data, "palette invalidation").u64())

    def _inval_all_palettes(self, data: memoryview) -> None:
        self.images.palettes.clear()

def _blend(src: np.ndarray, dest: np.ndarray, alpha: int, src_has_alpha: bool) -> np.ndarray:
    """``src`` over ``dest`` at ``alpha`` (0..255), with the source's own (premultiplied)
    alpha too when it has one."""
    s = src.view(np.uint8).reshape(src.shape + (4,)).astype(np.uint32)
    d = dest.view(np.uint8).reshape(dest.shape + (4,)).astype(np.uint32)
    if src_has_alpha:
        a = s[:, :, 3:4] * alpha // 255
        out = (s * alpha // 255) + d * (255 - a) // 255
    else:
        out = (s * alpha + d * (255 - alpha)) // 255
    return np.minimum(out, 255).astype(np.uint8).view(np.uint32)[:, :, 0]
