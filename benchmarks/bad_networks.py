"""A remote KVM host over a bad network, in the real main window: what the user sees.

The host is a second libvirtd in its own namespaces (scripts/start-peer-host.sh) reached
as ``qemu+ssh://`` through an sshd of its own, running the test guest, whose VNC console
the window shows through the same sshd. tests/integration/bad_link.py makes the faults on
the host's end of the veth pair: 200 ms delay, 2 % loss, a blackhole, a link that flaps.
For each condition, one JSON record:

- ``max_loop_stall_ms`` (and ``stall_other_threads_ms``): the scale benchmark's probe,
  a 25 ms Qt timer, over the whole condition and its recovery;
- ``states``: the host's connection states as the tree showed them, with the second
  each began (from the fault's start); ``lost_after_s``: when it first left "connected"
  (None: it never did) — the keepalive window is ``keepalive_window_s``;
- ``recovered_after_heal_s``: from the fault's end until the host was connected again,
  the guest's console connected and showing new frames, and the inventory equal to the
  host's truth (``virsh list --all`` through its UNIX socket, which no fault touches);
- ``action``: a Pause of the guest issued ``action_at_s`` into the fault, through the
  host's connector as the toolbar's command does: "completed" or "error" with its
  message, and how long it took (``hung`` when no answer came within 120 s);
- ``event_during_fault``: a VM defined on the host while the fault lasted must be in the
  tree afterwards (``inventory_equal``), with every other VM's state;
- ``console``: its state at the end and the frames received during the condition.

Run (root, libvirtd and the test guest; about 9 minutes):
``.venv/bin/python benchmarks/bad_networks.py --json``
``--conditions delay,loss,blackhole,flap`` picks some; ``--blackhole-s``, ``--flap-s``,
``--steady-s`` shorten them (the CI test uses the same code with short ones).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.inventory_scale import StallProbe  # noqa: E402
from benchmarks.window_harness import private_dirs, run_window, show_console  # noqa: E402

PREFIX = "hvconsole-badnet-"
ACTION_HANG_S = 120.0
RECOVERY_LIMIT_S = 180.0


@dataclass
class Condition:
    name: str
    seconds: float        # how long the fault lasts
    delay_ms: float = 0.0
    loss: float = 0.0
    blackhole: bool = False
    flap_period_s: float = 0.0
    action_at_s: float = 2.0


def conditions(args) -> list[Condition]:
    every = {
        "delay": Condition("delay 200 ms", args.steady_s, delay_ms=200),
        "loss": Condition("loss 2 %", args.steady_s, loss=0.02),
        "delay+loss": Condition("delay 200 ms + loss 2 %", args.steady_s, delay_ms=200,
                                loss=0.02),
        "blackhole": Condition(f"blackhole {args.blackhole_s:g} s", args.blackhole_s,
                               blackhole=True),
        "flap": Condition(f"link flapping every {args.flap_period_s:g} s for "
                          f"{args.flap_s:g} s", args.flap_s,
                          flap_period_s=args.flap_period_s),
    }
    return [every[name] for name in args.conditions.split(",")]


@dataclass
class StateLog:
    """The host's state as the app holds it, sampled every 20 ms, changes only."""

    host: object
    t0: float = field(default_factory=time.monotonic)
    changes: list[tuple[float, str, str]] = field(default_factory=list)

    async def watch(self) -> None:
        last = None
        while True:
            state = (self.host.state.value, self.host.reason)
            if state[0] != last:
                self.changes.append((round(time.monotonic() - self.t0, 2), *state))
                last = state[0]
            await asyncio.sleep(0.02)

    def first_not_connected(self) -> float | None:
        return next((t for t, s, _ in self.changes if s != "connected"), None)


async def issue_action(host, key: str) -> dict:
    from connectors.libvirt.model import ConnectorError, VMAction
    started = time.monotonic()
    try:
        await asyncio.wait_for(host.vm_action(key, VMAction.PAUSE), ACTION_HANG_S)
        outcome, message = "completed", ""
    except asyncio.TimeoutError:
        outcome, message = "hung", f"no answer within {ACTION_HANG_S:g} s"
    except ConnectorError as err:
        outcome, message = "error", str(err)
    return {"action": "pause", "outcome": outcome, "message": message,
            "seconds": round(time.monotonic() - started, 2)}


