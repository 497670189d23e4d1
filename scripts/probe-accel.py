#!/usr/bin/env python3
"""Measure which QEMU accelerator boots the test guest faster here, and remember it.

KVM is not always the fast choice: under nested virtualisation the guest kernel can crawl
(seen: SeaBIOS at once, no shell after minutes), while TCG emulation reaches the shell in
seconds. So both are booted for real through libvirt (qemu:///system) and timed from
createXML to "HVCONSOLE-GUEST-READY" on the serial port. The winner goes to accel.json in
the guest directory, reused until the guest (its build stamp), this script's text or
/dev/kvm's presence changes (--force probes again). Run with the project's venv: .venv/bin/python scripts/probe-accel.py
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import libvirt  # noqa: E402

from tests.integration.guest import (  # noqa: E402
    GUEST_DIR, build_guest_files, guest_xml, serial_log_path, wait_for_serial)

URI = "qemu:///system"
LONG_TRY_FACTOR = 4
ACCEL_FILE = GUEST_DIR / "accel.json"


def kvm_unusable_reason(conn: libvirt.virConnect) -> str | None:
    if not os.path.exists("/dev/kvm"):
        return "no /dev/kvm"
    try:
        conn.getDomainCapabilities(None, "x86_64", None, "kvm", 0)
    except libvirt.libvirtError as err:
        return f"libvirt has no KVM domain type: {err.get_error_message()}"
    return None


def boot_time(conn: libvirt.virConnect, accel: str, timeout: float) -> tuple[float | None, str]:
    """Seconds from domain creation to the ready marker, or None and why not."""
    name = f"{os.environ.get('HVCONSOLE_TEST_PREFIX', 'hvconsole-test-')}probe-{accel}-{os.getpid()}"
    log = serial_log_path(name)
    start = time.monotonic()
    try:
        dom = conn.createXML(guest_xml(name, accel=accel, serial_log=log), 0)
    except libvirt.libvirtError as err:
        return None, f"did not start: {err.get_error_message()}"
    try:
        wait_for_serial(log, timeout=timeout - (time.monotonic() - start))
        return round(time.monotonic() - start, 2), "ready"
    except TimeoutError:
        return None, f"not ready within {timeout:.0f} s"
    finally:
        try:
            dom.destroy()
        except libvirt.libvirtError:
            pass
        log.unlink(missing_ok=True)


def cache_key() -> str:
    """What the measurement depends on: the guest as built (its stamp) and this script."""
    digest = hashlib.sha256((GUEST_DIR / "stamp").read_bytes())
    digest.update(Path(__file__).resolve().read_bytes())
    return digest.hexdigest()


def cached(kernel_version: str) -> dict | None:
    try:
        data = json.loads(ACCEL_FILE.read_text())
    except (OSError, ValueError):
        return None
    if (data.get("kernel_version") == kernel_version
            and data.get("key") == cache_key()
            and data.get("kvm_device") == os.path.exists("/dev/kvm")
            and data.get("accel") in ("kvm", "qemu")):
        return data
    return None


def probe(info: dict, timeout: float) -> dict:
    conn = libvirt.open(URI)
    try:
        results: dict[str, dict] = {}
        # TCG first: it is the one known to work everywhere, and its time bounds how long
        # KVM is worth waiting for.
        secs, why = boot_time(conn, "qemu", timeout)
        results["qemu"] = {"seconds": secs, "result": why}
        reason = kvm_unusable_reason(conn)
        if reason:
            results["kvm"] = {"seconds": None, "result": reason}
        else:
            bound = timeout if secs is None else min(timeout, max(15.0, 3 * secs))
            ksecs, kwhy = boot_time(conn, "kvm", bound)
            results["kvm"] = {"seconds": ksecs, "result": kwhy}
        if secs is None and results["kvm"]["seconds"] is None:
            # A machine busy with other work can take longer than the bound: give TCG,
            # which works everywhere, one long try before calling the guest broken.
            secs, why = boot_time(conn, "qemu", LONG_TRY_FACTOR * timeout)
            results["qemu"] = {"seconds": secs, "result": why + " (second, longer try)"}
    finally:
        conn.close()
    timed = {a: r["seconds"] for a, r in results.items() if r["seconds"] is not None}
    if not timed:
        raise SystemExit(f"probe-accel: the test guest booted with neither accelerator: {results}")
    winner = min(timed, key=timed.get)
    data = {"accel": winner, "results": results, "kernel_version": info["kernel_version"],
            "key": cache_key(),
            "kvm_device": os.path.exists("/dev/kvm"),
            "probed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    ACCEL_FILE.write_text(json.dumps(data, indent=2) + "\n")
    ACCEL_FILE.chmod(0o644)
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="probe even if accel.json is current")
    parser.add_argument("--timeout", type=float,
                        default=float(os.environ.get("HVCONSOLE_PROBE_TIMEOUT", "45")),
                        help="longest wait for one boot, in seconds (default 45)")
    args = parser.parse_args()
    info = build_guest_files()
    data = None if args.force else cached(info["kernel_version"])
    if data is None:
        data = probe(info, args.timeout)
    else:
        print(f"probe-accel: cached result from {data['probed_at']}", file=sys.stderr)
    for accel, res in data["results"].items():
        print(f"probe-accel: {accel}: {res['result']}"
              + (f" in {res['seconds']} s" if res["seconds"] is not None else ""), file=sys.stderr)
    print(f"accel={data['accel']}")
    print(f"file={ACCEL_FILE}")


if __name__ == "__main__":
    main()
