"""Shared test set-up: Qt offscreen, a private XDG home, and one qasync loop for the session.

Tests that drive async code call ``aloop.run_until_complete(coro)``: the qasync loop runs
the Qt event loop underneath, so widgets repaint and libvirt events arrive meanwhile.
"""
from __future__ import annotations

import asyncio
import atexit
import contextlib
import gc
import os
import shutil
import sys
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_XDG = tempfile.mkdtemp(prefix="hvconsole-test-xdg-")
atexit.register(shutil.rmtree, _XDG, ignore_errors=True)
for _var, _sub in (("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"),
                   ("XDG_CACHE_HOME", "cache"), ("XDG_STATE_HOME", "state")):
    os.environ[_var] = os.path.join(_XDG, _sub)

import pytest  # noqa: E402

if sys.version_info[:2] == (3, 11) and sys.version_info < (3, 11, 8):
    # CPython gh-106905 (fixed in 3.11.8): a traceback formatted while ast.parse runs (a
    # finalizer logging "Task exception was never retrieved" during a collection inside
    # pytest's own parsing) parses its caret markers with a nested ast.parse, which
    # corrupts the AST recursion counter; from then on every ast.parse in the process
    # fails with "AST constructor recursion depth mismatch" and pytest cannot even report
    # a failure. Tracebacks without ^^^ markers avoid the nested parse.
    import traceback

    if hasattr(traceback, "_extract_caret_anchors_from_line_segment"):
        traceback._extract_caret_anchors_from_line_segment = lambda segment: None

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

try:
    # Imported now, not by hypothesis' plugin at the end of the session: CPython 3.11.7's
    # ast.parse (pytest rewriting the module) can then fail with "AST constructor
    # recursion depth mismatch" (CPython gh-106905, fixed in 3.11.8) after Qt and numpy
    # ran, turning a passing run into an error.
    import hypothesis  # noqa: E402, F401
except ImportError:
    pass
else:
    # The parser fuzz tests (test_rfb_fuzz, test_spice_fuzz, test_spice_display_fuzz,
    # test_rfb_vencrypt, the key-line test of test_remote_hostkeys) take their budget from
    # the profile. "ci": short and derandomized, so a red run is the same run again and
    # no database is needed; exploring is the campaign's job (benchmarks/fuzz_campaign.py),
    # and what it finds comes back as @example. "dev": random, with hypothesis' example
    # database, so a failure seen locally is replayed first. "campaign": a long run of
    # the same tests (HYPOTHESIS_PROFILE=campaign pytest tests/unit/test_*fuzz*.py).
    from hypothesis import HealthCheck as _Health  # noqa: E402
    from hypothesis import settings as _settings  # noqa: E402

    _settings.register_profile("ci", max_examples=150, derandomize=True, database=None,
                               deadline=None, print_blob=True)
    _settings.register_profile("dev", max_examples=150, deadline=None)
    _settings.register_profile("campaign", max_examples=50_000, deadline=1000,
                               suppress_health_check=list(_Health))
    _settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if IN_CI
                                                                     else "dev"))


def unavailable(reason: str):
    """Skips locally; fails under CI=true, where every test must really run: a tool or
    service missing on the CI machine must not look green."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this test must run here)", pytrace=False)
    pytest.skip(reason)


_session_loop: asyncio.AbstractEventLoop | None = None


@pytest.fixture(scope="session")
def aloop(qapp):
    """The qasync event loop on the test QApplication, installed as asyncio's loop."""
    from widgets.event_loop import AsyncQtLoop
    global _session_loop

    from app.gc_policy import collect_on_qt_thread
    collect_on_qt_thread(qapp)      # as the app does: Qt objects die on the Qt thread
    loop = AsyncQtLoop(qapp)
    asyncio.set_event_loop(loop)
    _session_loop = loop
    yield loop
    _session_loop = None
    # qasync's close() also closes its default executor; pending tasks are abandoned.
    try:
        loop.close()
    except Exception:
        pass


@pytest.fixture(autouse=True)
def _each_window_starts_unplaced(request):
    """The main window remembers its layout (widgets/window_geometry.py) in the test
    session's settings; one test's columns or last tab must not be the next one's start.
    Only tests with Qt: the connectors' tests run without it."""
    if {"qapp", "qtbot", "aloop"} & set(request.fixturenames):
        from PySide6.QtCore import QSettings
        QSettings("hvconsole", "hvconsole").remove("window")
    yield


@contextlib.contextmanager
def _loop_marked_running():
    """The session's loop counts as running, as it always does in the app, unless it
    runs already or is gone."""
    loop = _session_loop
    if loop is None or loop.is_closed() or loop.is_running() or \
            asyncio._get_running_loop() is not None:
        yield
        return
    asyncio._set_running_loop(loop)
    try:
        yield
    finally:
        asyncio._set_running_loop(None)


def _process_events_in_the_loop() -> None:
    """pytest-qt processes Qt's events around each test (its setup and teardown hooks, in
    ``_process_events``), outside the asyncio loop. qasync runs the loop's due callbacks
    from those events, libvirt's events among them, and a task they start died at once
    with "no running event loop" (a host then missed the VM a migration had just brought
    it). So those events are processed with the session's loop counting as running,
    as widgets/event_loop.AsyncQtLoop.run_until_complete does for its own."""
    import pytestqt.plugin as qt_plugin

    process = getattr(qt_plugin, "_process_events", None)
    if process is None:
        return          # another pytest-qt: its hooks are what they are

    def in_the_loop() -> None:
        with _loop_marked_running():
            process()
    qt_plugin._process_events = in_the_loop


_process_events_in_the_loop()


@pytest.fixture(autouse=True)
def _session_loop_stays_current():
    """Tests of plain asyncio code use asyncio.run(), which leaves no current loop behind;
    the Qt-side code that runs after them (QTimer slots calling ensure_future) needs the
    session's qasync loop as the current one again."""
    if _session_loop is not None and not _session_loop.is_closed():
        asyncio.set_event_loop(_session_loop)
    yield
    if _session_loop is not None and not _session_loop.is_closed():
        asyncio.set_event_loop(_session_loop)
    if not gc.isenabled():
        # The collector runs on the Qt thread only (app/gc_policy.py); a test that ran no
        # event loop still gets the pass that is due, here, on the main thread.
        from app.gc_policy import collect_due
        collect_due()


async def wait_until(predicate, timeout: float = 5.0, interval: float = 0.02):
    """Await until predicate() is true, failing the test with a clear message on timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {predicate}")
        await asyncio.sleep(interval)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "shared_libvirtd: uses the shared libvirtd, its guests or the host's "
        "network (added here at collection; scripts/test.sh runs these one at a time)")


# Per item as it is collected, so that ``-m`` sees it. (An xdist_group mark added in
# pytest_collection_modifyitems was never read by pytest-xdist's worker, and the tests
# on the shared libvirtd ran beside each other.)
def pytest_itemcollected(item):
    """scripts/test.sh runs the fast tests on every core, except these: they use the
    shared libvirtd, its guests or the host's network, and several compare what the app
    shows with the whole of libvirtd's inventory, which another test's guests would
    change under them. The rest (unit and widget tests on their own drivers, sockets
    and folders) spread over the cores, and so do the integration tests marked
    ``own_guests`` (they use only their own guests, files and processes)."""
    if item.get_closest_marker("own_guests"):
        return              # the slow ones run two at a time in a step of their own
    if item.get_closest_marker("integration") or "/integration/" in item.nodeid:
        item.add_marker(pytest.mark.shared_libvirtd)