def inventory_view(session, conn_id: str) -> dict[str, str]:
    """The tree's VMs of the host and their state, in virsh's words."""
    return {vm.name: vm.state.value for vm in session.inventory.vms(conn_id)}


async def fault(remote, cond: Condition) -> None:
    """Applies the condition for its duration, then heals the link."""
    if cond.flap_period_s:
        up, end = False, time.monotonic() + cond.seconds
        while time.monotonic() < end:
            await asyncio.to_thread(remote.link, up)
            await asyncio.sleep(min(cond.flap_period_s, max(0.0, end - time.monotonic())))
            up = not up
    else:
        if cond.blackhole:
            await asyncio.to_thread(remote.blackhole)
        elif cond.delay_ms or cond.loss:
            await asyncio.to_thread(remote.shape, cond.delay_ms, cond.loss)
        await asyncio.sleep(cond.seconds)
    await asyncio.to_thread(remote.heal)


async def recovered(session, conn_id: str, remote, console, frames: list[int],
                    start: float) -> dict:
    """Waits until host, console and inventory are all back; when each was, in seconds
    from ``start`` (the heal)."""
    from connectors.console.state import ConsoleState
    from connectors.libvirt.model import ConnState
    host = session.manager.host(conn_id)
    marks: dict[str, float | None] = {"host": None, "console": None, "inventory": None}
    frames_at_host = None
    truth: dict[str, str] = {}
    while time.monotonic() - start < RECOVERY_LIMIT_S and None in marks.values():
        now = round(time.monotonic() - start, 2)
        if marks["host"] is None and host.state is ConnState.CONNECTED:
            marks["host"] = now
        if marks["host"] is not None and marks["console"] is None:
            if frames_at_host is None:
                frames_at_host = frames[0]
            if console.status.state is ConsoleState.CONNECTED and frames[0] > frames_at_host:
                marks["console"] = now
        if marks["host"] is not None and marks["inventory"] is None:
            truth = await asyncio.to_thread(remote.truth)
            if inventory_view(session, conn_id) == truth:
                marks["inventory"] = now
        await asyncio.sleep(0.2)
    return {"host_s": marks["host"], "console_s": marks["console"],
            "inventory_s": marks["inventory"],
            "inventory_equal": marks["inventory"] is not None,
            "inventory": inventory_view(session, conn_id), "truth": truth}


