"""Key-to-echo latency on the real test guest, VNC and SPICE, each as a ratio to its floor.

Figure: HVConsole's own client (RfbClient over libvirt's console socket asking for the
local encodings, as a local VM's console does; SpiceClient over TCP) sends a key with
``send_key`` (press and release) and the time is taken at the first ``on_update`` after
which the framebuffer holds a change at least ECHO_ROWS rows tall: the echoed glyph, not
the blinking text cursor, which changes two rows.

Floor: benchmarks/bare_clients.py on the same guest and display, the least a client can
do: reading the server's messages until one of them changes a piece of screen that
tall, nothing decoded or painted. What is left is the guest's echo, QEMU's display
refresh and the wire. VNC serves two clients at once: the bare one is connected beside
HVConsole's and times the very keys HVConsole sends, so every sample has its own floor
(QEMU's VNC refresh interval adapts from 30 ms to seconds, and its phase, not the
client, spreads the samples). SPICE serves one client at a time: HVConsole's client and
the bare one (which then sends its own keys) take turns in --blocks, so both see the
same guest in the same state of the machine, and the ratio is of medians.

Keys alternate between a letter and Backspace at the guest's shell prompt, a quarter of
a second apart. Two transient guests boot side by side, one with VNC and one with SPICE
(a guest with both would refresh its VNC display at SPICE's pace).

Needs libvirtd (qemu:///system) and the test guest (scripts/build-test-guest.sh).
Run: .venv/bin/python benchmarks/console_latency.py --json [--seconds 20]
"""
from __future__ import annotations

import argparse
import asyncio
import faulthandler
import json
import re
import signal
import socket
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Awaitable, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bare_clients import ECHO_ROWS, BareRfb, BareSpice  # noqa: E402
from benchmarks.host_facts import machine  # noqa: E402
from connectors.console import keymap  # noqa: E402
from connectors.console.client import ConsoleClient  # noqa: E402
from connectors.console.rfb.client import LOCAL_ENCODINGS, RfbClient  # noqa: E402
from connectors.console.spice.client import SpiceClient  # noqa: E402
from connectors.console.transport import SocketTransport, TcpTransport  # noqa: E402

KEYS = ((0x1E, ord("a")), (keymap.SC_BACKSPACE, keymap.XK_BACKSPACE))
GAP_S = 0.25          # between keys: the echo of one has long arrived before the next
TARGET_RATIO = 1.0    # HVConsole's client adds nothing a user could notice to the floor
TARGET_P50_MS = 10.0


def progress(text: str) -> None:
    print(f"console_latency: {text}", file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class Witness:
    """A bare client connected beside HVConsole's, timing the same echoes (VNC serves
    both at once): ``echoes`` are the arrival times of the tall changes it saw."""

    def __init__(self) -> None:
        self.echoes: list[float] = []
        self.seen = asyncio.Event()

    def clear(self) -> None:
        self.echoes.clear()
        self.seen.clear()

    async def first_after(self, t0: float) -> float:
        while not self.echoes:
            await asyncio.wait_for(self.seen.wait(), 10)
            self.seen.clear()
        return (self.echoes[0] - t0) * 1000


async def hvconsole_samples(client: ConsoleClient, count: int, first: int,
                            witness: Witness | None = None) -> tuple[list[float], list[float]]:
    """Key-to-echo of HVConsole's connected, running ``client``, in ms; and the same
    keys' echoes at the ``witness``, if there is one."""
    updates: list[float] = []
    updated = asyncio.Event()

    def on_update() -> None:
        updates.append(time.perf_counter())
        updated.set()
    client.on_update = on_update
    latencies: list[float] = []
    floor: list[float] = []
    for i in range(first, first + count):
        await asyncio.sleep(GAP_S)
        before = client.framebuffer.words.copy()
        scancode, keysym = KEYS[i % 2]
        updated.clear()
        updates.clear()
        if witness is not None:
            witness.clear()
        t0 = time.perf_counter()
        client.send_key(True, keysym, scancode)
        client.send_key(False, keysym, scancode)
        while True:
            await asyncio.wait_for(updated.wait(), 10)
            updated.clear()
            at = updates[-1]
            rows = np.flatnonzero((client.framebuffer.words != before).any(axis=1))
            if rows.size and rows[-1] - rows[0] >= ECHO_ROWS - 1:
                latencies.append((at - t0) * 1000)
                break
        if witness is not None:
            floor.append(await witness.first_after(t0))
    return latencies, floor


async def bare_samples(key_to_echo: Callable[[int, int], Awaitable[float]], count: int,
                       first: int) -> list[float]:
    latencies = []
    for i in range(first, first + count):
        await asyncio.sleep(GAP_S)
        scancode, keysym = KEYS[i % 2]
        latencies.append(await key_to_echo(scancode, keysym) * 1000)
    return latencies


async def run_hvconsole(client: ConsoleClient, count: int, first: int,
                        witness: Witness | None = None) -> tuple[list[float], list[float]]:
    await client.connect()
    runner = asyncio.ensure_future(client.run())
    try:
        while client.frames < 1:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.5)
        return await hvconsole_samples(client, count, first, witness)
    finally:
        client.close()
        await asyncio.gather(runner, return_exceptions=True)
        await asyncio.sleep(0.5)    # the server forgets the last client before the next


