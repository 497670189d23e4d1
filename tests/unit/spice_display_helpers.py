"""A small SPICE display-channel encoder for tests and the decode benchmark: the messages
a server sends (surfaces, drawing commands with their images, video streams), built the
way spice-server marshals them: fixed fields first, the structures they point at after,
every pointer an offset from the start of the message.

LZ4 images are compressed as the server's encoder does it: one stream per image, each
block of rows compressed with the rows before it as its dictionary.
"""
from __future__ import annotations

import io
import struct

import numpy as np

from connectors.console.spice import display as d
from connectors.console.spice import images as im
from connectors.console.spice import video

OP_PUT = 8


def rect(left: int, top: int, right: int, bottom: int) -> bytes:
    return struct.pack("<iiii", top, left, bottom, right)


def clip(rects: list[tuple[int, int, int, int]] | None = None) -> bytes:
    if rects is None:
        return b"\x00"
    return struct.pack("<BI", 1, len(rects)) + b"".join(rect(*r) for r in rects)


def base(surface_id: int, box: tuple[int, int, int, int], clip_rects=None) -> bytes:
    return struct.pack("<I", surface_id) + rect(*box) + clip(clip_rects)


def descriptor(kind: int, width: int, height: int, *, image_id: int = 0, flags: int = 0) -> bytes:
    return struct.pack("<QBBII", image_id, kind, flags, width, height)


def words_of(rgb: np.ndarray) -> np.ndarray:
    """(h, w, 3) RGB bytes as (h, w) 0x00RRGGBB words."""
    rgb = rgb.astype(np.uint32)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


# ---- images: each a function of the offset the image will sit at ----

def bitmap(words: np.ndarray, *, image_id: int = 0, flags: int = 0, top_down: bool = True,
           fmt: int = im.FMT_32BIT, rows: np.ndarray | None = None,
           palette: list[int] | None = None, palette_flags: int = 0, palette_unique: int = 0,
           palette_id: int | None = None, stride_pad: int = 0):
    """A BITMAP image; ``rows`` gives the raw (h, row_bytes) data for formats other than
    32-bit (``words`` then only gives the size)."""
    h, w = words.shape
    if rows is None:
        rows = np.ascontiguousarray(words.astype("<u4")).view(np.uint8).reshape(h, w * 4)
    if stride_pad:
        rows = np.concatenate([rows, np.zeros((h, stride_pad), np.uint8)], axis=1)
    data = (rows if top_down else rows[::-1]).tobytes()
    stride = rows.shape[1]
    bflags = (im.TOP_DOWN if top_down else 0) | palette_flags

    def build(offset: int) -> bytes:
        head = descriptor(im.BITMAP, w, h, image_id=image_id, flags=flags)
        if palette_id is not None:
            fixed = head + struct.pack("<BBIIIQ", fmt, bflags | im.PAL_FROM_CACHE, w, h,
                                       stride, palette_id)
            return fixed + data
        fixed_size = len(head) + struct.calcsize("<BBIIII")
        pal_offset = offset + fixed_size + len(data) if palette is not None else 0
        fixed = head + struct.pack("<BBIIII", fmt, bflags, w, h, stride, pal_offset)
        pal = b""
        if palette is not None:
            pal = struct.pack("<QH", palette_unique, len(palette)) + struct.pack(
                f"<{len(palette)}I", *palette)
        return fixed + data + pal
    return build


def lz4_payload(words: np.ndarray, *, top_down: bool = True, rows_per_block: int = 64,
                fmt: int = im.FMT_32BIT, raw: bytes | None = None) -> bytes:
    import lz4.block

    h, w = words.shape
    if raw is None:
        rows = np.ascontiguousarray(words.astype("<u4")).view(np.uint8).reshape(h, w * 4)
        if not top_down:
            rows = rows[::-1]
        raw = rows.tobytes()
    row_bytes = len(raw) // h
    out = bytearray([1 if top_down else 0, fmt])
    for start in range(0, h, rows_per_block):
        chunk = raw[start * row_bytes:min(h, start + rows_per_block) * row_bytes]
        window = raw[max(0, start * row_bytes - 65536):start * row_bytes]
        block = lz4.block.compress(chunk, store_size=False, dict=window)
        out += struct.pack(">I", len(block)) + block
    return bytes(out)


def lz4_image(words: np.ndarray, *, image_id: int = 0, flags: int = 0, **kw):
    h, w = words.shape
    body = lz4_payload(words, **kw)
    return lambda offset: (descriptor(im.LZ4, w, h, image_id=image_id, flags=flags)
                           + struct.pack("<I", len(body)) + body)


def jpeg_bytes(words: np.ndarray, quality: int = 85) -> bytes:
    from PIL import Image
    h, w = words.shape
    img = Image.frombuffer("RGBX", (w, h), np.ascontiguousarray(words.astype("<u4")),
                           "raw", "BGRX", 0, 1).convert("RGB")
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)
    return out.getvalue()


def jpeg_image(words: np.ndarray, *, image_id: int = 0, flags: int = 0, quality: int = 85):
    h, w = words.shape
    body = jpeg_bytes(words, quality)
    return lambda offset: (descriptor(im.JPEG, w, h, image_id=image_id, flags=flags)
                           + struct.pack("<I", len(body)) + body)


def cached(image_id: int, width: int, height: int):
    return lambda offset: descriptor(im.FROM_CACHE, width, height, image_id=image_id)


