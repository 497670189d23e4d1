"""scripts/xapi-simulator.py's command line.

On start it prints, for people, the address and the certificate fingerprint, and for
programs one line per listener::

    XAPI_SIM role=master host=OpaqueRef:... address=127.0.0.1:41234 fingerprint=SHA256:AB:...
    XAPI_SIM ready

and then serves until SIGTERM or SIGINT, when it writes the database back. SIGUSR1 makes
it forget its change log: every client's next ``event.from`` answers EVENTS_LOST."""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from . import statedb
from .api import Options
from .generate import generate
from .console import Consoles
from .libvirt_backing import LibvirtBacking
from .rrd import Rrds
from .sim import Simulator
from .tls import Identity


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if host not in ("127.0.0.1", "localhost", "::1", "[::1]"):
        raise argparse.ArgumentTypeError("listen on a loopback address (127.0.0.1:PORT)")
    return host.strip("[]"), int(port)


def _users(text: str) -> dict[str, str]:
    users = {}
    for item in text.split(","):
        name, sep, password = item.partition(":")
        if not sep or not name:
            raise argparse.ArgumentTypeError("users are NAME:PASSWORD[,NAME:PASSWORD...]")
        users[name] = password
    return users


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="xapi-simulator.py", description=__doc__.split("\n")[0])
    p.add_argument("--db", required=True, help="state.db to serve (and write back)")
    p.add_argument("--generate-pool", metavar="HOSTS,VMS",
                   help="write a generated pool to --db first (replacing it)")
    p.add_argument("--generate-only", action="store_true",
                   help="with --generate-pool: write the database and exit")
    p.add_argument("--seed", type=int, default=19, help="generator seed")
    p.add_argument("--listen", type=_address, default=("127.0.0.1", 0),
                   help="the pool master's address (port 0: any free port)")
    p.add_argument("--member-listen", type=_address, action="append", default=[],
                   help="also serve the next non-master host here (it answers HOST_IS_SLAVE)")
    p.add_argument("--users", type=_users, default={"root": "xenroot"},
                   help="NAME:PASSWORD,... who may log in (default root:xenroot)")
    p.add_argument("--session-timeout", type=float, default=0.0,
                   help="seconds of inactivity after which a session is invalid (0: never)")
    p.add_argument("--op-seconds", type=float, default=0.6,
                   help="how long a simulated VM operation takes (task progress in steps)")
    p.add_argument("--cert", help="PEM file keeping the key and certificate across restarts")
    p.add_argument("--new-cert", action="store_true",
                   help="make a new certificate even if --cert exists (a changed server)")
    p.add_argument("--no-save", action="store_true", help="never write the database back")
    p.add_argument("--libvirt-uri", default="",
                   help="back VMs whose other_config:hvconsole_libvirt_domain names a domain "
                        "with that real guest (e.g. qemu:///system)")
    p.add_argument("--bind-domain", action="append", default=[], metavar="VM_NAME=DOMAIN",
                   help="bind the VM with this name_label to a libvirt domain")
    p.add_argument("--master", metavar="HOST",
                   help="make this host (name_label, UUID or ref) the pool master before "
                        "serving, as after `xe pool-emergency-transition-to-master` on a "
                        "member whose master died; --listen then serves it")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.generate_pool:
        hosts, _, vms = args.generate_pool.partition(",")
        statedb.dump(generate(int(hosts), int(vms or 0), seed=args.seed), args.db)
        if args.generate_only:
            print(f"xapi-simulator: wrote {args.db}", flush=True)
            return 0
    if not Path(args.db).exists():
        print(f"xapi-simulator: {args.db} does not exist (use --generate-pool)", file=sys.stderr)
        return 2
    db = statedb.load(args.db)
    options = Options(users=args.users, session_timeout=args.session_timeout,
                      op_seconds=args.op_seconds)
    identity = Identity(args.cert, renew=args.new_cert)
    sim = Simulator(db, options, identity, None if args.no_save else args.db)
    if args.master:
        try:
            sim.make_master(args.master)
        except LookupError as err:
            print(f"xapi-simulator: {err}", file=sys.stderr)
            return 2
    extras = attach_extras(sim, args)
    served = sim.serve(args.listen, args.member_listen)
    if extras.backing is not None:
        extras.backing.start()
    for item in served:
        print(f"xapi-simulator: serving https://{item.address} ({item.role})", flush=True)
    print(f"xapi-simulator: certificate {identity.fingerprint}", flush=True)
    for item in served:
        print(f"XAPI_SIM role={item.role} host={item.host} address={item.address} "
              f"fingerprint={identity.fingerprint}", flush=True)
    # Handlers before "ready": a signal sent the moment a script reads it must not find
    # the default action (SIGUSR1's would end the process).
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    # SIGUSR1: forget the change log, so every client's next event.from is EVENTS_LOST.
    signal.signal(signal.SIGUSR1, lambda *_: sim.store.forget_history())
    print("XAPI_SIM ready", flush=True)
    stop.wait()
    sim.close(save=not args.no_save)
    return 0


@dataclass
class Extras:
    rrds: Rrds
    consoles: Consoles
    backing: LibvirtBacking | None


def attach_extras(sim: Simulator, args: argparse.Namespace | None) -> Extras:
    """The HTTP handlers (RRDs, consoles) and the real-guest backing; returns them."""
    rrds = Rrds(sim.store, sim.served_hosts)
    sim.attach(rrds)
    backing = None
    if args is not None and (args.libvirt_uri or args.bind_domain):
        bindings = dict(item.split("=", 1) for item in args.bind_domain)
        backing = LibvirtBacking(args.libvirt_uri or "qemu:///system", sim.store, sim.states,
                                 rrds, bindings)
        sim.vms.backing = backing
    consoles = Consoles(sim.store, backing.vnc_address if backing else None)
    sim.attach(consoles)
    return Extras(rrds, consoles, backing)
