"""The launcher's real main window for a benchmark, offscreen, with private settings.

benchmarks/soak.py and benchmarks/bad_networks.py measure the whole application as a
user runs it: the window Session.build composes (tree, tabs, statistics sampler, history
in a temporary data folder), on the qasync loop the launcher uses. ``run_window`` owns
that setup and teardown; ``show_console`` does what a user's double-click on a VM does.
"""
from __future__ import annotations

import argparse
import asyncio
import atexit
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def private_dirs(prefix: str) -> Path:
    """A temporary folder holding the app's config, data and cache folders (XDG),
    removed when the benchmark's process ends."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        os.environ[var] = str(tmp / var.lower())
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    return tmp


def run_window(body: Callable[[Any], Awaitable[dict]]) -> dict:
    """Builds and shows the main window, awaits ``body(session)``, shuts the session
    down; the body's result. Call private_dirs() first."""
    from PySide6.QtWidgets import QApplication

    from widgets.event_loop import AsyncQtLoop
    from widgets.launcher import Session

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)
    loop = AsyncQtLoop(app)
    asyncio.set_event_loop(loop)
    session = Session(argparse.Namespace(connect=[], show_domain=None, screenshot=None,
                                         debug=False))

    async def run() -> dict:
        window = session.build()
        window.show()
        try:
            return await body(session)
        finally:
            await session.shutdown()

    with loop:
        return loop.run_until_complete(run())


async def show_console(window, conn_id: str, name: str, timeout: float = 120.0):
    """Selects VM ``name`` of ``conn_id`` in the tree and shows its Console tab; the
    console session that tab opened."""
    deadline = time.monotonic() + timeout
    node = None
    while node is None or node.conn_id != conn_id:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} did not appear in the tree")
        await asyncio.sleep(0.2)
        node = window.tree.find_vm_by_name(name)
    window.tree.select_node(node.conn_id, node.key)
    window.tabs.setCurrentWidget(window.console_tab)
    while window.console_tab.session is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no console session for {name}")
        await asyncio.sleep(0.1)
    return window.console_tab.session
