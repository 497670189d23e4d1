"""The XAPI tasks a pool connection follows for its commands: each one's progress and
end, read from the task records the event stream (or a re-read of the pool) brings.

Why a record decides and not the call: XAPI's Async.* calls return at once with a task;
its progress, result or error_info arrive as task events, possibly before anyone asked,
and after EVENTS_LOST or a lost master only a fresh snapshot can say how a task ended.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connectors.libvirt.model import ActionError
from connectors.xapi import wire

Progress = Callable[[float], None]


@dataclass
class TaskWatch:
    future: asyncio.Future[Any]
    progress: Progress | None = None
    last: float = -1.0


class TaskWatches:
    """Task ref → its watch; the future ends with the task's result or an ActionError."""

    def __init__(self) -> None:
        self._watches: dict[str, TaskWatch] = {}

    def watch(self, ref: str, progress: Progress | None) -> TaskWatch:
        watch = TaskWatch(asyncio.get_running_loop().create_future(), progress)
        self._watches[ref] = watch
        return watch

    def forget(self, ref: str) -> None:
        self._watches.pop(ref, None)

    def record(self, ref: str, record: Any) -> None:
        """A task record (task.get_record, an event's snapshot) for ``ref``: progress
        reported when it moved, the future ended when the task did."""
        watch = self._watches.get(ref)
        if watch is None or watch.future.done() or not hasattr(record, "get"):
            return
        try:
            fraction = float(record.get("progress", 0.0))
        except (TypeError, ValueError):
            fraction = 0.0
        if watch.progress is not None and fraction != watch.last:
            watch.last = fraction
            watch.progress(fraction)
        status = str(record.get("status", "pending"))
        if status == "success":
            watch.future.set_result(record.get("result", ""))
        elif status in ("failure", "cancelled"):
            info = record.get("error_info") or []
            if status == "cancelled" and not info:
                info = ["TASK_CANCELLED"]
            failure = wire.XapiFailure(str(info[0]), [str(p) for p in info[1:]])
            watch.future.set_exception(ActionError(str(failure)))

    def reread(self, lookup: Callable[[str], Any], why: str) -> None:
        """After a full re-read: each followed task's record from ``lookup`` (None: the
        pool no longer knows it, so how it ended is not known)."""
        for ref in list(self._watches):
            record = lookup(ref)
            if record is not None:
                self.record(ref, record)
            else:
                self._fail(self._watches[ref], why)

    def fail_all(self, why: str) -> None:
        for watch in self._watches.values():
            self._fail(watch, why)

    @staticmethod
    def _fail(watch: TaskWatch, why: str) -> None:
        if not watch.future.done():
            watch.future.set_exception(ActionError(f"Not known how it ended: {why}"))
