"""Start-up in two steps: the window's frame painted first, with nothing but Qt loaded,
then the same window filled (widgets/startup.py, MainWindow.attach)."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from app.inventory import NODE_ROLE, NodeKind
from connectors.libvirt.model import ConnState
from tests.conftest import wait_until
from widgets.launcher import Session
from widgets.main_window import MENU_TITLES, MainWindow
from widgets.startup import show_and_wait_for_paint

ROOT = Path(__file__).resolve().parents[2]

# What the frame must not wait for: each of these costs tens to hundreds of ms to load.
HEAVY = ("libvirt", "numpy", "pyqtgraph", "keyring", "qasync", "asyncio", "connectors",
         "app.inventory", "app.commands", "app.connection_manager", "widgets.launcher",
         "widgets.tree", "widgets.console")

FRAME_ONLY = """
import argparse, sys
from widgets.startup import _application, show_and_wait_for_paint
from widgets.main_window import MainWindow
app = _application(argparse.Namespace(color_scheme="auto"))
frame = MainWindow()
painted = show_and_wait_for_paint(frame)
grabbed = frame.grab().toImage()
print("painted" if painted else "not painted")
print(grabbed.width(), grabbed.height())
print(" ".join(sorted(sys.modules)))
"""


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        env[var] = str(tmp_path / var.lower())
    return env


def _args(**overrides) -> argparse.Namespace:
    values: dict[str, object] = dict(connect=[], show_domain=None, screenshot=None, debug=False,
                  show_domain_creator=False, show_domain_editor=None)
    values.update(overrides)
    return argparse.Namespace(**values)


def test_the_frame_is_painted_before_anything_but_qt_is_loaded(tmp_path):
    done = subprocess.run([sys.executable, "-c", FRAME_ONLY], cwd=ROOT, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    painted, size, modules = done.stdout.strip().splitlines()[-3:]
    assert painted == "painted"
    assert size == "1280 800"
    loaded = set(modules.split())
    early = sorted(m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert early == [], f"loaded before the first paint: {early}"


def test_the_frame_shows_the_title_the_menus_and_says_it_is_starting(qapp):
    frame = MainWindow()
    try:
        assert frame.windowTitle() == "HVConsole"
        titles = [action.text() for action in frame.menuBar().actions()]
        assert titles == list(MENU_TITLES)
        assert frame.statusBar().currentMessage() == "Starting…"
        assert frame.centralWidget() is None
        assert not frame.attached
    finally:
        frame.close()
        frame.deleteLater()


def test_a_frame_filled_after_its_paint_is_the_whole_window(qapp, aloop):
    frame = MainWindow()
    assert show_and_wait_for_paint(frame)
    session = Session(_args(), frame)
    window = session.build()
    try:
        assert window is frame and frame.attached
        # Each menu once, filled: the frame's titles got the commands, none was added.
        titles = [action.text() for action in frame.menuBar().actions()]
        assert titles == list(MENU_TITLES)
        assert all(menu.actions() for menu in frame.menus())
        assert "New VM" in " ".join(a.text() for a in frame.vm_menu.actions())
        assert frame.statusBar() is frame.status
        tabs = frame.tabs
        assert [tabs.tabText(i) for i in range(tabs.count())][:2] == ["General",
                                                                       "Performance"]
        conn_id = session.manager.open("test:///default", save=False)

        def vm_rows():
            model = frame.tree.model()
            host = model.index(0, 0)
            return [model.index(r, 0, host).data(NODE_ROLE) for r in range(
                model.rowCount(host))]

        async def listed():
            await wait_until(lambda: session.manager.state(conn_id)[0]
                             is ConnState.CONNECTED, timeout=15)
            await wait_until(lambda: any(n.kind is NodeKind.VM for n in vm_rows()))
        aloop.run_until_complete(listed())
        # The splitter was placed although the window was shown before it existed.
        aloop.run_until_complete(wait_until(lambda: frame.geometry_keeper.placed))
        assert frame.splitter.sizes()[0] > 0
    finally:
        aloop.run_until_complete(session.shutdown())
        frame.close()
        frame.deleteLater()


def test_hvconsole_reports_its_start_up_milestones_in_order(tmp_path):
    env = _env(tmp_path)
    env["HVCONSOLE_REPORT_STARTUP"] = "1"
    shot = tmp_path / "window.png"
    done = subprocess.run([sys.executable, "-m", "app", "--connect", "test:///default",
                           "--screenshot", str(shot)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr
    marks = {}
    for line in done.stderr.splitlines():
        if line.startswith("hvconsole-"):
            name, value = line[len("hvconsole-"):].split()
            marks[name] = float(value)
    assert list(marks) == ["first-paint", "window-filled", "connections-ended"]
    assert marks["first-paint"] <= marks["window-filled"] <= marks["connections-ended"]
    assert shot.stat().st_size > 0


def test_without_the_variable_nothing_is_reported(tmp_path):
    shot = tmp_path / "window.png"
    env = _env(tmp_path)
    env.pop("HVCONSOLE_REPORT_STARTUP", None)
    done = subprocess.run([sys.executable, "-m", "app", "--connect", "test:///default",
                           "--screenshot", str(shot)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr
    assert "hvconsole-" not in done.stderr


HIDDEN_PERFORMANCE_TAB = """
import argparse, asyncio, sys
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv[:1])
from widgets.event_loop import AsyncQtLoop
from widgets.launcher import Session
from connectors.libvirt.model import ConnState
loop = AsyncQtLoop(app)
asyncio.set_event_loop(loop)
session = Session(argparse.Namespace(connect=[], show_domain=None, screenshot=None,
                                     debug=False))

async def main():
    window = session.build()
    window.show()
    window.tabs.setCurrentWidget(window.general_tab)
    conn_id = session.manager.open("test:///default", save=False)
    while session.manager.state(conn_id)[0] is not ConnState.CONNECTED:
        await asyncio.sleep(0.05)
    while not window.tree.select_node(conn_id, session.manager.host(conn_id).vms()[0].key):
        await asyncio.sleep(0.05)
    tab = window.performance_tab
    await asyncio.sleep(0.3)
    print("hidden", tab.conn_id is not None, len(tab.charts), "pyqtgraph" in sys.modules)
    window.tabs.setCurrentWidget(tab)
    await asyncio.sleep(0.3)
    print("shown", len(tab.charts), "pyqtgraph" in sys.modules,
          [chart.title.text() for chart in tab.charts][:2])
    await session.shutdown()

with loop:
    loop.run_until_complete(main())
"""


def test_the_performance_tab_makes_its_graphs_when_first_shown(tmp_path):
    """pyqtgraph (a third of filling the window) loads when the graphs are first shown,
    and they show the object selected while the tab was hidden."""
    done = subprocess.run([sys.executable, "-c", HIDDEN_PERFORMANCE_TAB], cwd=ROOT,
                          env=_env(tmp_path), capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith(("hidden",
                                                                           "shown"))]
    assert lines[0] == "hidden True 0 False"
    shown = lines[1].split(" ", 3)
    assert int(shown[1]) >= 2 and shown[2] == "True"
    assert "CPU (%)" in shown[3]
