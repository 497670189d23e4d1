"""Every file HVConsole writes goes to disk through ``replace_file``: whole or not at all.

Why: a settings file rewritten in place (open with "w", then write) is empty for a moment;
a crash, a kill -9 or a full disk in that moment loses what the user had saved (the list of
servers, the known host keys, the encrypted passwords). Here the new content goes to a
temporary file in the same directory (same file system, so the rename is atomic), is
fsynced, renamed over the old name with ``os.replace``, and the directory is fsynced so the
rename itself survives a power cut. Whoever reads the file sees the old content or the new,
never a mix. tests/unit/test_atomic_file.py kills a writer at random moments and fills a
real (tmpfs) disk to check both promises.

A failed write raises ``OSError`` with the old file untouched and no temporary file left
behind; ``write_failure`` turns it into the sentence the app shows.
"""
from __future__ import annotations

import errno
import glob
import os
import tempfile
import time
from pathlib import Path

PRIVATE = 0o600   # settings, host keys, passwords: only the user reads them
LEFTOVER_AGE_S = 3600


def replace_file(path: str | os.PathLike[str], data: bytes, mode: int = PRIVATE) -> None:
    """Replaces ``path`` with ``data`` atomically and durably (creating its directory);
    raises OSError (ENOSPC, EACCES, ...) with the previous file kept as it was."""
    target = Path(path)
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                dir=target.parent)
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, target)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    fsync_dir(target.parent)
    _sweep_leftovers(target)


def _sweep_leftovers(target: Path) -> None:
    """Removes the temporary files of saves that a crash or a kill -9 cut short (they
    are never read, only left beside the file). An hour old at least: a second
    HVConsole saving the same file right now keeps its own."""
    now = time.time()
    for leftover in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        try:
            if now - leftover.stat().st_mtime > LEFTOVER_AGE_S:
                leftover.unlink()
        except OSError:
            pass


def replace_text(path: str | os.PathLike[str], text: str, mode: int = PRIVATE) -> None:
    """``replace_file`` for text, written as UTF-8."""
    replace_file(path, text.encode("utf-8"), mode)


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Makes a rename in ``path`` durable; not every file system allows it, which is fine."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_failure(what: str, path: str | os.PathLike[str], exc: OSError) -> str:
    """The sentence a user reads when saving ``what`` failed: which file, why, and that
    the previous version is still there."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        why = "the disk is full"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        why = "HVConsole may not write there"
    else:
        why = exc.strerror or str(exc)
    return (f"{what[:1].upper()}{what[1:]} could not be saved to {path} ({why}); the "
            "previous version of the file is kept. Free some space or fix the folder's "
            "permissions, then make the change again.")


__all__ = ["PRIVATE", "fsync_dir", "replace_file", "replace_text", "write_failure"]
