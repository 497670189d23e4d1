"""Copying files into and out of a host's storage volumes through the libvirt connection.

One path for every upload and download (an ISO for New VM, a disk image to import, a
cloud-init seed, a volume saved to this computer, a shut-off VM's disk moving to another
host: ``copy_volume``), so installing on a remote host needs
no shell and no file share there: the bytes travel in the connection's own stream
(virStorageVolUpload / virStorageVolDownload), the same SSH or TLS channel libvirt
already uses.

Sparse both ways: the holes of a local file (lseek SEEK_DATA/SEEK_HOLE) are sent as
holes, not as zeros, and a sparse volume arrives as a sparse file; a 20 GiB qcow2 with
2 GiB of data moves 2 GiB. Blocking: run in a worker thread. ``TransferJob`` is the
handle another thread reads progress from and cancels with; a cancelled or failed
upload leaves the volume for the caller to delete (it created it), a cancelled download
deletes its partial file.
"""
from __future__ import annotations

import errno
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import libvirt

CHUNK = 1 << 20     # 1 MiB: big enough for throughput, small enough to cancel at once


class TransferCancelled(Exception):
    """The user cancelled; nothing half-done is kept by this module."""


@dataclass
class TransferJob:
    """Progress (bytes done of total, holes counted as done) and cancel, shared between
    the worker that transfers and the loop thread that shows it."""

    total: int = 0
    done: int = 0
    moved: int = 0      # bytes that really travelled (data, not holes)
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def fraction(self) -> float:
        return 1.0 if self.total <= 0 else min(1.0, self.done / self.total)

    def _check(self) -> None:
        if self._cancel.is_set():
            raise TransferCancelled("The transfer was cancelled.")


def data_segments(fd: int, size: int) -> list[tuple[int, int, bool]]:
    """(offset, length, is_data) covering the file, from the filesystem's own map of it;
    a filesystem that cannot tell (no SEEK_DATA) gives one data segment."""
    segments: list[tuple[int, int, bool]] = []
    offset = 0
    while offset < size:
        try:
            data = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError as err:
            if err.errno == errno.ENXIO:          # only a hole from here to the end
                segments.append((offset, size - offset, False))
                break
            return [(0, size, True)]              # no sparse map here
        if data > offset:
            segments.append((offset, data - offset, False))
        hole = os.lseek(fd, data, os.SEEK_HOLE)
        segments.append((data, min(hole, size) - data, True))
        offset = hole
    return [s for s in segments if s[1] > 0]


def upload(conn: libvirt.virConnect, vol: libvirt.virStorageVol, path: str | os.PathLike[str],
           job: TransferJob) -> None:
    """Writes the local file into the volume from its start (the volume must be at least
    as large). Raises TransferCancelled, OSError (the local file), libvirtError."""
    with open(path, "rb") as src:
        size = os.fstat(src.fileno()).st_size
        job.total = size
        stream = conn.newStream(0)
        vol.upload(stream, 0, size, libvirt.VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM)
        try:
            for offset, length, is_data in data_segments(src.fileno(), size):
                job._check()
                if not is_data:
                    stream.sendHole(length, 0)
                    job.done += length
                    continue
                src.seek(offset)
                left = length
                while left > 0:
                    job._check()
                    chunk = src.read(min(CHUNK, left))
                    if not chunk:
                        raise OSError(f"{path} became shorter while it was sent")
                    _send(stream, chunk)
                    left -= len(chunk)
                    job.done += len(chunk)
                    job.moved += len(chunk)
            stream.finish()
        except BaseException:
            _abort(stream)
            raise


def download(conn: libvirt.virConnect, vol: libvirt.virStorageVol,
             path: str | os.PathLike[str], job: TransferJob) -> None:
    """Saves the whole volume to a new local file (sparse where the volume is); the
    partial file is removed when cancelled or failed."""
    target = Path(path)
    out = open(target, "xb")            # never over an existing file (FileExistsError)
    try:
        # libvirt-python annotates info() as str; it is [type, capacity, allocation].
        job.total = cast("list[int]", vol.info())[1]
        stream = conn.newStream(0)
        vol.download(stream, 0, 0, libvirt.VIR_STORAGE_VOL_DOWNLOAD_SPARSE_STREAM)
    except BaseException:
        out.close()
        target.unlink(missing_ok=True)
        raise
    try:
        with out:
            while True:
                job._check()
                got = stream.recvFlags(CHUNK, libvirt.VIR_STREAM_RECV_STOP_AT_HOLE)
                if got == -3:                       # a hole: leave it unwritten
                    length = stream.recvHole(0)
                    out.seek(length, os.SEEK_CUR)
                    job.done += length
                    continue
                if isinstance(got, int):
                    raise OSError(f"the stream answered {got}")
                if not got:
                    break
                out.write(got)
                job.done += len(got)
                job.moved += len(got)
            out.truncate(out.tell())                # a trailing hole still sets the size
        stream.finish()
    except BaseException:
        _abort(stream)
        target.unlink(missing_ok=True)
        raise


def copy_volume(src_conn: libvirt.virConnect, src_vol: libvirt.virStorageVol,
                dst_conn: libvirt.virConnect, dst_vol: libvirt.virStorageVol,
                job: TransferJob) -> None:
    """Copies one volume into another of the same format, possibly on another host,
    through both connections' streams (a shut-off VM's disk moving with it): holes stay
    holes, nothing passes through a local file. The destination must be new (made for
    this copy, no larger than the source's file). ``job.done`` counts up towards
    ``job.total``, which grows by each volume's size; raises TransferCancelled,
    libvirtError."""
    # The bytes the stream carries: a file volume's file as it is (a qcow2's container,
    # not its guest-visible size). libvirt-python annotates infoFlags() as str; it is
    # [type, capacity, physical].
    size = cast("list[int]", src_vol.infoFlags(libvirt.VIR_STORAGE_VOL_GET_PHYSICAL))[2]
    if job.total < job.done + size:
        job.total = job.done + size
    incoming = src_conn.newStream(0)
    outgoing = dst_conn.newStream(0)
    src_vol.download(incoming, 0, 0, libvirt.VIR_STORAGE_VOL_DOWNLOAD_SPARSE_STREAM)
    try:
        dst_vol.upload(outgoing, 0, 0, libvirt.VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM)
    except BaseException:
        _abort(incoming)
        raise
    try:
        while True:
            job._check()
            got = incoming.recvFlags(CHUNK, libvirt.VIR_STREAM_RECV_STOP_AT_HOLE)
            if got == -3:                           # a hole: pass it on as one
                length = incoming.recvHole(0)
                outgoing.sendHole(length, 0)
                job.done += length
                continue
            if isinstance(got, int):
                raise OSError(f"the stream answered {got}")
            if not got:
                break
            _send(outgoing, got)
            job.done += len(got)
        incoming.finish()
        outgoing.finish()
    except BaseException:
        _abort(incoming)
        _abort(outgoing)
        raise


def _send(stream: libvirt.virStream, data: bytes) -> None:
    while data:
        sent = stream.send(data)
        if sent < 0:
            raise OSError(f"the stream refused data ({sent})")
        data = data[sent:]


def _abort(stream: libvirt.virStream) -> None:
    try:
        stream.abort()
    except libvirt.libvirtError:
        pass
