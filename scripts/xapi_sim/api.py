"""The XenAPI call table: who may call (sessions, the pool master), the generic
accessors every class has (get_all, get_all_records, get_record, get_by_uuid,
get_by_name_label, get_<field>, set_<field>, add_to/remove_from maps, add/remove tags),
and the dispatch of Async.* calls to tasks. Lifecycle, host, pool, event, task and
message calls live in their own modules and register here."""
from __future__ import annotations

import inspect
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from . import schema, statedb
from .errors import Failure
from .store import Store, public

Handler = Callable[..., Any]

# Fields a client may write with set_<field> (the reference's "read/write" fields).
WRITABLE = {"name_label", "name_description", "other_config", "tags", "affinity",
            "memory_static_max", "memory_dynamic_max", "memory_dynamic_min",
            "memory_static_min", "VCPUs_max", "VCPUs_at_startup", "platform",
            "ha_always_run", "xenstore_data", "blocked_operations", "default_SR",
            "suspend_image_SR", "crash_dump_SR", "gui_config", "sharable", "read_only",
            "HVM_boot_policy", "HVM_boot_params", "PV_args", "actions_after_shutdown",
            "actions_after_reboot", "actions_after_crash", "VCPUs_params", "MTU",
            "is_a_template"}


@dataclass
class Options:
    users: dict[str, str] = field(default_factory=lambda: {"root": "xenroot"})
    session_timeout: float = 0.0  # seconds of inactivity; 0 = never
    op_seconds: float = 0.6  # how long a simulated lifecycle operation takes


@dataclass
class Context:
    """Who is calling: the host whose address the request reached."""

    host: str  # host ref of the listener


def now_datetime() -> schema.DateTime:
    return schema.DateTime(time.strftime("%Y%m%dT%H:%M:%SZ", time.gmtime()))


