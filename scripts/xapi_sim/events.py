"""event.from and the message class.

event.from(classes, token, timeout): ``token`` "" means "everything there is" (each
object as an "add"); otherwise the events since the token, each changed object once with
its current snapshot, "del" for the deleted. With nothing to report it waits up to
``timeout`` seconds (a float) and answers an empty list with a fresh token. The answer is
``{"events": [...], "valid_ref_counts": {class: count}, "token": "..."}``. Classes are
matched case-insensitively; "*" is every class; "vm/OpaqueRef:..." one object.

A token older than what the store still remembers (``Store.forget_history``, the
simulator's SIGUSR1, or 10,000 deletions) answers EVENTS_LOST, waiting callers included.

Messages are XAPI's alerts: message.create (how a test or an operator injects one),
get_all_records, get_since(datetime), destroy; each is also an event of class "message"."""
from __future__ import annotations

import time
from typing import Any

from . import schema
from .api import Api, Context, now_datetime
from .errors import Failure
from .store import public


def parse_token(token: Any) -> int:
    text = str(token)
    if text == "":
        return 0
    head = text.split(",", 1)[0]
    if not head.isdigit():
        raise Failure("EVENT_FROM_TOKEN_PARSE_FAILURE", text)
    return int(head)


def make_token(generation: int) -> str:
    return f"{generation:020d}"


def _normalise_date(value: Any) -> str:
    """A datetime parameter in the API's form (JSON-RPC clients may send ISO 8601)."""
    text = str(value).replace("-", "")
    if "." in text:
        text = text.split(".", 1)[0] + "Z"
    if len(text) == 17 and text.endswith("Z") is False:
        text += "Z"
    return text.replace("+00:00", "Z")


class Events:
    MAX_TIMEOUT = 600.0

    def __init__(self, api: Api) -> None:
        self.api = api
        self.store = api.store
        api.register("event.from", self.event_from)
        api.register("event.get_current_id", lambda ctx, s: str(self.store.generation))
        api.register("message.create", self.create_message)
        api.register("message.get_since", self.messages_since)
        api.register("message.destroy", self.destroy_message)
        api.register("message.get_all", lambda ctx, s: list(self.store.table("message")))

    def event_from(self, ctx: Context, session: str, classes: Any, token: Any,
                   timeout: Any) -> dict[str, Any]:
        if not isinstance(classes, list):
            raise Failure("FIELD_TYPE_ERROR", "classes")
        try:
            wait = min(max(float(timeout), 0.0), self.MAX_TIMEOUT)
        except (TypeError, ValueError) as err:
            raise Failure("FIELD_TYPE_ERROR", "timeout") from err
        since = parse_token(token)
        names, whole, refs = set(), set(), set()
        for item in classes:
            cls, _, ref = str(item).partition("/")
            cls = cls.lower()
            if cls != "*" and schema.canonical_class(cls) is None:
                continue
            names.add(cls)
            if ref:
                refs.add(ref)
            else:
                whole.add(cls)
        deadline = time.monotonic() + wait
        with self.store.changed:
            while True:
                self.api.check_session(session)
                if self.store.events_lost(since):
                    raise Failure("EVENTS_LOST")
                events = self.store.changes_since(since, names)
                if refs and "*" not in whole:
                    events = [e for e in events if e["class"] in whole or e["ref"] in refs]
                generation = self.store.generation
                left = deadline - time.monotonic()
                if events or left <= 0:
                    break
                self.store.changed.wait(min(left, 5.0))
            counts = self.store.counts(names)
        return {"events": events, "valid_ref_counts": counts, "token": make_token(generation)}

    def create_message(self, ctx: Context, session: str, name: str, priority: Any, cls: str,
                       obj_uuid: str, body: str) -> str:
        try:
            level = int(priority)
        except (TypeError, ValueError) as err:
            raise Failure("FIELD_TYPE_ERROR", "priority") from err
        if cls not in ("VM", "Host", "SR", "Pool", "VMPP", "VMSS", "PVS_proxy", "VDI",
                       "Certificate"):
            raise Failure("FIELD_TYPE_ERROR", "cls")
        record = schema.new_record("message", name=str(name), priority=level, cls=cls,
                                   obj_uuid=str(obj_uuid), timestamp=now_datetime(),
                                   body=str(body))
        return self.store.add("message", record)

    def messages_since(self, ctx: Context, session: str, since: Any) -> dict[str, Any]:
        after = _normalise_date(since)
        with self.store.lock:
            return {ref: public(row) for ref, row in self.store.table("message").items()
                    if str(row.get("timestamp", "")) > after}

    def destroy_message(self, ctx: Context, session: str, ref: str) -> str:
        self.store.remove("message", str(ref))
        return ""
