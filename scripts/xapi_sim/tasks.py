"""Async.* calls as XenAPI tasks: the call returns a task ref at once and runs in its own
thread; the task record shows status (pending, success, failure, cancelling,
cancelled), progress 0..1, result (the XML-RPC <value> text of what the call returned,
as xapi stores it) and error_info. task.cancel asks the running operation to stop at its
next step; it then fails with TASK_CANCELLED."""
from __future__ import annotations

import threading
import xmlrpc.client
from typing import Any

from . import schema
from .api import Api, Context, Handler, Stopwatch, bind_stopwatch, now_datetime
from .errors import Failure


def result_text(value: Any) -> str:
    """A call's result as xapi keeps it in task.result: "<value>...</value>" or ""."""
    if value is None or value == "":
        return ""
    body = xmlrpc.client.dumps((value,), methodresponse=True)
    start = body.index("<value>")
    return body[start:body.rindex("</value>") + len("</value>")]


class Tasks:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.store = api.store
        self._cancel: dict[str, threading.Event] = {}
        api.async_runner = self.run_async
        api.register("task.cancel", self.cancel)
        api.register("task.destroy", self.destroy)
        api.register("task.create", self.create)

    def create(self, ctx: Context, session: str, label: str = "", description: str = "") -> str:
        record = schema.new_record("task", name_label=label, name_description=description,
                                   created=now_datetime(), resident_on=ctx.host,
                                   allowed_operations=["cancel"])
        return self.store.add("task", record)

    def run_async(self, name: str, handler: Handler, params: list[Any], ctx: Context,
                  session: str) -> str:
        task = self.create(ctx, session, f"Async.{name}")
        cancel = threading.Event()
        self._cancel[task] = cancel

        def report(progress: float) -> None:
            self.store.update("task", task, progress=round(min(progress, 1.0), 3))

        def body() -> None:
            bind_stopwatch(Stopwatch(self.api.options.op_seconds, report, cancel.is_set, task))
            try:
                value = handler(ctx, *params)
            except Failure as failure:
                code = failure.code
                info = (["TASK_CANCELLED", task] if code == "TASK_CANCELLED"
                        else failure.description)
                status = "cancelled" if code == "TASK_CANCELLED" else "failure"
                self._finish(task, status=status, error_info=info)
            except Exception as err:  # noqa: BLE001 - a bug must fail the task, not the thread
                self._finish(task, status="failure",
                             error_info=["INTERNAL_ERROR", f"{type(err).__name__}: {err}"])
            else:
                self._finish(task, status="success", progress=1.0, result=result_text(value))
            finally:
                bind_stopwatch(None)
                self._cancel.pop(task, None)

        threading.Thread(target=body, name=f"xapi-sim {name}", daemon=True).start()
        return task

    def _finish(self, task: str, **fields: object) -> None:
        if task in self.store.table("task"):
            self.store.update("task", task, finished=now_datetime(), allowed_operations=[],
                              **fields)

    def cancel(self, ctx: Context, session: str, task: str) -> str:
        record = self.store.get("task", str(task))
        if "cancel" not in record.get("allowed_operations", []):  # type: ignore[operator]
            raise Failure("OPERATION_NOT_ALLOWED", "task cannot be cancelled now")
        event = self._cancel.get(str(task))
        if event is None:
            raise Failure("OPERATION_NOT_ALLOWED", "task is not running")
        self.store.update("task", str(task), status="cancelling", allowed_operations=[])
        event.set()
        return ""

    def destroy(self, ctx: Context, session: str, task: str) -> str:
        self.store.remove("task", str(task))
        return ""
