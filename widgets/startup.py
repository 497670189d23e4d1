"""The first moments of ``hvconsole``: the main window on the screen before the rest loads.

Why: loading the whole program (libvirt, numpy, pyqtgraph, keyring, the console
protocols, every tab) and building the window took over a second before anything
appeared (benchmarks/startup.py; docs/performance.md, "Start-up"). Here only Qt and the
window's frame are loaded (``MainWindow()``: title, saved size and place, the menus'
titles), shown and painted; a local Qt event loop waits for that paint, at most
PAINT_WAIT_MS (a window on a hidden workspace may never be painted). Only then does
widgets.launcher load the rest, fill the same window and open the connections.

Nothing here may import more than Qt at module level: what this module loads is what
the user waits for before seeing the window.
"""
from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QEventLoop, QObject, QSettings, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from app import settings_file
from widgets.milestones import report_milestone

if TYPE_CHECKING:
    from widgets.event_loop import AsyncQtLoop

PAINT_WAIT_MS = 1000


def run(args: argparse.Namespace) -> int:
    """Runs the application until its window closes; the process's exit status."""
    app = _application(args)
    from widgets.main_window import MainWindow
    frame = MainWindow()
    closed: list[bool] = []
    frame.closing.connect(lambda: closed.append(True))
    painted = show_and_wait_for_paint(frame)
    report_milestone("first-paint" if painted else "no-paint")
    if closed:          # closed before it was filled: nothing was opened, nothing to close
        return 0
    loop = _open_local_hosts_early(app, args)
    from widgets.launcher import run_session
    return run_session(app, args, frame, loop)


def _open_local_hosts_early(app: QApplication, args: argparse.Namespace
                            ) -> AsyncQtLoop:
    """The asyncio loop on Qt's, with the local servers of this start already opening
    (app.startup_hosts): their open runs in C while the rest of the program loads."""
    import asyncio

    from app.startup_hosts import open_early
    from widgets.event_loop import AsyncQtLoop  # noqa: F811 - at run time
    loop = AsyncQtLoop(app)
    asyncio.set_event_loop(loop)
    open_early(args.connect, loop)
    return loop


def _application(args: argparse.Namespace) -> QApplication:
    """The QApplication with HVConsole's names, icon and colours (before any window:
    a dark desktop must not see a light frame first)."""
    from app.version import APP_ID
    from widgets.appearance import DesktopScheme
    from widgets.icons import app_icon

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName("HVConsole")
    app.setApplicationDisplayName("HVConsole")
    app.setOrganizationName("hvconsole")
    app.setDesktopFileName(APP_ID)
    # The session ends the loop itself after disconnecting; Qt quitting on the last
    # closed window would stop the loop under the shutdown coroutine.
    app.setQuitOnLastWindowClosed(False)
    app.setWindowIcon(app_icon())
    # Before the first save: a lock left half-made by a killed session would stall it 30 s.
    settings_file.clear_torn_lock(QSettings("hvconsole", "hvconsole").fileName())
    DesktopScheme(app, args.color_scheme)     # parented to the app: lives as long
    return app


class _PaintWaiter(QObject):
    """Ends ``loop`` once ``window`` has been painted (in a zero timer queued from its
    first Paint event, so after the paint pass and its flush to the screen)."""

    def __init__(self, window: QWidget, loop: QEventLoop) -> None:
        super().__init__(window)
        self._window = window
        self._loop = loop
        self.painted = False
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's)
        if watched is self._window and event.type() == QEvent.Type.Paint:
            self._window.removeEventFilter(self)
            self.painted = True
            QTimer.singleShot(0, self._loop.quit)
        return False


def show_and_wait_for_paint(window: QWidget, timeout_ms: int = PAINT_WAIT_MS) -> bool:
    """Shows ``window`` and returns once it has been painted (True) or after
    ``timeout_ms`` without a paint (False)."""
    loop = QEventLoop()
    waiter = _PaintWaiter(window, loop)
    timer = QTimer(singleShot=True, interval=timeout_ms)
    timer.timeout.connect(loop.quit)
    window.show()
    timer.start()
    if not waiter.painted:      # (a platform may paint within show())
        loop.exec()
    timer.stop()
    window.removeEventFilter(waiter)
    waiter.deleteLater()
    return waiter.painted
