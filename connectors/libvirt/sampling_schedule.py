"""When a statistics sampler ticks: a fixed grid of loop callbacks, not a task.

Why callbacks: every wake-up of the UI thread costs far more than the Python it runs
(the event dispatcher, Qt's timers, the GIL changing hands). A sampler written as an
asyncio task took seven or eight loop events per tick (the sleep's timer and the task's
wake-up, the executor future copied across threads, ``wait_for``'s and ``shield``'s
futures); with twenty hosts that was most of an idle window's CPU. Here one tick is one
timer firing, one job for the worker, and one call back from the worker.

Why a resting host sleeps through its resting ticks: a big host nobody looks at is only
sampled on its full ticks (see ``StatsSampler.resting``), so the schedule jumps straight
to the next full tick instead of waking on each grid point just to skip it; ``wake()``
(called when a VM or the host becomes hot) brings the next tick back to the next grid
point.

Ticks never overlap: a grid point that finds the previous call still running is skipped
and counted (the next batch says how many), and a call running past ``timeout_s`` is
reported once as a timeout; its late result is dropped.

No Qt here (connectors/ layer rule).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from typing import Callable, Generic, Protocol, TypeVar

log = logging.getLogger(__name__)


class Batch(Protocol):
    """What one tick's result must let the schedule say: how many grid points before it
    were skipped (a gap the graph shows)."""

    skipped_ticks: int


B = TypeVar("B", bound=Batch)


class Sampled(Protocol[B]):
    """What the schedule asks of the sampler it drives (connectors.libvirt.stats's
    StatsSampler): its knobs, whether a tick can be skipped, and the call itself."""

    full_every: int
    timeout_s: float

    def quiet(self) -> bool:
        """A big host nobody looks at: only its full ticks are taken."""

    def resting_at(self, tick: int) -> bool:
        """Grid point ``tick`` is one a quiet host skips."""

    def busy(self) -> bool:
        """A call is under way (a one-off sample_once() may be, besides our own)."""

    def submit(self, tick: int) -> concurrent.futures.Future[B]:
        """Starts the call for grid point ``tick`` in the sampler's worker."""

    def count_skipped(self, ticks: int) -> None: ...

    def take_skipped(self) -> int:
        """The skipped grid points counted since the last batch, reset to none."""

LONG_WAIT_S = 1.0    # waits longer than this end with a short timer of NEAR_S (see _arm)
NEAR_S = 0.3


