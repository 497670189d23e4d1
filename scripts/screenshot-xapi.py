"""Pictures of a XenServer / XCP-ng pool in the main window, served by the XAPI simulator.

Starts scripts/xapi-simulator.py on a generated pool (3 hosts, 30 VMs) on 127.0.0.1,
opens the window as the app composes it, answers the certificate question and the
password as a user would (the dialogs themselves are pictured too), selects a running
VM, raises a few of the pool's own alerts (XAPI messages) and saves PNGs into the folder given (default /tmp/hvconsole-xapi). For README pictures
and for looking at what a user sees.

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python scripts/screenshot-xapi.py DIR
"""
from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from PySide6.QtWidgets import QApplication  # noqa: E402


async def shoot(out: Path, tmp: Path) -> None:
    from types import SimpleNamespace

    from app.certificates import TrustedCertificates
    from connectors.libvirt.model import VMState
    from tests.xapi_sim_helpers import PASSWORD, start_process
    from widgets.dialogs.server_certificate import ServerCertificateDialog
    from widgets.launcher import Session

    sim = start_process(tmp / "pool.db", "--generate-pool", "3,30", "--no-save")
    try:
        uri = f"xapi://root@{sim.address}"
        session = Session(SimpleNamespace(connect=[uri], screenshot=None, show_domain=None))
        window = session.build()
        window.resize(1280, 800)
        window.show()
        manager = session.manager
        manager.certificates = TrustedCertificates(tmp / "trusted.json")

        async def trust(uri, shown) -> bool:
            dialog = ServerCertificateDialog(shown, window)
            dialog.show()
            await asyncio.sleep(0.5)
            dialog.grab().save(str(out / "certificate.png"))
            dialog.close()
            return True

        async def password(uri, requests):
            return ["root", PASSWORD]
        manager.set_certificate_handler(trust)
        manager.set_auth_handler(password)
        conn_id = manager.open(uri, save=False)
        await manager.wait_attempt(conn_id, 60)
        await asyncio.sleep(1.5)
        window.tree.expandAll()
        pool = manager.pool(conn_id)
        vm = next(v for v in pool.vms() if v.state is VMState.RUNNING
                  and not v.is_control_domain)
        window.tree.select_node(conn_id, vm.key)
        await asyncio.sleep(1.5)
        window.grab().save(str(out / "pool.png"))
        window.tabs.setCurrentWidget(window.performance_tab)
        await asyncio.sleep(8)
        window.grab().save(str(out / "performance.png"))
        window.tabs.setCurrentWidget(window.console_tab)
        await asyncio.sleep(4)
        window.grab().save(str(out / "console.png"))
        await raise_alerts(sim, pool, vm)
        window.tabs.setCurrentWidget(window.alerts_tab)
        await asyncio.sleep(1.5)
        window.grab().save(str(out / "alerts.png"))
        print(manager.state(conn_id))
        await session.shutdown()
    finally:
        sim.stop()


async def raise_alerts(sim, pool, vm) -> None:
    """The pool's own alerts, raised by another XenAPI client as xapi would."""
    from connectors.xapi.session import PinBook, Session as XapiSession
    from connectors.xapi.uri import normalise_fingerprint

    host, port = sim.address.rsplit(":", 1)
    admin = XapiSession(host, int(port), "root", "xenroot",
                        PinBook({sim.address: normalise_fingerprint(sim.fingerprint)}))
    master = next(s for s in pool.servers() if s.is_master)
    alarm = ("value: 0.973\nconfig:\n<variable>\n\t<name value=\"cpu_usage\"/>\n"
             "\t<alarm_trigger_level value=\"0.9\"/>\n\t<alarm_trigger_period value=\"60\"/>\n"
             "</variable>")
    for args in (("VM_STARTED", 5, "VM", vm.key, ""),
                 ("ALARM", 3, "VM", vm.key, alarm),
                 ("HOST_CLOCK_SKEW_DETECTED", 3, "Host", master.key,
                  "The clock of this host differs from the master's by 92 s"),
                 ("VM_CRASHED", 2, "VM", vm.key, "The VM crashed and was shut down")):
        await asyncio.to_thread(lambda a=args: (admin.login() if not admin.ref else None,
                                                admin.call("message.create", *a)))
    await asyncio.to_thread(admin.logout)


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/hvconsole-xapi")
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([])
    from widgets.event_loop import AsyncQtLoop
    loop = AsyncQtLoop(app)
    asyncio.set_event_loop(loop)
    with tempfile.TemporaryDirectory(prefix="hvconsole-xapi-shot-") as tmp:
        loop.run_until_complete(shoot(out, Path(tmp)))
    print(f"saved in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