def surface_image(surface_id: int, width: int, height: int):
    return lambda offset: descriptor(im.SURFACE, width, height) + struct.pack("<I", surface_id)


def raw_image(kind: int, width: int, height: int, body: bytes = b"\0" * 16):
    return lambda offset: (descriptor(kind, width, height)
                           + struct.pack("<I", len(body)) + body)


# ---- messages: (type, payload) ----

def surface_create(surface_id: int, width: int, height: int, primary: bool = True):
    return d.MSG_SURFACE_CREATE, struct.pack("<IIIII", surface_id, width, height, 32,
                                             1 if primary else 0)


def surface_destroy(surface_id: int):
    return d.MSG_SURFACE_DESTROY, struct.pack("<I", surface_id)


def with_images(fixed_parts: list, images: list) -> bytes:
    """``fixed_parts``: bytes, or an index into ``images`` standing for its 32-bit
    pointer. Images are laid out after the fixed part, in order."""
    fixed_size = sum(4 if isinstance(x, int) else len(x) for x in fixed_parts)
    offsets, blobs, pos = [], [], fixed_size
    for build in images:
        offsets.append(pos)
        blob = build(pos)
        blobs.append(blob)
        pos += len(blob)
    out = b"".join(struct.pack("<I", offsets[x]) if isinstance(x, int) else x
                   for x in fixed_parts)
    return out + b"".join(blobs)


def mask_fields(mask, x: int = 0, y: int = 0, invert: bool = False, index: int = 1) -> list:
    if mask is None:
        return [struct.pack("<Bii", 0, 0, 0), struct.pack("<I", 0)]
    return [struct.pack("<Bii", 1 if invert else 0, x, y), index]


def draw_copy(surface_id: int, box, image, *, area=None, clip_rects=None, rop: int = OP_PUT,
              scale_mode: int = d.SCALE_NEAREST, mask=None, mask_pos=(0, 0),
              mask_invert: bool = False, msg_type: int = d.MSG_DRAW_COPY):
    left, top, right, bottom = box
    area = area or (0, 0, right - left, bottom - top)
    fixed = [base(surface_id, box, clip_rects), 0, rect(*area),
             struct.pack("<HB", rop, scale_mode),
             *mask_fields(mask, *mask_pos, mask_invert)]
    return msg_type, with_images(fixed, [image] + ([mask] if mask else []))


def draw_blend(surface_id: int, box, image, **kw):
    return draw_copy(surface_id, box, image, msg_type=d.MSG_DRAW_BLEND, **kw)


def brush_solid(colour: int) -> bytes:
    return struct.pack("<BI", d.BRUSH_SOLID, colour)


def draw_fill(surface_id: int, box, colour: int | None = None, *, rop: int = OP_PUT,
              clip_rects=None, pattern=None, pattern_pos=(0, 0)):
    images = []
    if pattern is not None:
        brush = [struct.pack("<B", d.BRUSH_PATTERN), 0, struct.pack("<ii", *pattern_pos)]
        images.append(pattern)
    elif colour is None:
        brush = [struct.pack("<B", d.BRUSH_NONE)]
    else:
        brush = [brush_solid(colour)]
    fixed = [base(surface_id, box, clip_rects), *brush, struct.pack("<H", rop),
             *mask_fields(None)]
    return d.MSG_DRAW_FILL, with_images(fixed, images)


def draw_opaque(surface_id: int, box, image, colour: int, *, rop: int = OP_PUT):
    left, top, right, bottom = box
    fixed = [base(surface_id, box), 0, rect(0, 0, right - left, bottom - top),
             brush_solid(colour), struct.pack("<HB", rop, d.SCALE_NEAREST),
             *mask_fields(None)]
    return d.MSG_DRAW_OPAQUE, with_images(fixed, [image])


def copy_bits(surface_id: int, box, src_x: int, src_y: int, clip_rects=None):
    return d.MSG_COPY_BITS, base(surface_id, box, clip_rects) + struct.pack("<ii", src_x, src_y)


def inval_list(*image_ids: int):
    return d.MSG_INVAL_LIST, struct.pack("<H", len(image_ids)) + b"".join(
        struct.pack("<BQ", d.RES_TYPE_PIXMAP, i) for i in image_ids)


def stream_create(stream_id: int, box, width: int, height: int, *, surface_id: int = 0,
                  codec: int = video.CODEC_MJPEG, top_down: bool = True, clip_rects=None):
    return d.MSG_STREAM_CREATE, (
        struct.pack("<IIBBQIIII", surface_id, stream_id, 1 if top_down else 0, codec, 0,
                    width, height, width, height) + rect(*box) + clip(clip_rects))


def stream_data(stream_id: int, jpeg: bytes):
    return d.MSG_STREAM_DATA, struct.pack("<III", stream_id, 0, len(jpeg)) + jpeg


def stream_data_sized(stream_id: int, box, width: int, height: int, jpeg: bytes):
    return d.MSG_STREAM_DATA_SIZED, (struct.pack("<IIII", stream_id, 0, width, height)
                                     + rect(*box) + struct.pack("<I", len(jpeg)) + jpeg)


def stream_clip(stream_id: int, clip_rects=None):
    return d.MSG_STREAM_CLIP, struct.pack("<I", stream_id) + clip(clip_rects)


def stream_destroy(stream_id: int):
    return d.MSG_STREAM_DESTROY, struct.pack("<I", stream_id)
