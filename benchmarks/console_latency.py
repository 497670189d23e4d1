"""Key-to-echo latency on the real test guest: a key sent as a QEMU extended key event
through libvirt's console socket -> the first screen update whose changed pixels hold
the echoed glyph (the blinking text cursor alone changes only its two underline rows,
so a change taller than that is the echo). Alternates a letter and Backspace at the
guest's shell prompt. Prints JSON: key_to_echo_ms_p50, _p95, _max, samples.

Needs libvirtd (qemu:///system) and the test guest (scripts/build-test-guest.sh);
the guest is transient and destroyed at the end.
Run: .venv/bin/python benchmarks/console_latency.py --json
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.console import keymap  # noqa: E402
from connectors.console.rfb.client import LOCAL_ENCODINGS, RfbClient  # noqa: E402
from connectors.console.transport import SocketTransport  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def measure(dom, samples: int) -> list[float]:
    import libvirt

    async def get_fd():
        return await asyncio.to_thread(dom.openGraphicsFD, 0,
                                       libvirt.VIR_DOMAIN_OPEN_GRAPHICS_SKIPAUTH)

    client = RfbClient(SocketTransport(get_fd, dom.name()), encodings=LOCAL_ENCODINGS)
    updated = asyncio.Event()
    client.on_update = updated.set
    await client.connect()
    runner = asyncio.ensure_future(client.run())
    try:
        while client.frames < 1:
            await asyncio.sleep(0.01)
        keys = [(0x1E, ord("a")), (keymap.SC_BACKSPACE, keymap.XK_BACKSPACE)]
        latencies = []
        for i in range(samples):
            await asyncio.sleep(0.25)
            before = client.framebuffer.words.copy()
            scancode, keysym = keys[i % 2]
            updated.clear()
            t0 = time.perf_counter()
            client.send_key(True, keysym, scancode)
            client.send_key(False, keysym, scancode)
            while True:
                await asyncio.wait_for(updated.wait(), 10)
                updated.clear()
                rows = np.flatnonzero((client.framebuffer.words != before).any(axis=1))
                if rows.size and rows[-1] - rows[0] >= 3:
                    latencies.append((time.perf_counter() - t0) * 1000)
                    break
        return latencies
    finally:
        client.close()
        runner.cancel()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import libvirt

    from tests.integration.guest import (build_guest_files, guest_dir, guest_xml,
                                         serial_log_path, wait_for_serial)
    build_guest_files()
    accel = json.loads((guest_dir() / "accel.json").read_text())["accel"]
    name = f"hvconsole-test-latency-{uuid.uuid4().hex[:6]}"
    conn = libvirt.open("qemu:///system")
    log = serial_log_path(name)
    dom = conn.createXML(guest_xml(name, accel=accel, serial_log=log), 0)
    try:
        wait_for_serial(log)
        latencies = asyncio.run(measure(dom, args.samples))
    finally:
        dom.destroy()
        log.unlink(missing_ok=True)
        conn.close()
    result = {"benchmark": "console_latency", "transport": "libvirt socket",
              "encoding": "raw", "accel": accel, "samples": len(latencies),
              "key_to_echo_ms_p50": round(statistics.median(latencies), 1),
              "key_to_echo_ms_p95": round(percentile(latencies, 0.95), 1),
              "key_to_echo_ms_max": round(max(latencies), 1)}
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