async def run_condition(session, conn_id: str, remote, console, cond: Condition) -> dict:
    from connectors.libvirt.model import ConnState
    host = session.manager.host(conn_id)
    key = next(vm.key for vm in host.vms() if vm.name == remote.guest_name)
    frames = [0]

    def counted() -> None:
        frames[0] += 1
    console.frameUpdated.connect(counted)
    states = StateLog(host)
    watcher = asyncio.ensure_future(states.watch())
    probe = StallProbe()
    faulting = asyncio.ensure_future(fault(remote, cond))
    await asyncio.sleep(cond.action_at_s)
    late_vm = f"{remote.guest_name}-during-{uuid.uuid4().hex[:4]}"
    action = asyncio.ensure_future(issue_action(host, key))
    await asyncio.to_thread(remote.define_stopped, late_vm)
    await faulting
    frames_during = frames[0]
    healed = time.monotonic()
    action_result = await action
    # A paused guest's screen stands still: resume it on the host (one more event the
    # tree must follow) so that the console's new frames can show it is back.
    if (await asyncio.to_thread(remote.truth)).get(remote.guest_name) == "paused":
        await asyncio.to_thread(remote.virsh, "resume", remote.guest_name)
    back = await recovered(session, conn_id, remote, console, frames, healed)
    probe.stop()
    watcher.cancel()
    console.frameUpdated.disconnect(counted)
    await asyncio.to_thread(remote.virsh, "undefine", late_vm)
    settled = time.monotonic()
    while any(vm.name == late_vm for vm in host.vms()) or host.state is not ConnState.CONNECTED:
        if time.monotonic() - settled > RECOVERY_LIMIT_S:
            raise RuntimeError(f"after {cond.name}: the host is {host.state.value} "
                               f"({host.reason}); {late_vm} undefined but still listed: "
                               f"{any(vm.name == late_vm for vm in host.vms())}")
        await asyncio.sleep(0.2)
    settings = host.settings
    return {
        "condition": cond.name, "fault_s": cond.seconds,
        "max_loop_stall_ms": round(probe.stall_ms, 1),
        "stall_other_threads_ms": round(probe.stall_others_ms, 1),
        "max_loop_busy_ms": round(probe.busy_ms, 1),
        "keepalive_window_s": settings.keepalive_interval_s * (settings.keepalive_count + 1),
        "lost_after_s": states.first_not_connected(),
        "states": [(t, s) for t, s, _ in states.changes],
        "reasons": sorted({r for _, s, r in states.changes if s != "connected" and r})[:4],
        "healed_at_s": round(healed - states.t0, 2),
        "recovered_after_heal_s": {k: back[k] for k in ("host_s", "console_s", "inventory_s")},
        "action_at_s": cond.action_at_s, "action": action_result,
        "event_during_fault": late_vm, "inventory_equal": back["inventory_equal"],
        "inventory_diff": {name: (back["inventory"].get(name), back["truth"].get(name))
                           for name in set(back["inventory"]) | set(back["truth"])
                           if back["inventory"].get(name) != back["truth"].get(name)},
        "console": {"state_end": console.status.state.name, "frames_during_fault": frames_during,
                    "frames_total": frames[0]},
    }


async def frames_per_second(console, seconds: float) -> float:
    """Screen updates the console shows per second (the guest scrolls four times a
    second): proof that the console works before the link is made bad."""
    frames = [0]

    def counted() -> None:
        frames[0] += 1
    console.frameUpdated.connect(counted)
    await asyncio.sleep(seconds)
    console.frameUpdated.disconnect(counted)
    return round(frames[0] / seconds, 1)


async def measure(session, args) -> dict:
    from connectors.libvirt.model import ConnState
    from tests.integration.bad_link import RemoteKvmHost
    from tests.integration.guest import build_guest_files, guest_dir
    build_guest_files()
    accel = json.loads((guest_dir() / "accel.json").read_text())["accel"]
    remote = await asyncio.to_thread(RemoteKvmHost.start, f"{PREFIX}{uuid.uuid4().hex[:6]}",
                                     accel)
    try:
        await asyncio.to_thread(remote.wait_guest_ready)
        await asyncio.to_thread(remote.scroll_console)
        conn_id = session.manager.open(remote.uri, save=False)
        host = session.manager.host(conn_id)
        while host.state is not ConnState.CONNECTED:
            await asyncio.sleep(0.1)
        console = await show_console(session.window, conn_id, remote.guest_name)
        baseline = await frames_per_second(console, 5.0)
        results = []
        for cond in conditions(args):
            record = await run_condition(session, conn_id, remote, console, cond)
            print(json.dumps(record), file=sys.stderr, flush=True)
            results.append(record)
        return {"benchmark": "bad_networks", "accel": accel, "uri_kind": "qemu+ssh",
                "console": "vnc over ssh -W", "console_fps_before": baseline,
                "conditions": results}
    finally:
        await asyncio.to_thread(remote.stop)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conditions", default="delay,loss,blackhole,flap")
    parser.add_argument("--steady-s", type=float, default=60.0,
                        help="how long delay and loss last")
    parser.add_argument("--blackhole-s", type=float, default=30.0)
    parser.add_argument("--flap-s", type=float, default=120.0)
    parser.add_argument("--flap-period-s", type=float, default=10.0)
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args(argv)
    private_dirs("hvconsole-badnet-")
    result = run_window(lambda session: measure(session, args))
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
