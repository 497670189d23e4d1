"""Says on stderr when start-up reaches its milestones, for benchmarks/startup.py.

Why: how long a user waits for the window is the time from the ``hvconsole`` command to
pixels on the screen, and only the process itself knows when its window was painted.
With ``HVCONSOLE_REPORT_STARTUP=1`` in the environment each milestone writes one line
``hvconsole-<name> <seconds>`` on stderr, where ``<seconds>`` is ``time.monotonic()``:
CLOCK_MONOTONIC, the same clock in every process of the machine, so the parent that
started the command subtracts its own reading taken just before. The milestones:
``first-paint`` (the window's frame painted and flushed, widgets/startup.py),
``window-filled`` (tree, tabs, menus and toolbar built into it) and ``connections-ended``
(every connection opened at start has finished its attempt).

Without the variable a milestone costs one dictionary look-up.
"""
from __future__ import annotations

import os
import sys
import time

ENV_VAR = "HVCONSOLE_REPORT_STARTUP"
LINE_PREFIX = "hvconsole-"


def reporting() -> bool:
    return os.environ.get(ENV_VAR, "") not in ("", "0")


def report_milestone(name: str) -> None:
    """``hvconsole-<name> <monotonic seconds>`` on stderr, when reporting is on."""
    if reporting():
        sys.stderr.write(f"{LINE_PREFIX}{name} {time.monotonic():.6f}\n")
        sys.stderr.flush()
