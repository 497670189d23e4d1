"""The asyncio loop on Qt's event loop (qasync), with one correction.

qasync's ``run_until_complete`` delivers the Qt events still queued when the awaited
future finishes *after* it has stopped being asyncio's running loop. A task woken by one
of those events (a worker thread's result, a timer) then fails at its next ``await`` with
"no running event loop" and ends for good: a host's statistics sampler woken that way
stopped sampling while the window kept showing it. Here those last events are delivered
with the loop still current, so every task woken by them carries on the next time the
loop runs.
"""
from __future__ import annotations

import asyncio
import logging

import qasync
from PySide6.QtCore import QCoreApplication, QEventLoop as QtEventLoop

# qasync's DEBUG lines print every executor call with its arguments and its result: the
# password handed to the encrypted file's unlock() and every password read back from a
# vault were in `hvconsole --debug`'s output (tests/integration/test_secrets.py). Its
# INFO and above stay.
logging.getLogger("qasync").setLevel(logging.INFO)


class AsyncQtLoop(qasync.QEventLoop):
    """qasync's loop whose ``run_until_complete`` never runs a task outside the loop."""

    def run_until_complete(self, future):
        if self.is_running():
            raise RuntimeError("the event loop is already running")
        future = asyncio.ensure_future(future, loop=self)

        def stop(_future) -> None:
            self.stop()

        future.add_done_callback(stop)
        try:
            self.run_forever()
        finally:
            future.remove_done_callback(stop)
        previous = asyncio._get_running_loop()
        asyncio._set_running_loop(self)
        try:
            QCoreApplication.processEvents(QtEventLoop.ProcessEventsFlag.AllEvents)
        finally:
            asyncio._set_running_loop(previous)
        if not future.done():
            raise RuntimeError("the event loop stopped before the awaited future finished")
        return future.result()