async def measure_vnc(dom, samples: int) -> tuple[list[float], list[float]]:
    """HVConsole's client sends every key; a bare client connected beside it times the
    same echo, so each sample has its own floor (QEMU's VNC refresh interval adapts
    between 30 ms and seconds, and its phase, not the client, spreads the samples)."""
    import libvirt

    async def get_fd():
        return await asyncio.to_thread(dom.openGraphicsFD, 0,
                                       libvirt.VIR_DOMAIN_OPEN_GRAPHICS_SKIPAUTH)

    progress("VNC")
    reader, writer = await asyncio.open_connection(sock=socket.socket(fileno=await get_fd()))
    bare = BareRfb(reader, writer)
    witness = Witness()
    try:
        await bare.handshake()
        watcher = asyncio.ensure_future(bare.watch(witness.echoes, witness.seen))
        try:
            return await run_hvconsole(RfbClient(SocketTransport(get_fd, dom.name()),
                                                 encodings=LOCAL_ENCODINGS),
                                       samples, 0, witness)
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
    finally:
        writer.close()


async def measure_spice(port: int, blocks: int, per_block: int) -> tuple[list[float],
                                                                          list[float]]:
    ours: list[float] = []
    floor: list[float] = []
    for block in range(blocks):
        progress(f"SPICE, block {block + 1} of {blocks}")
        ours += (await run_hvconsole(SpiceClient(TcpTransport("127.0.0.1", port)),
                                     per_block, block * per_block))[0]
        bare = BareSpice()
        try:
            await bare.connect("127.0.0.1", port)
            await bare.settle(0.5)
            floor += await bare_samples(bare.key_to_echo, per_block, block * per_block)
        finally:
            bare.close()
            await asyncio.sleep(0.5)
    return ours, floor


def summary(protocol: str, ours: list[float], floor: list[float], paired: bool) -> dict:
    p50, floor_p50 = statistics.median(ours), statistics.median(floor)
    ratio = p50 / floor_p50
    extra = {}
    if paired:      # the same keys: what HVConsole's client adds, key by key
        added = [a - b for a, b in zip(ours, floor, strict=True)]
        extra = {"added_ms_p50": round(statistics.median(added), 2),
                 "added_ms_max": round(max(added), 2)}
    return {"protocol": protocol, "samples": len(ours), "floor_samples": len(floor), **extra,
            "key_to_echo_ms_p50": round(p50, 2),
            "key_to_echo_ms_p95": round(percentile(ours, 0.95), 2),
            "key_to_echo_ms_max": round(max(ours), 2),
            "floor_key_to_echo_ms_p50": round(floor_p50, 2),
            "floor_key_to_echo_ms_p95": round(percentile(floor, 0.95), 2),
            "ratio_key_to_echo": round(ratio, 3), "target_ratio": TARGET_RATIO,
            "met": bool(ratio <= TARGET_RATIO + 0.05),
            "target_p50_ms": TARGET_P50_MS, "met_p50_ms": bool(p50 <= TARGET_P50_MS),
            "samples_ms": [round(v, 1) for v in ours],
            "floor_samples_ms": [round(v, 1) for v in floor]}


def boot(conn, graphics: str, accel: str, prefix: str):
    from tests.integration.guest import guest_xml, serial_log_path
    name = f"{prefix}latency-{graphics}-{uuid.uuid4().hex[:6]}"
    log = serial_log_path(name)
    video = "qxl" if graphics == "spice" else "vga"
    dom = conn.createXML(guest_xml(name, accel=accel, graphics=graphics, video=video,
                                   serial_log=log), 0)
    return dom, log


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="measuring time per protocol, HVConsole and floor together")
    parser.add_argument("--blocks", type=int, default=2,
                        help="turns per protocol for each of HVConsole and the floor")
    parser.add_argument("--protocols", default="vnc,spice")
    parser.add_argument("--prefix", default="hvconsole-bench-",
                        help="name prefix of the transient guests")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    faulthandler.register(signal.SIGUSR1)     # where a stuck run waits
    import libvirt

    from tests.integration.guest import build_guest_files, guest_dir, wait_for_serial
    build_guest_files()
    accel = json.loads((guest_dir() / "accel.json").read_text())["accel"]
    protocols = [p for p in args.protocols.split(",") if p]
    per_block = max(2, int(args.seconds / (GAP_S + 0.05) / (2 * args.blocks)))
    conn = libvirt.open("qemu:///system")
    guests = {p: boot(conn, p, accel, args.prefix) for p in protocols}
    results = []
    try:
        for _dom, log in guests.values():
            wait_for_serial(log, timeout=300)   # TCG on a busy machine
        progress("guests ready")
        for protocol, (dom, _log) in guests.items():
            if protocol == "vnc":
                ours, floor = asyncio.run(measure_vnc(dom, 2 * args.blocks * per_block))
            else:
                port = int(re.search(r"<graphics type='spice' port='(\d+)'",
                                     dom.XMLDesc(0)).group(1))
                ours, floor = asyncio.run(measure_spice(port, args.blocks, per_block))
            results.append(summary(protocol, ours, floor, paired=protocol == "vnc"))
    finally:
        for dom, log in guests.values():
            try:
                dom.destroy()
            except libvirt.libvirtError:
                pass
            log.unlink(missing_ok=True)
        conn.close()
    result = {"benchmark": "console_latency", "accel": accel, **machine(),
              "date": time.strftime("%Y-%m-%d"), "results": results,
              "met": all(r["met"] for r in results)}
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
