"""A 5,000-VM XenServer / XCP-ng pool in the tree, against scripts/xapi-simulator.py.
Prints one JSON line.

The simulator serves a generated pool (``--hosts`` members, ``--vms`` VMs: two in five
running, spread over the members) as its own process on 127.0.0.1. Measured here:

- ``floor_get_all_records_s``: a bare client (connectors.xapi.session, one TLS socket)
  logging in and calling ``VM.get_all_records``: what any XenAPI client pays to learn the
  VMs, the floor for the tree;
- ``floor_event_from_s``: the same for ``event.from`` with an empty token over the
  classes the tree needs (the call HVConsole's connection actually makes: it returns
  every object, hosts, SRs, networks and tasks included);
- ``tree_ready_s``: from ConnectionManager.open(xapi://…) until every VM is a row of the
  tree (the app's InventoryModel with its 50 ms batching, in an offscreen Qt app);
- ``rows``: the rows the tree then holds.
Compare with benchmarks/inventory_scale.py (10,000 libvirt VMs over 20 connections).

Run: ``.venv/bin/python benchmarks/xapi_scale.py --vms 5000 --hosts 2``
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vms", type=int, default=5000)
    parser.add_argument("--hosts", type=int, default=2)
    args = parser.parse_args()

    from PySide6.QtWidgets import QApplication

    from app.certificates import TrustedCertificates
    from connectors.xapi.cache import CLASSES
    from connectors.xapi.session import PinBook, Session
    from connectors.xapi.uri import normalise_fingerprint
    from tests.integration.app_stack import AppStack
    from tests.xapi_sim_helpers import PASSWORD, start_process
    from widgets.event_loop import AsyncQtLoop

    with tempfile.TemporaryDirectory(prefix="hvconsole-xapi-bench-") as tmp:
        sim = start_process(Path(tmp) / "pool.db", "--generate-pool",
                            f"{args.hosts},{args.vms}", "--no-save")
        try:
            pin = normalise_fingerprint(sim.fingerprint)
            host, port = sim.address.rsplit(":", 1)
            result: dict[str, object] = {"vms": args.vms, "hosts": args.hosts}

            session = Session(host, int(port), "root", PASSWORD,
                              PinBook({sim.address: pin}))
            start = time.perf_counter()
            session.login()
            records = session.call("VM.get_all_records")
            result["floor_get_all_records_s"] = round(time.perf_counter() - start, 3)
            result["vm_records"] = len(records)
            start = time.perf_counter()
            batch = session.call("event.from", list(CLASSES), "", 0.0)
            result["floor_event_from_s"] = round(time.perf_counter() - start, 3)
            result["event_from_objects"] = len(batch["events"])
            session.logout()

            app = QApplication.instance() or QApplication([])
            loop = AsyncQtLoop(app)
            asyncio.set_event_loop(loop)
            stack = AppStack()
            stack.manager.certificates = TrustedCertificates(Path(tmp) / "trusted.json")

            async def password(uri, requests):
                return ["root", PASSWORD]
            stack.manager.set_auth_handler(password)

            async def load() -> float:
                started = time.perf_counter()
                conn_id = stack.manager.open(f"xapi://root@{sim.address}?fingerprint={pin}",
                                             save=False)
                while len(stack.inventory.vms(conn_id)) < args.vms:
                    await asyncio.sleep(0.005)
                    if stack.manager.state(conn_id)[1]:
                        raise RuntimeError(stack.manager.state(conn_id)[1])
                return time.perf_counter() - started
            result["tree_ready_s"] = round(loop.run_until_complete(load()), 3)
            result["rows"] = sum(1 for _ in stack.nodes())
            loop.run_until_complete(stack.close())
        finally:
            sim.stop()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