class SamplingRun(Generic[B]):
    """One started sampler's ticks: ``sampler.submit`` (its collect, in its worker) at
    ``t0 + i * interval_s`` for grid index i, ``callback(batch)`` on the loop afterwards.

    ``done`` is a future that is cancelled by ``halt()`` and fails if the schedule itself
    fails (a fault outside the callback, whose own faults are reported and survived).
    """

    def __init__(self, sampler: Sampled[B], loop: asyncio.AbstractEventLoop,
                 callback: Callable[[B], object], interval_s: float,
                 on_error: Callable[[BaseException], object] | None, phase_s: float) -> None:
        if interval_s <= 0:
            raise ValueError("the sampling interval must be positive")
        self.sampler = sampler
        self.loop = loop
        self.callback = callback
        self.interval_s = interval_s
        self.on_error = on_error
        self.done: asyncio.Future[None] = loop.create_future()
        self.t0 = loop.time() + max(0.0, phase_s)
        self._call: concurrent.futures.Future[B] | None = None
        self._call_started = 0.0
        self._timed_out = False
        self._fired = -1                     # grid index of the latest firing
        self._planned = 0                    # grid index of the pending timer
        self._handle: asyncio.Handle | None = loop.call_at(self.t0, self._fire)

    # ---- the grid ----

    def _due(self, index: int) -> float:
        return self.t0 + index * self.interval_s

    def _plan(self, index: int, *, count_missed: bool = True) -> None:
        """Arms the timer for grid index ``index`` or, if that has passed, the next one
        still ahead; then past the ticks a resting host would skip anyway."""
        now = self.loop.time()
        if self._due(index) < now:
            missed = int((now - self._due(index)) // self.interval_s) + 1
            index += missed
            if count_missed:     # the loop itself was held up: a gap the graph shows
                self.sampler.count_skipped(missed)
        every = self.sampler.full_every
        if every > 1 and self.sampler.quiet():
            index += -index % every          # straight to the next full tick
        if self._handle is not None:
            if index == self._planned:
                return
            self._handle.cancel()
        self._planned = index
        self._arm(now)

    def _arm(self, now: float) -> None:
        """A long wait is taken in two steps. Qt treats a loop timer as coarse: it may
        fire up to 5 % of its interval late, and lines such timers up on whole seconds. The
        ten-second sleeps of resting hosts then woke several hosts in the same instant,
        their full ticks piling up on the GIL (stalls of 40–85 ms); the short last step
        keeps each host at its own point of the interval."""
        due = self._due(self._planned)
        if due - now > LONG_WAIT_S:
            self._handle = self.loop.call_at(due - NEAR_S, self._near)
        else:
            self._handle = self.loop.call_at(due, self._fire)

    def _near(self) -> None:
        self._handle = self.loop.call_at(self._due(self._planned), self._fire)

    def wake(self) -> None:
        """Something became hot: tick again from the next grid point on."""
        if self._handle is None or self.done.done() or self.sampler.quiet():
            return
        now = self.loop.time()
        ahead = max(0, -int(-(now - self.t0) // self.interval_s))  # first index not past
        if ahead < self._planned:
            self._handle.cancel()
            self._planned = ahead
            self._arm(now)

    def _fire(self) -> None:
        self._handle = None
        index = self._fired = self._planned
        try:
            sampler = self.sampler
            if self._call is not None or sampler.busy():
                sampler.count_skipped(1)
                if self._call is not None:
                    self._check_timeout()
            elif not sampler.resting_at(index):
                self._call_started = self.loop.time()
                self._timed_out = False
                self._call = sampler.submit(index)
                self._call.add_done_callback(self._from_worker)
            self._plan(index + 1)
        except Exception as err:  # noqa: BLE001 - any fault ends the schedule, reported
            self._fail(err)

    def _check_timeout(self) -> None:
        timeout = self.sampler.timeout_s
        if not self._timed_out and self.loop.time() - self._call_started > timeout:
            self._timed_out = True
            self._report(asyncio.TimeoutError(
                f"the statistics call has not returned for {timeout:.0f} s"))

    # ---- results ----

    def _from_worker(self, call: concurrent.futures.Future[B]) -> None:
        """In the worker thread: hand the finished call to the loop."""
        try:
            self.loop.call_soon_threadsafe(self._deliver, call)
        except RuntimeError:
            pass       # the loop is closed: the app is leaving

    def _deliver(self, call: concurrent.futures.Future[B]) -> None:
        if call is not self._call:
            return
        self._call = None
        if self.done.done():
            return
        timed_out, self._timed_out = self._timed_out, False
        err = call.exception()
        if timed_out:
            pass          # already reported; a result this late is not trusted
        elif err is not None:
            self._report(err)
        else:
            batch = call.result()
            skipped = self.sampler.take_skipped()
            if skipped:
                batch.skipped_ticks = skipped
            try:
                self.callback(batch)
            except Exception as fault:
                # A fault in what the app does with one tick must not end the host's
                # monitoring for the rest of the session: report it and tick on.
                log.exception("handling a statistics tick failed")
                self._report(fault)
        try:
            # The result may have changed whether the host rests (its size, its VMs).
            if self._handle is not None:
                self._plan(self._fired + 1, count_missed=False)
        except Exception as fault:  # noqa: BLE001 - any fault ends the schedule, reported
            self._fail(fault)

    def _report(self, err: BaseException) -> None:
        if self.on_error is not None:
            try:
                self.on_error(err)
            except Exception:
                log.exception("reporting a statistics error failed")
        else:
            log.warning("statistics tick failed: %s", err)

    # ---- ending ----

    def _fail(self, err: BaseException) -> None:
        log.error("statistics sampling stopped", exc_info=(type(err), err, err.__traceback__))
        if not self.done.done():
            # Kept without its traceback: the frames in it (this run, the app objects
            # they saw, the loop's Qt timer) would form a reference cycle that the garbage
            # collector may free on a worker thread, and a Qt object destroyed off its
            # thread leaves a dangling timer behind (a crash later).
            self.done.set_exception(err.with_traceback(None))
        self.halt()

    def halt(self) -> None:
        """No more ticks; a call still running in the worker is left to finish alone."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._call is not None:
            # Nobody waits for it any more: mark its error as seen.
            self._call.add_done_callback(lambda f: f.cancelled() or f.exception())
            self._call = None
        if not self.done.done():
            self.done.cancel()

    @property
    def active(self) -> bool:
        return not self.done.done()
