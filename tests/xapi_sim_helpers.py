"""Run the XAPI simulator (scripts/xapi_sim) inside a test: a generated pool served on
127.0.0.1 with free ports, and small clients that speak XML-RPC and JSON-RPC to it over
TLS. Tests that need the simulator as a separate process (restart, kill) use
scripts/xapi-simulator.py through start_process()."""
from __future__ import annotations

import http.client
import json
import os
import re
import ssl
import subprocess
import sys
import xmlrpc.client
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from xapi_sim import statedb  # noqa: E402
from xapi_sim.api import Options  # noqa: E402
from xapi_sim.generate import generate  # noqa: E402
from xapi_sim.sim import Served, Simulator  # noqa: E402
from xapi_sim.tls import Identity  # noqa: E402

PASSWORD = "xenroot"


def insecure_context() -> ssl.SSLContext:
    """The simulator's certificate is self-signed; tests check its fingerprint instead."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class XmlRpc:
    """A bare XML-RPC client: returns the XenAPI envelope as it came."""

    def __init__(self, address: str) -> None:
        self.proxy = xmlrpc.client.ServerProxy(f"https://{address}/",
                                               context=insecure_context(), allow_none=True)

    def call(self, method: str, *params: Any) -> dict[str, Any]:
        return getattr(self.proxy, method)(*params)


class JsonRpc:
    """A bare JSON-RPC client over one kept-alive HTTPS connection."""

    def __init__(self, address: str, version: str = "2.0") -> None:
        host, port = address.rsplit(":", 1)
        self.conn = http.client.HTTPSConnection(host, int(port), context=insecure_context(),
                                                timeout=30)
        self.version = version
        self.next_id = 0

    def raw(self, body: bytes, path: str = "/jsonrpc") -> dict[str, Any]:
        self.conn.request("POST", path, body, {"Content-Type": "application/json"})
        response = self.conn.getresponse()
        return json.loads(response.read())

    def call(self, method: str, *params: Any) -> dict[str, Any]:
        self.next_id += 1
        request: dict[str, Any] = {"method": method, "params": list(params), "id": self.next_id}
        if self.version == "2.0":
            request["jsonrpc"] = "2.0"
        return self.raw(json.dumps(request).encode())


@dataclass
class RunningSim:
    sim: Simulator
    served: list[Served]
    extras: Any  # cli.Extras: rrds, consoles, backing

    @property
    def address(self) -> str:
        return self.served[0].address

    def login(self, client: Any = None) -> str:
        client = client or JsonRpc(self.address)
        reply = client.call("session.login_with_password", "root", PASSWORD, "2.21", "test")
        return reply["result"] if "result" in reply else reply["Value"]

    def vm(self, name: str) -> str:
        return self.sim.store.find("VM", name_label=name)[0]

    def get(self, path: str) -> tuple[int, bytes]:
        """An HTTPS GET on the master (e.g. /rrd_updates?...): status and body."""
        host, port = self.address.rsplit(":", 1)
        conn = http.client.HTTPSConnection(host, int(port), context=insecure_context(),
                                           timeout=30)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


@contextmanager
def running_simulator(hosts: int = 2, vms: int = 20, members: int = 0,
                      db_path: str | None = None, **options: Any) -> Iterator[RunningSim]:
    db = statedb.load(db_path) if db_path and Path(db_path).exists() else generate(hosts, vms)
    options.setdefault("op_seconds", 0.05)
    sim = Simulator(db, Options(users={"root": PASSWORD}, **options), Identity(),
                    db_path=db_path)
    extras = options_extras(sim)
    served = sim.serve(("127.0.0.1", 0), [("127.0.0.1", 0)] * members)
    try:
        yield RunningSim(sim, served, extras)
    finally:
        sim.close(save=db_path is not None)


def options_extras(sim: Simulator) -> Any:
    """Attach what the command line attaches besides the API (RRDs, consoles)."""
    from xapi_sim import cli
    return cli.attach_extras(sim, None)


@dataclass
class SimProcess:
    process: subprocess.Popen[str]
    lines: dict[str, dict[str, str]]

    @property
    def address(self) -> str:
        return self.lines["master"]["address"]

    @property
    def fingerprint(self) -> str:
        return self.lines["master"]["fingerprint"]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def start_process(db: Path, *args: str) -> SimProcess:
    """scripts/xapi-simulator.py as its own process; returns once it says it is ready."""
    process = subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "xapi-simulator.py"), "--db", str(db), *args],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines: dict[str, dict[str, str]] = {}
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("XAPI_SIM ready"):
            return SimProcess(process, lines)
        if line.startswith("XAPI_SIM "):
            fields = dict(re.findall(r"(\w+)=(\S+)", line))
            lines.setdefault(fields["role"], fields)
    process.wait()
    raise RuntimeError(f"the simulator ended before it was ready (exit {process.returncode})")
