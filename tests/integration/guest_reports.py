"""What the test guest reports on its serial port when booted with ``report=True``.

scripts/test-guest-init.sh's report() writes a line whenever something a Properties or
Snapshots test asks about changes: ``HVCONSOLE-PARTITIONS`` (/proc/partitions),
``HVCONSOLE-CARRIER`` (each NIC's carrier), ``HVCONSOLE-CD`` (the file on the disc in the
CD/DVD drive, or "none") and ``HVCONSOLE-TICK`` (a counter, once a second). The guest
is asked nothing: it says what it sees, so no keyboard and no agent is involved.

No Qt and no pytest in here.
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from tests.integration.guest import serial_size

T = TypeVar("T")


def reports(log: str | Path, kind: str, after: int = 0) -> list[str]:
    """Every ``HVCONSOLE-<kind>`` line's value past byte ``after``, oldest first."""
    try:
        text = Path(log).read_bytes()[after:].decode(errors="replace")
    except FileNotFoundError:
        return []
    # Anywhere in a line: the shell shares the serial console, and a report written just
    # after its prompt ("/ # HVCONSOLE-TICK 11") is on the prompt's line. Missing that one
    # made a snapshot's moment look a tick earlier than it was.
    pattern = re.compile(rf"HVCONSOLE-{re.escape(kind)}(?: (.*))?$")
    found = []
    for line in text.replace("\r", "").split("\n"):
        match = pattern.search(line)
        if match:
            found.append((match.group(1) or "").strip())
    return found


def wait_report(log: str | Path, kind: str, accept: Callable[[str], T | None], *,
                after: int = 0, timeout: float = 60.0) -> T:
    """The first value of ``kind`` past ``after`` that ``accept`` turns into something
    (not None). Raises TimeoutError with what the guest did report."""
    deadline = time.monotonic() + timeout
    while True:
        for value in reports(log, kind, after):
            result = accept(value)
            if result is not None:
                return result
        if time.monotonic() > deadline:
            seen = reports(log, kind, after)[-5:]
            tail = Path(log).read_bytes()[-1200:].decode(errors="replace")
            raise TimeoutError(f"the guest did not report the expected {kind} within "
                               f"{timeout:.0f} s; it reported {seen or 'nothing'}; its "
                               f"serial log ends with:\n{tail}")
        time.sleep(0.2)


def partitions(value: str) -> dict[str, int]:
    """A PARTITIONS report as {name: size in KiB}."""
    words = value.split()
    return {words[i + 3]: int(words[i + 2]) for i in range(0, len(words) - 3, 4)}


def carriers(value: str) -> dict[str, int]:
    """A CARRIER report as {interface: 1 (link) or 0}."""
    out = {}
    for word in value.split():
        name, _, state = word.partition("=")
        out[name] = int(state) if state.isdigit() else -1
    return out


def last_tick(log: str | Path) -> int:
    ticks = reports(log, "TICK")
    return int(ticks[-1]) if ticks else 0


def mark(log: str | Path) -> int:
    """Where the log ends now: pass as ``after`` to wait for what comes next."""
    return serial_size(log)
