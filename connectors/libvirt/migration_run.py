"""Driving one migration on the asyncio loop: progress, cancel, and the ways it goes wrong.

The long call (migrate3 / migrateToURI3, or the offline storage copy) runs in a thread of
its own, not in the host's worker pool: it takes as long as the VM's memory and disks
take to cross the link, and the pool's few workers must keep serving the inventory and
the other VMs' actions meanwhile. Everything else (preparing, reading the job's
statistics twice a second, aborting) is a short call in the source host's pool, bounded
by the call timeout.

What ends a migration early, each with one sentence for the user and the VM still
running on the source (libvirt resumes it there when the job is aborted):
- the user's Cancel (the awaiting task is cancelled): abortJob;
- a stall: no data moved for ``options.stall_timeout_s`` (a cut link: QEMU's socket just
  waits, for as long as TCP retries, and a direct migration has no other connection
  that would notice);
- the destination's connection lost (its libvirtd died): nothing could finish the job
  there, so it is aborted at once rather than after the whole memory has been sent.
A VM that will not converge is switched to post-copy when the user allowed it; from
then on the destination runs it and the job can no longer be cancelled.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import libvirt

from connectors.libvirt import readers
from connectors.libvirt.link import Link
from connectors.libvirt.migration import JobProgress, Migration, wont_converge
from connectors.libvirt.model import ActionError

log = logging.getLogger(__name__)

T = TypeVar("T")
POLL_S = 0.5
ABORT_WAIT_S = 60.0          # how long an aborted job may take to wind down


@dataclass(frozen=True)
class Names:
    """How the user knows the VM and the two hosts (for the sentences)."""

    vm: str
    source: str
    dest: str


@dataclass(frozen=True)
class MigrationOutcome:
    total_ms: int                     # from the first call to the VM running there
    downtime_ms: int | None           # as the destination measured it
    data_bytes: int
    post_copy: bool
    copied: tuple[str, ...]           # paths of the disks made on the destination
    removed: tuple[str, ...] = ()     # the source's images deleted after the copy
    kept: tuple[str, ...] = ()        # source images that could not be deleted, and why


class _Stop(Exception):
    """Why HVConsole aborted the job (the sentence)."""


def _in_thread(fn: Callable[[], T], name: str) -> asyncio.Future[T]:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result = fn()
        except BaseException as err:  # noqa: BLE001 - handed to the awaiting task
            loop.call_soon_threadsafe(settle, None, err)
        else:
            loop.call_soon_threadsafe(settle, result, None)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future


class _Users:
    """Counts who still uses the migration's connections (this coroutine, the long
    call's thread, which may outlive it after a timed-out abort); the last one out
    calls ``release``."""

    def __init__(self, release: Callable[[], None]) -> None:
        self._release = release
        self._count = 1
        self._lock = threading.Lock()

    def join(self) -> None:
        with self._lock:
            self._count += 1

    def leave(self) -> None:
        with self._lock:
            self._count -= 1
            last = self._count == 0
        if last:
            self._release()


async def run_migration(migration: Migration, link: Link, names: Names, *,
                        dest_alive: Callable[[], bool],
                        on_progress: Callable[[JobProgress], None],
                        release: Callable[[], None] = lambda: None,
                        poll_s: float = POLL_S) -> MigrationOutcome:
    """Runs the migration to its end. Raises ActionError (one sentence, saying where the
    VM runs now) or CancelledError (aborted at the user's request: the VM stays).
    ``release`` is called once nothing uses the two connections any more."""
    users = _Users(release)
    try:
        return await _run(migration, link, names, dest_alive, on_progress, poll_s, users)
    finally:
        users.leave()


async def _run(migration: Migration, link: Link, names: Names,
               dest_alive: Callable[[], bool], on_progress: Callable[[JobProgress], None],
               poll_s: float, users: _Users) -> MigrationOutcome:
    started = time.monotonic()
    try:
        await link.call(migration.prepare)
    except (libvirt.libvirtError, ValueError) as err:
        await _discard(migration, link)
        raise ActionError(f"Could not prepare {names.dest} for {names.vm}: "
                          f"{readers.error_text(err)}") from None
    except asyncio.TimeoutError:
        await _discard(migration, link)
        raise ActionError(f"{names.source} did not answer in time while preparing the "
                          f"move of {names.vm}.") from None
    except asyncio.CancelledError:
        await _discard(migration, link)
        raise

    def long_call() -> None:
        try:
            migration.copy_offline_storage()
            if not migration.aborted:
                migration.perform()
        finally:
            users.leave()

    users.join()
    perform = _in_thread(long_call, f"migrate-{names.vm}")
    last: JobProgress | None = None
    try:
        last = await _watch(migration, link, perform, names, dest_alive, on_progress,
                            poll_s)
    except asyncio.CancelledError:
        if await _abort_and_wait(migration, link, perform):
            await _discard(migration, link)
            raise
        # It had finished before the abort took: the VM moved, and that is what to say.
    except _Stop as stop:
        if await _abort_and_wait(migration, link, perform):
            await _discard(migration, link)
            raise ActionError(await _where_now(str(stop), migration, link, names)) from None
    except Exception as err:  # noqa: BLE001 - libvirt's refusal, the transfer's OSError
        await _discard(migration, link)
        raise ActionError(await _where_now(
            f"Could not move {names.vm} to {names.dest}: {readers.error_text(err)}",
            migration, link, names)) from None
    total_ms = int((time.monotonic() - started) * 1000)
    try:
        completed = await link.call(migration.completed)
    except (asyncio.TimeoutError, libvirt.libvirtError):
        completed = None
    data = (completed or last or JobProgress(False)).data_processed
    try:
        removed, kept = await link.call(migration.remove_source_disks)
    except (asyncio.TimeoutError, libvirt.libvirtError) as err:
        removed, kept = [], [f"{c.source_path} ({readers.error_text(err)})"
                             for c in migration.copies]
    return MigrationOutcome(
        total_ms=total_ms,
        downtime_ms=completed.downtime_ms if completed is not None else None,
        data_bytes=data, post_copy=migration.post_copy,
        copied=tuple(c.path for c in migration.copies), removed=tuple(removed),
        kept=tuple(kept))


async def _watch(migration: Migration, link: Link, perform: asyncio.Future[None],
                 names: Names, dest_alive: Callable[[], bool],
                 on_progress: Callable[[JobProgress], None],
                 poll_s: float) -> JobProgress | None:
    """Reads the job's statistics until perform ends; raises _Stop to abort."""
    timeout = migration.options.stall_timeout_s
    history: list[JobProgress] = []
    last: JobProgress | None = None
    moved_at = time.monotonic()
    moved = -1
    while True:
        done, _ = await asyncio.wait({perform}, timeout=poll_s)
        if done:
            perform.result()              # raises what the long call raised
            return last
        if not dest_alive():
            raise _Stop(f"Lost the connection to {names.dest} while moving {names.vm}, so "
                        "the migration was cancelled")
        progress: JobProgress | None = None
        try:
            progress = await link.call(migration.progress)
        except (libvirt.libvirtError, asyncio.TimeoutError):
            pass                          # between phases, just finished, or a slow host
        if progress is not None and progress.active:
            last = progress
            history.append(progress)
            del history[:-12]
            done_bytes = progress.data_processed + progress.disk_total \
                - progress.disk_remaining
            if done_bytes != moved:
                moved, moved_at = done_bytes, time.monotonic()
        if moved >= 0 and time.monotonic() - moved_at > timeout:
            raise _Stop(f"No data reached {names.dest} for {timeout:g} s (the link to it "
                        f"may be down), so the migration of {names.vm} was cancelled")
        if progress is None or not progress.active:
            continue
        on_progress(progress)
        if migration.options.post_copy and not migration.post_copy and \
                wont_converge(history):
            log.info("%s does not converge; switching to post-copy", names.vm)
            try:
                await link.call(migration.start_post_copy)
            except (libvirt.libvirtError, asyncio.TimeoutError) as err:
                log.warning("post-copy switch of %s refused: %s", names.vm, err)


async def _abort_and_wait(migration: Migration, link: Link,
                          perform: asyncio.Future[None]) -> bool:
    """Aborts and waits for the long call to end; True when the migration did not
    happen (False: it had completed before the abort took)."""
    if migration.post_copy:
        # The destination runs the VM now; aborting would lose it. Let it finish.
        await asyncio.shield(perform)
        return False
    try:
        await link.call(migration.abort)
    except (libvirt.libvirtError, asyncio.TimeoutError) as err:
        log.warning("aborting the migration: %s", err)
    try:
        await asyncio.wait_for(asyncio.shield(perform), ABORT_WAIT_S)
    except asyncio.TimeoutError:
        log.warning("the aborted migration did not end within %g s", ABORT_WAIT_S)
        return True
    except Exception:  # noqa: BLE001 - the abort's own "canceled by client"
        return True
    return False


async def _discard(migration: Migration, link: Link) -> None:
    try:
        await link.call(migration.discard)
    except (asyncio.TimeoutError, libvirt.libvirtError):
        log.warning("could not remove the volumes made for an unfinished migration")


async def _where_now(sentence: str, migration: Migration, link: Link, names: Names) -> str:
    """The failure, and where the VM is now: what a user wants to know next."""
    try:
        state = await link.call(migration.source_state)
    except (asyncio.TimeoutError, libvirt.libvirtError):
        return sentence
    if state in (libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_BLOCKED):
        where = f"{names.vm} keeps running on {names.source}"
    elif state == libvirt.VIR_DOMAIN_PAUSED:
        where = f"{names.vm} is paused on {names.source}"
    elif state == libvirt.VIR_DOMAIN_SHUTOFF and not migration.options.live:
        where = f"{names.vm} stays on {names.source}"
    else:
        return sentence
    return f"{sentence.rstrip('.')}; {where}."
