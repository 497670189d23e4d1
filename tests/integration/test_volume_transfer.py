"""Files into and out of volumes through the libvirt connection (the real libvirtd, the
test pool): sparse both ways, progress, cancel."""
from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid

import pytest

from connectors.libvirt.transfer import (TransferCancelled, TransferJob, data_segments,
                                         download, upload)
from tests.integration.conftest import PREFIX, _test_pool

pytestmark = pytest.mark.integration

MIB = 1 << 20


@pytest.fixture
def pool(libvirt_uri):
    import libvirt
    conn = libvirt.open(libvirt_uri)
    pool = _test_pool(conn)
    made = []

    def volume(size: int, fmt: str = "raw"):
        name = f"{PREFIX}xfer-{uuid.uuid4().hex[:6]}.img"
        vol = pool.createXML(f"<volume><name>{name}</name><capacity>{size}</capacity>"
                             "<allocation>0</allocation>"
                             f"<target><format type='{fmt}'/></target></volume>", 0)
        made.append(vol)
        return vol

    yield conn, volume
    for vol in made:
        try:
            vol.delete(0)
        except libvirt.libvirtError:
            pass
    conn.close()


def _sparse_file(path, size: int, pieces: dict[int, bytes]) -> None:
    with open(path, "wb") as out:
        out.truncate(size)
        for offset, data in pieces.items():
            out.seek(offset)
            out.write(data)


def _digest(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_a_sparse_file_goes_up_and_comes_back_sparse_and_identical(pool, tmp_path):
    conn, volume = pool
    src = tmp_path / "disk.img"
    size = 64 * MIB
    _sparse_file(src, size, {0: os.urandom(3 * MIB), 40 * MIB: b"middle" * 1000,
                             size - 4096: b"end" * 100})
    segments = data_segments(os.open(src, os.O_RDONLY), size)
    assert any(not is_data for _o, _l, is_data in segments), "the test file has holes"

    vol = volume(size)
    up = TransferJob()
    upload(conn, vol, src, up)
    assert up.done == up.total == size and up.fraction == 1.0
    on_host = vol.path()
    assert _digest(on_host) == _digest(src)
    assert os.stat(on_host).st_blocks * 512 < size // 4, "the holes stayed holes on the host"

    back = tmp_path / "back.img"
    down = TransferJob()
    download(conn, vol, back, down)
    assert down.done == size and back.stat().st_size == size
    assert _digest(back) == _digest(src)
    assert back.stat().st_blocks * 512 < size // 4, "and holes here too"


def test_a_cancelled_upload_stops_and_a_cancelled_download_leaves_no_file(pool, tmp_path):
    conn, volume = pool
    src = tmp_path / "full.img"
    src.write_bytes(os.urandom(24 * MIB))          # all data: many chunks to cancel between
    vol = volume(24 * MIB)
    job = TransferJob()
    seen = threading.Event()

    def cancel_after_first_chunks():
        while job.done < 2 * MIB:
            time.sleep(0.001)
        job.cancel()
        seen.set()

    watcher = threading.Thread(target=cancel_after_first_chunks, daemon=True)
    watcher.start()
    with pytest.raises(TransferCancelled):
        upload(conn, vol, src, job)
    assert seen.is_set() and job.done < 24 * MIB

    target = tmp_path / "partial.img"
    early = TransferJob()
    early.cancel()
    with pytest.raises(TransferCancelled):
        download(conn, vol, target, early)
    assert not target.exists()


def test_downloading_over_an_existing_file_is_refused_and_keeps_it(pool, tmp_path):
    conn, volume = pool
    vol = volume(1 * MIB)
    keep = tmp_path / "mine.img"
    keep.write_bytes(b"precious")
    with pytest.raises(FileExistsError):
        download(conn, vol, keep, TransferJob())
    assert keep.read_bytes() == b"precious"
