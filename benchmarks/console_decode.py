"""Console decoding against the codec's own time, at 1920x1080.

For each codec the target names (Tight-JPEG and ZRLE over RFB; LZ4 and JPEG images over
SPICE) the same frames of a realistic desktop (windows of text, a gradient wallpaper, a
photo-like area; the text scrolls every frame) are, one after the other:

- decoded and painted: the RFB client (or the SPICE display channel) decodes the update
  into its framebuffer, then the ConsoleView (1:1, offscreen) paints the damaged region:
  ``view.repaint()``, i.e. QPainter.drawImage of the QImage that wraps the framebuffer's
  memory (no copy) into the widget's backing store;
- given to the codec alone (the floor): libjpeg-turbo through simplejpeg, as
  connectors/console/imagecodec.py calls it; zlib's inflate of the connection's stream;
  liblz4's decompression of the image's block (connectors/console/lz4block.py;
  python-lz4's own call, which allocates, where liblz4 is missing). The codecs write
  into the framebuffer's memory, as the decoders do (after a first frame into a buffer
  of their own, to check the decoder's pixels against).

Both are process CPU time per frame (the machine is shared: CPU time is steadier than
wall time, and the two are interleaved frame by frame so that both see the same load).
The ratio figure/floor is what travels between machines; the target is <= 1.2. Each
codec is run ``--repeats`` times (3): the JSON gives the median and the spread.

The streams come from benchmarks/rfb_encoders.py (zlib and Pillow's JPEG, tiles chosen as
servers do, built with numpy: a few seconds) and tests/unit/spice_display_helpers.py
(python-lz4, one block per image as QEMU sends it; Pillow's JPEG). Before timing, each
codec's first frame is checked: the framebuffer must equal what the codec alone gives.

Run: .venv/bin/python benchmarks/console_decode.py --json            (about a minute)
     .venv/bin/python benchmarks/console_decode.py --quick --json    (one repeat)
     .venv/bin/python benchmarks/console_decode.py --codec zrle --repeats 1
Other encodings (raw, hextile, lossless tight; SPICE bitmap and MJPEG) with
``--codec vnc-raw`` etc.: figures only where no codec sits under them.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import struct
import sys
import time
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

TARGET_RATIO = 1.2
# The codecs the target names, then the others the console speaks.
TARGET_CODECS = ("tight-jpeg", "zrle", "spice-lz4", "spice-jpeg")
OTHER_CODECS = ("vnc-raw", "vnc-hextile", "vnc-tight", "spice-bitmap", "spice-mjpeg")
PAINT = ("ConsoleView.repaint() of the damaged region at 1:1 on the offscreen platform: "
         "QPainter.drawImage of the QImage over the framebuffer (no copy) into the "
         "widget's backing store")
FLOORS = {"tight-jpeg": "libjpeg-turbo (simplejpeg) decode of each strip into a buffer",
          "zrle": "zlib inflate of the connection's stream",
          "spice-lz4": "liblz4's LZ4_decompress_safe of the image's block into a buffer",
          "spice-jpeg": "libjpeg-turbo (simplejpeg) decode into a buffer",
          "spice-mjpeg": "libjpeg-turbo (simplejpeg) decode into a buffer"}


class MemoryReader:
    """readexactly over bytes already received: what the decoders see, minus the socket."""

    def __init__(self, data: bytes) -> None:
        self.view = memoryview(data)
        self.pos = 0

    async def readexactly(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.view):
            raise asyncio.IncompleteReadError(bytes(self.view[self.pos:]), n)
        chunk = bytes(self.view[self.pos:end])
        self.pos = end
        return chunk


def encode_vnc(encoding: str, frames: list[np.ndarray]) -> list[tuple[bytes, object]]:
    """Each frame as an RFB update, with what the codec alone is given for it."""
    from benchmarks import rfb_encoders as enc
    if encoding == "raw":
        return [(enc.encode_raw(f), None) for f in frames]
    if encoding == "hextile":
        return [(enc.encode_hextile(f), None) for f in frames]
    if encoding == "zrle":
        # update header (4), rectangle header (12), length (4), then the zlib data
        return [(m, m[20:]) for m in enc.encode_zrle_frames(frames)]
    if encoding == "tight":
        return [(m, None) for m in enc.encode_tight_frames(frames)]
    if encoding == "tight-jpeg":
        updates = [enc.encode_tight_jpeg(f) for f in frames]
        return [(m, tight_jpeg_strips(m)) for m in updates]
    raise SystemExit(f"unknown encoding {encoding}")


def tight_jpeg_strips(update: bytes) -> list[tuple[bytes, int]]:
    """The JPEG strips of a Tight update: (data, rows)."""
    count = struct.unpack_from(">H", update, 2)[0]
    pos, strips = 4, []
    for _ in range(count):
        _x, _y, _w, h, _enc = struct.unpack_from(">HHHHi", update, pos)
        if update[pos + 12] != 0x90:
            raise SystemExit("not a Tight JPEG rectangle")
        pos += 13
        length = 0
        for shift in (0, 7, 14):  # Tight's compact length
            b = update[pos]
            pos += 1
            length |= (b if shift == 14 else b & 0x7F) << shift
            if shift == 14 or not b & 0x80:
                break
        strips.append((update[pos:pos + length], h))
        pos += length
    return strips


def encode_spice(encoding: str, frames: list[np.ndarray], width: int, height: int
                 ) -> list[tuple[tuple[int, bytes], object]]:
    """Each frame as the display-channel message a SPICE server sends for it, with what
    the codec alone is given for it (the same bytes, found at the message's end)."""
    from connectors.console.spice import images as im
    from tests.unit import spice_display_helpers as h
    box = (0, 0, width, height)
    out = []
    for rgb in frames:
        words = h.words_of(rgb)
        codec: bytes | None = None
        if encoding == "bitmap":
            message = h.draw_copy(0, box, h.bitmap(words))
        elif encoding == "lz4":
            body = h.lz4_payload(words, rows_per_block=height)
            codec = body[6:]  # top-down, format, the block's length, the block
            message = h.draw_copy(0, box, lambda _o, body=body: (
                h.descriptor(im.LZ4, width, height) + struct.pack("<I", len(body)) + body))
        elif encoding == "jpeg":
            codec = h.jpeg_bytes(words, quality=85)
            message = h.draw_copy(0, box, lambda _o, body=codec: (
                h.descriptor(im.JPEG, width, height) + struct.pack("<I", len(body)) + body))
        elif encoding == "mjpeg":
            codec = h.jpeg_bytes(words, quality=70)
            message = h.stream_data(1, codec)
        else:
            raise SystemExit(f"unknown SPICE encoding {encoding}")
        if codec is not None and not message[1].endswith(codec):
            raise SystemExit("the codec's bytes are not the message's")
        out.append((message, codec))
    return out


class SpiceReplay:
    """The SPICE display channel fed recorded messages, in place of a connection."""

    def __init__(self, encoding: str, width: int, height: int) -> None:
        from connectors.console.client import ConsoleClient
        from connectors.console.spice.display import DisplayChannel
        from tests.unit import spice_display_helpers as h
        self.client = ConsoleClient()
        self.framebuffer = self.client.framebuffer
        self.display = DisplayChannel(self.client)
        for msg_type, payload in [h.surface_create(0, width, height)] + (
                [h.stream_create(1, (0, 0, width, height), width, height)]
                if encoding == "mjpeg" else []):
            self.display.handle(msg_type, memoryview(payload))

    def apply(self, message: tuple[int, bytes]) -> None:
        self.display.handle(message[0], memoryview(message[1]))


class VncReplay:
    """An RFB client fed recorded updates. The zlib streams (ZRLE, Tight) run across
    frames and cannot be replayed into the same decoder: each pass starts a fresh one."""

    def __init__(self, encoding: str, width: int, height: int) -> None:
        from connectors.console.rfb.client import RfbClient
        self.names = ("tight",) if encoding == "tight-jpeg" else (encoding,)
        self.width, self.height = width, height
        self.loop = asyncio.new_event_loop()
        self.client = RfbClient(transport=None, encodings=self.names)
        self.client.framebuffer.resize(width, height)
        self.framebuffer = self.client.framebuffer

    def new_pass(self) -> None:
        from connectors.console.rfb.client import RfbClient
        fresh = RfbClient(transport=None, encodings=self.names)
        fresh.framebuffer = self.framebuffer  # same memory: the view keeps its QImage
        self.client = fresh

    def apply(self, update: bytes) -> None:
        reader = MemoryReader(update)

        async def decode() -> None:
            kind = (await reader.readexactly(1))[0]
            await self.client._message(kind, reader.readexactly)
        self.loop.run_until_complete(decode())

    def close(self) -> None:
        self.loop.close()  # not left to the garbage collector, which complains at exit


class Floor:
    """The codec alone on the same frames, in the order the decoder sees them.

    It writes its pixels into ``out``: a buffer of its own for the first frame's check,
    then (``write_into``) the framebuffer's own memory, as the decoders do. A third
    8 MB buffer would be one the console never has, and it would evict the framebuffer
    and the backing store from the cache between the decoder and the paint."""

    def __init__(self, codec: str, width: int, height: int) -> None:
        self.codec = codec
        self.out = np.empty((height, width, 4), np.uint8)
        self.size = width * height * 4
        self.inflater = zlib.decompressobj()

    def new_pass(self) -> None:
        self.inflater = zlib.decompressobj()

    def write_into(self, pixels: np.ndarray) -> None:
        self.out = pixels

    def run(self, data) -> None:
        import lz4.block
        import simplejpeg

        from connectors.console import lz4block
        if self.codec == "tight-jpeg":
            y = 0
            for strip, rows in data:
                simplejpeg.decode_jpeg(strip, colorspace="BGRX", fastdct=False,
                                       fastupsample=False, buffer=self.out[y:y + rows])
                y += rows
        elif self.codec == "zrle":
            self.inflater.decompress(data)
        elif self.codec == "spice-lz4":
            if lz4block.AVAILABLE:
                lz4block.decompress_into(data, self.out)
            else:
                lz4.block.decompress(data, uncompressed_size=self.size)
        else:  # spice-jpeg, spice-mjpeg
            simplejpeg.decode_jpeg(data, colorspace="BGRX", fastdct=False,
                                   fastupsample=False, buffer=self.out)


def check_first_frame(codec: str, fb, rgb: np.ndarray, floor: Floor) -> None:
    """The framebuffer after the first frame must be what the codec alone gives: the
    source pixels for lossless codecs, libjpeg-turbo's own output for JPEG."""
    if codec in ("tight-jpeg", "spice-jpeg", "spice-mjpeg"):
        expected = floor.out[:, :, :3]
    else:
        expected = np.ascontiguousarray(rgb[:, :, ::-1])
    if not np.array_equal(fb.pixels[:, :, :3], expected):
        raise SystemExit(f"{codec}: the decoded frame differs from the codec's own output")


def measure(codec: str, frames: list[np.ndarray], seconds: float, paint: bool) -> dict:
    """One repeat: CPU ms per frame of decode, paint and the floor, frames interleaved."""
    from PySide6.QtWidgets import QApplication

    from app.console_session import ConsoleSession
    from widgets.console.view import ConsoleView
    app = QApplication.instance() or QApplication([])
    height, width = frames[0].shape[:2]
    protocol, encoding = codec.split("-", 1) if codec.startswith("spice") else ("vnc", codec)
    encoding = encoding.removeprefix("vnc-")
    if protocol == "spice":
        streams = encode_spice(encoding, frames, width, height)
        replay: SpiceReplay | VncReplay = SpiceReplay(encoding, width, height)
    else:
        streams = encode_vnc(encoding, frames)
        replay = VncReplay(encoding, width, height)
    floor = Floor(codec, width, height) if codec in FLOORS else None

    async def no_opener():
        return None

    session = ConsoleSession(no_opener)
    session.framebuffer = replay.framebuffer
    view = ConsoleView(session)
    view.set_fit(False)
    view.show()
    app.processEvents()

    def figure(message) -> tuple[float, float]:
        t0 = time.process_time()
        replay.apply(message)
        t1 = time.process_time()
        if paint:
            session.frameUpdated.emit()  # damage -> update(rect) on the view
            view.repaint()  # paint the pending damage now (offscreen backing store)
        else:
            replay.framebuffer.take_damage()
        return t1 - t0, time.process_time() - t1

    def codec_alone(data) -> float:
        t0 = time.process_time()
        floor.run(data)  # type: ignore[union-attr]
        return time.process_time() - t0

    # A warm-up pass, which also checks the decoder against the codec.
    for i, (message, data) in enumerate(streams):
        figure(message)
        if floor is not None:
            codec_alone(data)
            if i == 0:
                check_first_frame(codec, replay.framebuffer, frames[0], floor)
    if floor is not None:
        floor.write_into(replay.framebuffer.pixels)
    decode_s = paint_s = floor_s = 0.0
    done = 0
    wire = 0
    wall0 = time.perf_counter()
    while time.perf_counter() - wall0 < seconds or not done:
        if isinstance(replay, VncReplay) and encoding in ("zrle", "tight"):
            replay.new_pass()
        if floor is not None:
            floor.new_pass()
        for message, data in streams:
            d, p = figure(message)
            decode_s += d
            paint_s += p
            if floor is not None:
                floor_s += codec_alone(data)
            wire += len(message[1]) if protocol == "spice" else len(message)
            done += 1
    if isinstance(replay, VncReplay):
        replay.close()
    view.close()
    view.deleteLater()
    app.processEvents()
    return {"frames": done, "bytes_per_frame": wire // done,
            "decode_ms": decode_s / done * 1000, "paint_ms": paint_s / done * 1000,
            "floor_ms": floor_s / done * 1000 if floor is not None else None}


def summarise(codec: str, runs: list[dict]) -> dict:
    """Median and spread of each figure over the repeats, under the codec's key."""
    key = codec.replace("-", "_")
    totals = [r["decode_ms"] + r["paint_ms"] for r in runs]
    out: dict = {
        f"{key}_ms": round(statistics.median(totals), 2),
        f"spread_{key}_ms": [round(min(totals), 2), round(max(totals), 2)],
        f"decode_{key}_ms": round(statistics.median(r["decode_ms"] for r in runs), 2),
        f"paint_{key}_ms": round(statistics.median(r["paint_ms"] for r in runs), 2),
        f"bytes_per_frame_{key}": runs[0]["bytes_per_frame"],
        f"frames_{key}": sum(r["frames"] for r in runs),
    }
    if runs[0]["floor_ms"] is not None:
        floors = [r["floor_ms"] for r in runs]
        ratios = [t / f for t, f in zip(totals, floors, strict=True)]
        decode_ratios = [r["decode_ms"] / r["floor_ms"] for r in runs]
        out.update({
            f"floor_{key}_ms": round(statistics.median(floors), 2),
            f"spread_floor_{key}_ms": [round(min(floors), 2), round(max(floors), 2)],
            f"ratio_{key}": round(statistics.median(ratios), 3),
            f"spread_ratio_{key}": [round(min(ratios), 3), round(max(ratios), 3)],
            f"ratio_decode_only_{key}": round(statistics.median(decode_ratios), 3),
            f"met_{key}": statistics.median(ratios) <= TARGET_RATIO,
        })
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--codec", action="append", choices=TARGET_CODECS + OTHER_CODECS,
                        help="one codec (repeatable); default: the four the target names")
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--frames", type=int, default=4, help="distinct frames encoded")
    parser.add_argument("--seconds", type=float, default=2.0,
                        help="timed seconds per codec and repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one repeat of one second")
    parser.add_argument("--no-paint", action="store_true")
    parser.add_argument("--json", action="store_true", help="one line of JSON")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.seconds = 1, 1.0
    codecs = args.codec or list(TARGET_CODECS)
    width, height = (int(v) for v in args.size.lower().split("x"))

    from PySide6.QtWidgets import QApplication
    QApplication.instance() or QApplication([])
    from benchmarks.rfb_encoders import desktop_frames
    from benchmarks.startup import machine  # nproc, CPU model, load: shared by benchmarks

    frames = desktop_frames(width, height, args.frames)
    result: dict = {"benchmark": "console_decode", "size": f"{width}x{height}",
                    "machine": machine(), "date": time.strftime("%Y-%m-%d"),
                    "repeats": args.repeats, "unit": "process CPU ms per frame",
                    "paint": None if args.no_paint else PAINT,
                    "floors": {c: FLOORS[c] for c in codecs if c in FLOORS},
                    "target_ratio": TARGET_RATIO}
    for codec in codecs:
        runs = [measure(codec, frames, args.seconds, not args.no_paint)
                for _ in range(args.repeats)]
        result.update(summarise(codec, runs))
    mets = [v for k, v in result.items() if k.startswith("met_")]
    result["met"] = bool(mets) and all(mets)
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
