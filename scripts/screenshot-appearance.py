"""Pictures of the main window in light or dark, at the scale Qt is run with: the demo
lab with a VM's Performance tab, and the command palette finding a VM by a mistyped name.

For the README and for looking at what a user sees. Run it under Xvfb, once per scheme
and scale (QT_SCALE_FACTOR is read when Qt starts):

    xvfb-run -a -s "-screen 0 2800x1800x24" env QT_SCALE_FACTOR=2 \\
        .venv/bin/python scripts/screenshot-appearance.py docs dark

Saves DIR/screenshot-SCHEME[-2x].png (the window) and DIR/screenshot-palette-SCHEME[-2x].png.
"""
from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from types import SimpleNamespace

from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parents[1]


async def shoot(out: Path, scheme: str, suffix: str) -> None:
    from app.connection_manager import demo_uri
    from connectors.libvirt.model import ConnState
    from widgets.launcher import Session
    session = Session(SimpleNamespace(connect=[], screenshot=None, show_domain=None,
                                      show_domain_creator=False, debug=False))
    window = session.build()
    window.resize(1280, 800)
    window.show()
    conn_id = session.manager.open(demo_uri(), save=False, demo=True)
    for _ in range(100):
        host = session.manager.host(conn_id)
        if host is not None and host.state is ConnState.CONNECTED and host.vms():
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)
    vm = next(v for v in session.manager.host(conn_id).vms() if v.name == "web-01")
    window.tree.select_node(conn_id, vm.key)
    window.tabs.setCurrentWidget(window.performance_tab)
    await asyncio.sleep(4.0)            # a few statistics ticks on the graphs and bars
    window.grab().save(str(out / f"screenshot-{scheme}{suffix}.png"))

    window.tabs.setCurrentWidget(window.general_tab)
    window.command_palette.open_palette()
    QTest.keyClicks(window.command_palette.edit, "legacy-epr")
    await asyncio.sleep(0.5)
    window.grab().save(str(out / f"screenshot-palette-{scheme}{suffix}.png"))
    window.command_palette.dismiss()
    window.close()
    await session.shutdown()


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/hvconsole-appearance")
    scheme = sys.argv[2] if len(sys.argv) > 2 else "light"
    scale = float(os.environ.get("QT_SCALE_FACTOR", "1") or 1)
    suffix = "" if scale == 1 else f"-{scale:g}x"
    out.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT))
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)
    from widgets.appearance import apply_scheme
    from widgets.event_loop import AsyncQtLoop
    apply_scheme(app, scheme)
    loop = AsyncQtLoop(app)
    asyncio.set_event_loop(loop)
    loop.run_until_complete(shoot(out, scheme, suffix))
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
