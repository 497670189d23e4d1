"""Ctrl-C in the terminal, or SIGTERM (a logout, ``kill``), closes a window the way its
close button does: consoles and host connections are closed and the statistics history
is written, instead of a traceback and whatever the history had not flushed yet. A
second signal ends the process at once, for a shutdown that hangs."""
from __future__ import annotations

import asyncio
import logging
import signal

log = logging.getLogger(__name__)

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def close_on_signals(loop: asyncio.AbstractEventLoop, window) -> bool:
    """Closes ``window`` on the first SIGINT or SIGTERM; False where the loop cannot
    watch signals (not the main thread, or a platform without them)."""
    def close() -> None:
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)  # the next one gets Python's default
        window.close()

    try:
        for sig in SIGNALS:
            loop.add_signal_handler(sig, close)
    except (NotImplementedError, RuntimeError, ValueError):
        return False
    log.debug("SIGINT and SIGTERM close the window")
    return True
