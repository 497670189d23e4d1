"""Console decode-and-paint throughput: full-screen updates of a realistic desktop
(windows of text, a gradient wallpaper, a photo-like area; the text scrolls every frame)
encoded by benchmarks/rfb_encoders.py (zlib and Pillow's JPEG, tiles chosen as servers do)
decoded by the RFB client into its framebuffer and painted by the ConsoleView (1:1,
offscreen). Prints JSON: fps, mb_per_s (bytes on the wire), cpu_ms_per_frame (process
CPU time per frame, decode and paint), decode_ms and paint_ms per frame.

With ``--protocol spice`` the same screens go through the SPICE display channel instead:
each frame one full-screen DRAW_COPY of a bitmap, an LZ4 image (one LZ4 block per image,
as QEMU sends them) or a JPEG image, or one frame of an MJPEG video stream; encoded with
python-lz4 and Pillow as the server would (tests/unit/spice_display_helpers.py).

Run: .venv/bin/python benchmarks/console_decode.py --encoding zrle --size 1920x1080 --json
     .venv/bin/python benchmarks/console_decode.py --protocol spice --encoding lz4 --json
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ENCODINGS = ("raw", "hextile", "zrle", "tight", "tight-jpeg")
SPICE_ENCODINGS = ("bitmap", "lz4", "jpeg", "mjpeg")


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


def encode(encoding: str, frames):
    from benchmarks import rfb_encoders as enc
    if encoding == "raw":
        return [enc.encode_raw(f) for f in frames]
    if encoding == "hextile":
        return [enc.encode_hextile(f) for f in frames]
    if encoding == "zrle":
        return enc.encode_zrle_frames(frames)
    if encoding == "tight":
        return enc.encode_tight_frames(frames)
    if encoding == "tight-jpeg":
        return [enc.encode_tight_jpeg(f) for f in frames]
    raise SystemExit(f"unknown encoding {encoding}")


def encode_spice(encoding: str, frames, width: int, height: int) -> list[tuple[int, bytes]]:
    """Each frame as the display-channel message a SPICE server sends for it."""
    from tests.unit import spice_display_helpers as h
    box = (0, 0, width, height)
    messages = []
    for rgb in frames:
        words = h.words_of(rgb)
        if encoding == "bitmap":
            messages.append(h.draw_copy(0, box, h.bitmap(words)))
        elif encoding == "lz4":
            messages.append(h.draw_copy(0, box, h.lz4_image(words, rows_per_block=height)))
        elif encoding == "jpeg":
            messages.append(h.draw_copy(0, box, h.jpeg_image(words, quality=85)))
        elif encoding == "mjpeg":
            messages.append(h.stream_data(1, h.jpeg_bytes(words, quality=70)))
        else:
            raise SystemExit(f"unknown SPICE encoding {encoding}")
    return messages


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--protocol", default="vnc", choices=["vnc", "spice"])
    parser.add_argument("--encoding", default=None, choices=ENCODINGS + SPICE_ENCODINGS)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--frames", type=int, default=8, help="distinct frames encoded")
    parser.add_argument("--rounds", type=int, default=0,
                        help="frames decoded (default: enough for ~3 s)")
    parser.add_argument("--no-paint", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    spice = args.protocol == "spice"
    encoding = args.encoding or ("lz4" if spice else "zrle")
    if (encoding in SPICE_ENCODINGS) != spice:
        parser.error(f"--encoding {encoding} is not one of {args.protocol}'s")
    width, height = (int(v) for v in args.size.lower().split("x"))

    from PySide6.QtWidgets import QApplication
    app = QApplication.instance() or QApplication([])

    from app.console_session import ConsoleSession
    from benchmarks.rfb_encoders import desktop_frames
    from connectors.console.rfb.client import RfbClient
    from widgets.console.view import ConsoleView

    frames = desktop_frames(width, height, args.frames)
    streams = encode_spice(encoding, frames, width, height) if spice else encode(encoding,
                                                                                 frames)
    # zlib streams (ZRLE, Tight) run across frames and cannot be replayed into the same
    # decoder: each pass over the recorded frames starts with a fresh client.
    def fresh_client() -> RfbClient:
        names = {"tight-jpeg": ("tight",)}.get(encoding, (encoding,))
        client = RfbClient(transport=None, encodings=names)
        client.framebuffer.resize(width, height)
        return client

    client = SpiceReplay(encoding, width, height) if spice else fresh_client()

    async def no_opener():
        return None

    session = ConsoleSession(no_opener)
    session.framebuffer = client.framebuffer
    view = ConsoleView(session)
    view.set_fit(False)
    view.show()
    app.processEvents()

    async def decode(data) -> None:
        if spice:
            client.apply(data)
            return
        reader = MemoryReader(data)
        kind = (await reader.readexactly(1))[0]
        await client._message(kind, reader.readexactly)

    loop = asyncio.new_event_loop()
    rounds = args.rounds or 0
    decode_s = paint_s = 0.0
    wire = 0
    done = 0
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    while True:
        for i, data in enumerate(streams):
            if not spice and encoding in ("zrle", "tight") and i == 0 and done:
                client = fresh_client()
                session.framebuffer = client.framebuffer
            t0 = time.perf_counter()
            loop.run_until_complete(decode(data))
            t1 = time.perf_counter()
            if not args.no_paint:
                session.frameUpdated.emit()  # damage -> update(rect) on the view
                view.repaint()  # paint the pending damage now (offscreen backing store)
            else:
                client.framebuffer.take_damage()
            t2 = time.perf_counter()
            decode_s += t1 - t0
            paint_s += t2 - t1
            wire += len(data[1]) if spice else len(data)
            done += 1
        if (rounds and done >= rounds) or (not rounds and time.perf_counter() - wall0 > 3):
            break
    wall = time.perf_counter() - wall0
    loop.close()  # not left to the garbage collector, which complained at exit
    cpu = time.process_time() - cpu0
    result = {
        "benchmark": "console_decode", "protocol": args.protocol, "encoding": encoding,
        "size": f"{width}x{height}", "frames": done,
        "fps": round(done / wall, 1),
        "mb_per_s": round(wire / wall / 1e6, 1),
        "bytes_per_frame": wire // done,
        "cpu_ms_per_frame": round(cpu / done * 1000, 2),
        "decode_ms": round(decode_s / done * 1000, 2),
        "paint_ms": round(paint_s / done * 1000, 2),
    }
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