class Api:
    def __init__(self, store: Store, options: Options) -> None:
        self.store = store
        self.options = options
        self.methods: dict[str, tuple[Handler, bool]] = {}
        self.async_runner: Callable[[str, Handler, list[Any], Context, str], str] | None = None
        self.master_address: Callable[[], str] = lambda: ""
        self.register("session.login_with_password", self.login, session=False)
        self.register("session.logout", self.logout)
        self.register("session.get_all_subject_identifiers", lambda ctx, s: [])

    def register(self, name: str, handler: Handler, session: bool = True) -> None:
        """``handler(ctx, *params)``; with ``session`` the first param is checked first."""
        self.methods[name] = (handler, session)

    # --- dispatch -------------------------------------------------------------------------
    def call(self, method: str, params: list[Any], ctx: Context) -> Any:
        is_async = method.startswith("Async.")
        name = method[len("Async."):] if is_async else method
        handler, needs_session = self._lookup(name)
        if name != "session.login_with_password" and not self.is_master(ctx.host):
            raise Failure("HOST_IS_SLAVE", self.master_address())
        if needs_session:
            if not params:
                raise Failure("SESSION_INVALID", "")
            self.check_session(params[0])
        self._check_count(method, handler, params)
        if is_async:
            if self.async_runner is None:
                raise Failure("MESSAGE_METHOD_UNKNOWN", method)
            return self.async_runner(name, handler, params, ctx, str(params[0]))
        return handler(ctx, *params)

    def _lookup(self, name: str) -> tuple[Handler, bool]:
        found = self.methods.get(name)
        if found is not None:
            return found
        generic = self._generic(name)
        if generic is None:
            raise Failure("MESSAGE_METHOD_UNKNOWN", name)
        return generic, True

    @staticmethod
    def _check_count(method: str, handler: Handler, params: list[Any]) -> None:
        signature = inspect.signature(handler)
        positional = [p for p in signature.parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][1:]
        if any(p.kind == p.VAR_POSITIONAL for p in signature.parameters.values()):
            return
        required = sum(1 for p in positional if p.default is p.empty)
        if not required <= len(params) <= len(positional):
            raise Failure("MESSAGE_PARAMETER_COUNT_MISMATCH", method, required, len(params))

    def is_master(self, host: str) -> bool:
        pools = list(self.store.table("pool").values())
        return not pools or pools[0].get("master") == host

    # --- sessions -------------------------------------------------------------------------
    def login(self, ctx: Context, uname: str, pwd: str, version: str = "1.1",
              originator: str = "") -> str:
        if not self.is_master(ctx.host):
            raise Failure("HOST_IS_SLAVE", self.master_address())
        if self.options.users.get(str(uname)) != pwd:
            raise Failure("SESSION_AUTHENTICATION_FAILED", uname,
                          "Authentication failure")
        record = schema.new_record("session", this_host=ctx.host, last_active=now_datetime(),
                                   auth_user_name=str(uname), originator=str(originator))
        record["_last_active"] = time.monotonic()
        return self.store.add("session", record)

    def check_session(self, ref: Any) -> None:
        with self.store.lock:
            row = self.store.table("session").get(str(ref))
            if row is None:
                raise Failure("SESSION_INVALID", ref)
            timeout = self.options.session_timeout
            last = float(row.get("_last_active", 0.0))  # type: ignore[arg-type]
            if timeout and time.monotonic() - last > timeout:
                self.store.remove("session", str(ref))
                raise Failure("SESSION_INVALID", ref)
            row["_last_active"] = time.monotonic()

    def logout(self, ctx: Context, session: str) -> str:
        self.store.remove("session", session)
        return ""

    def drop_sessions(self) -> None:
        """What a restarting xapi does to every session (a master change)."""
        with self.store.lock:
            for ref in list(self.store.table("session")):
                self.store.remove("session", ref)

    # --- generic accessors ----------------------------------------------------------------
    def _generic(self, name: str) -> Handler | None:
        cls_name, _, verb = name.partition(".")
        cls = schema.canonical_class(cls_name)
        if cls is None or cls_name != cls or not verb:
            return None
        store = self.store
        types = schema.TYPES[cls]
        if verb == "get_all":
            return lambda ctx, s: list(store.table(cls))
        if verb == "get_all_records":
            return lambda ctx, s: self.all_records(cls)
        if verb == "get_record":
            return lambda ctx, s, ref: public(store.get(cls, str(ref)))
        if verb == "get_by_uuid":
            return lambda ctx, s, uuid: self.by_uuid(cls, str(uuid))
        if verb == "get_by_name_label" and "name_label" in types:
            return lambda ctx, s, label: store.find(cls, name_label=label)
        if verb.startswith("get_") and verb[4:] in types:
            fieldname = verb[4:]
            return lambda ctx, s, ref: store.get(cls, str(ref)).get(fieldname)
        if verb.startswith("set_") and verb[4:] in WRITABLE and verb[4:] in types:
            fieldname = verb[4:]
            return lambda ctx, s, ref, value: self._set(cls, ref, fieldname, value)
        if verb in ("add_to_other_config", "add_to_platform", "add_to_xenstore_data",
                    "add_to_gui_config", "add_to_blocked_operations", "add_to_VCPUs_params"):
            fieldname = verb[len("add_to_"):]
            return lambda ctx, s, ref, key, value: self._map_put(cls, ref, fieldname, key, value)
        if verb.startswith("remove_from_") and types.get(verb[len("remove_from_"):]) == "map":
            fieldname = verb[len("remove_from_"):]
            return lambda ctx, s, ref, key: self._map_put(cls, ref, fieldname, key, None)
        if verb in ("add_tags", "remove_tags") and "tags" in types:
            adding = verb == "add_tags"
            return lambda ctx, s, ref, tag: self._tag(cls, ref, tag, adding)
        return None

    def all_records(self, cls: str) -> dict[str, dict[str, object]]:
        with self.store.lock:
            return {ref: public(row) for ref, row in self.store.table(cls).items()}

    def by_uuid(self, cls: str, uuid: str) -> str:
        found = self.store.by_uuid.get(uuid)
        if found is None or found[0] != cls:
            raise Failure("UUID_INVALID", cls, uuid)
        return found[1]

    def _set(self, cls: str, ref: Any, fieldname: str, value: Any) -> str:
        kind = schema.TYPES[cls][fieldname]
        try:
            if isinstance(value, str) and kind not in ("string", "ref", "enum", "datetime"):
                value = statedb.parse_value(kind, value)
            elif kind == "int":
                value = int(value)
            elif kind == "map" and not isinstance(value, dict):
                raise TypeError("not a map")
            elif kind == "set" and not isinstance(value, list):
                raise TypeError("not a set")
        except (TypeError, ValueError) as err:
            raise Failure("FIELD_TYPE_ERROR", fieldname) from err
        self.store.update(cls, str(ref), **{fieldname: value})
        return ""

    def _map_put(self, cls: str, ref: Any, fieldname: str, key: Any, value: Any) -> str:
        def change(row: dict[str, object]) -> None:
            mapping = row.setdefault(fieldname, {})
            assert isinstance(mapping, dict)
            if value is None:
                mapping.pop(str(key), None)
            elif str(key) in mapping:
                raise Failure("MAP_DUPLICATE_KEY", cls, fieldname, ref, key)
            else:
                mapping[str(key)] = str(value)
        self.store.mutate(cls, str(ref), change)
        return ""

    def _tag(self, cls: str, ref: Any, tag: Any, adding: bool) -> str:
        def change(row: dict[str, object]) -> None:
            tags = row.setdefault("tags", [])
            assert isinstance(tags, list)
            if adding and tag not in tags:
                tags.append(str(tag))
            elif not adding and tag in tags:
                tags.remove(tag)
        self.store.mutate(cls, str(ref), change)
        return ""


class Stopwatch:
    """A lifecycle operation's progress in steps, aborting when its task is cancelled."""

    def __init__(self, seconds: float, report: Callable[[float], None],
                 cancelled: Callable[[], bool], task: str = "") -> None:
        self.task = task  # the Async call's task ref (current_operations are keyed by it)
        self.seconds = seconds
        self.report = report
        self.cancelled = cancelled

    def run(self, start: float = 0.0, end: float = 1.0, steps: int = 5) -> None:
        for i in range(1, steps + 1):
            if self.cancelled():
                raise Failure("TASK_CANCELLED", "")
            time.sleep(self.seconds / steps * (end - start))
            self.report(start + (end - start) * i / steps)



_current = threading.local()


def stopwatch(seconds: float) -> Stopwatch:
    """The running call's progress reporter: its task's when called through Async.*."""
    watch = getattr(_current, "watch", None)
    return watch if watch is not None else Stopwatch(seconds, lambda p: None, lambda: False)


def bind_stopwatch(watch: Stopwatch | None) -> None:
    _current.watch = watch
