"""Storage pools and volumes through HVConsole's connector, on the real libvirtd: a
directory pool, a filesystem pool on a loop device, LVM's refusal on this kernel,
volumes made, grown, wiped, deleted, uploaded and downloaded; a volume a VM uses is
refused with its user named; bad input is a sentence and leaves nothing behind.
"""
from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from connectors.libvirt.host import LibvirtHost
from connectors.libvirt.model import ActionError
from connectors.libvirt.storage_ops import NewPool
from connectors.libvirt.storage_xml import PoolSpec, VolumeSpec
from connectors.libvirt.transfer import TransferJob
from tests.conftest import wait_until
from tests.integration.conftest import PREFIX, _remove_domain, unavailable

pytestmark = pytest.mark.integration

MIB = 1 << 20
WORK = Path("/var/lib/hvconsole-test")


def _cleanup_pools(conn, prefix: str) -> None:
    import libvirt
    for found in conn.listAllStoragePools(0):
        if not found.name().startswith(prefix):
            continue
        try:
            if found.isActive():
                for vol in found.listAllVolumes(0):
                    try:
                        vol.delete(0)
                    except libvirt.libvirtError:
                        pass
                found.destroy()
        except libvirt.libvirtError:
            pass
        try:
            found.undefine()
        except libvirt.libvirtError:
            pass


@pytest.fixture
def host(aloop, libvirt_uri):
    import libvirt
    prefix = f"{PREFIX}pool-{uuid.uuid4().hex[:6]}"
    found = LibvirtHost(libvirt_uri, lambda _event: None)
    aloop.run_until_complete(found.connect())
    yield found, prefix
    aloop.run_until_complete(found.disconnect())
    conn = libvirt.open(libvirt_uri)
    try:
        _cleanup_pools(conn, prefix)
    finally:
        conn.close()
    for folder in WORK.glob(f"{prefix}*"):
        shutil.rmtree(folder, ignore_errors=True)


def run(aloop, coro):
    return aloop.run_until_complete(asyncio.wait_for(coro, 120))


def pool_named(host, name):
    return next((p for p in host.pools() if p.name == name), None)


def test_a_directory_pool_is_built_started_and_listed_with_its_figures(aloop, host):
    host, prefix = host
    path = WORK / f"{prefix}-dir"
    key = run(aloop, host.storage.define_pool(NewPool(
        PoolSpec(f"{prefix}-dir", "dir", target_path=str(path)), build=True)))
    assert path.is_dir(), "building made the directory"
    pool = pool_named(host, f"{prefix}-dir")
    assert pool is not None and pool.key == key and pool.active and pool.autostart
    assert pool.capacity > 0 and pool.available > 0

    run(aloop, host.storage.pool_op(key, "stop"))
    assert not pool_named(host, f"{prefix}-dir").active
    run(aloop, host.storage.pool_op(key, "no-autostart"))
    assert not pool_named(host, f"{prefix}-dir").autostart
    run(aloop, host.storage.pool_op(key, "start"))
    assert pool_named(host, f"{prefix}-dir").active

    run(aloop, host.storage.create_volume(key, VolumeSpec("keep.raw", MIB, "raw")))
    run(aloop, host.storage.delete_pool(key, delete_data=False))
    assert pool_named(host, f"{prefix}-dir") is None
    assert (path / "keep.raw").exists(), "removing only the definition keeps the data"


def test_a_pool_path_that_does_not_exist_is_a_sentence_and_nothing_is_defined(aloop, host):
    host, prefix = host
    missing = WORK / f"{prefix}-nowhere"
    with pytest.raises(ActionError) as refused:
        run(aloop, host.storage.define_pool(NewPool(
            PoolSpec(f"{prefix}-bad", "dir", target_path=str(missing)), build=False)))
    text = str(refused.value)
    assert text.startswith(f"Could not create pool {prefix}-bad: ")
    assert str(missing) in text
    run(aloop, wait_until(lambda: pool_named(host, f"{prefix}-bad") is None, 10))
    import libvirt
    conn = libvirt.open("qemu:///system")
    try:
        assert f"{prefix}-bad" not in [p.name() for p in conn.listAllStoragePools(0)]
    finally:
        conn.close()
    with pytest.raises(ActionError, match="absolute path"):
        run(aloop, host.storage.define_pool(NewPool(
            PoolSpec(f"{prefix}-rel", "dir", target_path="relative/dir"))))


def test_volumes_are_created_grown_wiped_and_deleted(aloop, host):
    host, prefix = host
    key = run(aloop, host.storage.define_pool(NewPool(
        PoolSpec(f"{prefix}-vols", "dir", target_path=str(WORK / f"{prefix}-vols")),
        build=True)))
    storage = host.storage
    run(aloop, storage.create_volume(key, VolumeSpec("sparse.qcow2", 64 * MIB, "qcow2")))
    run(aloop, storage.create_volume(key, VolumeSpec("meta.qcow2", 64 * MIB, "qcow2",
                                                     preallocation="metadata")))
    run(aloop, storage.create_volume(key, VolumeSpec("full.raw", 8 * MIB, "raw",
                                                     preallocation="full")))
    base = str(WORK / f"{prefix}-vols" / "sparse.qcow2")
    run(aloop, storage.create_volume(key, VolumeSpec("overlay.qcow2", 64 * MIB, "qcow2",
                                                     backing_path=base,
                                                     backing_format="qcow2")))
    volumes = {v.name: v for v in run(aloop, storage.volumes(key))}
    assert set(volumes) == {"sparse.qcow2", "meta.qcow2", "full.raw", "overlay.qcow2"}
    assert volumes["sparse.qcow2"].format == "qcow2"
    assert volumes["sparse.qcow2"].capacity == 64 * MIB
    assert volumes["sparse.qcow2"].allocation < 2 * MIB
    assert volumes["meta.qcow2"].allocation > volumes["sparse.qcow2"].allocation
    assert volumes["full.raw"].allocation >= 8 * MIB
    assert volumes["overlay.qcow2"].backing_path == base

    run(aloop, storage.grow_volume(key, "full.raw", 16 * MIB))
    assert {v.name: v for v in run(aloop, storage.volumes(key))}["full.raw"].capacity \
        == 16 * MIB
    with pytest.raises(ActionError, match="can only grow"):
        run(aloop, storage.grow_volume(key, "full.raw", 4 * MIB))

    path = WORK / f"{prefix}-vols" / "full.raw"
    with open(path, "r+b") as disk:
        disk.write(b"secret" * 1000)
    run(aloop, storage.wipe_volume(key, "full.raw"))
    assert path.read_bytes()[:6000] == bytes(6000), "wiped to zeros"

    run(aloop, storage.delete_volume(key, "overlay.qcow2"))
    assert "overlay.qcow2" not in {v.name for v in run(aloop, storage.volumes(key))}

    pool = pool_named(host, f"{prefix}-vols")
    with pytest.raises(ActionError, match="free"):
        run(aloop, storage.create_volume(key, VolumeSpec(
            "huge.raw", pool.available + 1024 * MIB * 1024, "raw", preallocation="full")))
    with pytest.raises(ActionError, match="may only hold"):
        run(aloop, storage.create_volume(key, VolumeSpec("bad/name", MIB, "raw")))

    run(aloop, storage.delete_pool(key, delete_data=True))
    assert not (WORK / f"{prefix}-vols").exists(), "deleting the data removed the folder"


def test_a_volume_in_use_by_a_vm_cannot_be_deleted_and_its_user_is_named(
        aloop, host, libvirt_uri):
    import libvirt
    host, prefix = host
    key = run(aloop, host.storage.define_pool(NewPool(
        PoolSpec(f"{prefix}-used", "dir", target_path=str(WORK / f"{prefix}-used")),
        build=True)))
    path = run(aloop, host.storage.create_volume(key, VolumeSpec("disk.qcow2", 16 * MIB)))
    vm_name = f"{prefix}-vm"
    conn = libvirt.open(libvirt_uri)
    try:
        conn.defineXML(f"""<domain type='qemu'><name>{vm_name}</name>
          <memory unit='MiB'>32</memory><os><type arch='x86_64'>hvm</type></os>
          <devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
          <source file='{path}'/><target dev='vda' bus='virtio'/></disk></devices>
          </domain>""")
        run(aloop, wait_until(lambda: any(v.name == vm_name for v in host.vms()), 10))
        volumes = run(aloop, host.storage.volumes(key))
        assert volumes[0].users == (f"{vm_name} (vda)",)
        for doing in (host.storage.delete_volume, host.storage.wipe_volume):
            with pytest.raises(ActionError) as refused:
                run(aloop, doing(key, "disk.qcow2"))
            assert f"{vm_name} (vda) uses disk.qcow2" in str(refused.value)
        with pytest.raises(ActionError, match=f"{vm_name} \\(vda\\) uses"):
            run(aloop, host.storage.delete_pool(key, delete_data=True))
        assert os.path.exists(path), "nothing was deleted"
    finally:
        _remove_domain(conn, vm_name)
        conn.close()


def test_a_200_mb_sparse_file_goes_up_and_comes_back_and_a_cancel_leaves_no_volume(
        aloop, host, tmp_path):
    host, prefix = host
    folder = WORK / f"{prefix}-up"
    key = run(aloop, host.storage.define_pool(NewPool(
        PoolSpec(f"{prefix}-up", "dir", target_path=str(folder)), build=True)))
    src = tmp_path / "disk.img"
    size = 200 * MIB
    with open(src, "wb") as out:
        out.truncate(size)
        for offset in (0, 90 * MIB, size - MIB):
            out.seek(offset)
            out.write(os.urandom(MIB))
    job = TransferJob()
    path = run(aloop, host.storage.upload(key, "disk.img", str(src), job))
    assert job.done == size
    assert 3 * MIB <= job.moved < 10 * MIB, "only the data travelled, not the holes"
    assert os.stat(path).st_blocks * 512 < 20 * MIB, "holes stayed holes on the host"
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == digest

    back = tmp_path / "back.img"
    run(aloop, host.storage.download(key, "disk.img", str(back), TransferJob()))
    assert hashlib.sha256(back.read_bytes()).hexdigest() == digest
    with pytest.raises(ActionError, match="already exists"):
        run(aloop, host.storage.download(key, "disk.img", str(back), TransferJob()))

    full = tmp_path / "full.img"
    full.write_bytes(os.urandom(48 * MIB))
    job = TransferJob()

    async def cancel_half_way():
        upload = asyncio.ensure_future(host.storage.upload(key, "half.img", str(full), job))
        while job.done < 4 * MIB and not upload.done():
            await asyncio.sleep(0.005)
        job.cancel()
        with pytest.raises(ActionError, match="cancelled"):
            await upload
    run(aloop, cancel_half_way())
    assert "half.img" not in {v.name for v in run(aloop, host.storage.volumes(key))}
    assert not (folder / "half.img").exists()


@pytest.fixture
def loop_device():
    if shutil.which("losetup") is None or shutil.which("mkfs.ext4") is None:
        unavailable("losetup and mkfs.ext4 are needed for the filesystem pool test")
    image = WORK / f"{PREFIX}loop-{uuid.uuid4().hex[:6]}.img"
    WORK.mkdir(parents=True, exist_ok=True)
    with open(image, "wb") as out:
        out.truncate(64 * MIB)
    done = subprocess.run(["losetup", "-f", "--show", str(image)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        unavailable(f"no loop device here: {done.stderr.strip()}")
    device = done.stdout.strip()
    yield device
    subprocess.run(["umount", "-l", device], capture_output=True)
    subprocess.run(["losetup", "-d", device], capture_output=True)
    image.unlink(missing_ok=True)


def test_a_filesystem_pool_on_a_loop_device_is_formatted_mounted_and_used(
        aloop, loop_device, host):
    host, prefix = host
    mount = WORK / f"{prefix}-fs"
    spec = PoolSpec(f"{prefix}-fs", "fs", target_path=str(mount),
                    source_device=loop_device, source_format="ext4")
    with pytest.raises(ActionError) as refused:
        run(aloop, host.storage.define_pool(NewPool(spec, build=False)))
    assert str(refused.value).startswith(f"Could not create pool {prefix}-fs: ")
    # an unformatted device: nothing left (the tree may have seen it defined a moment)
    run(aloop, wait_until(lambda: pool_named(host, f"{prefix}-fs") is None, 10))

    mount.mkdir(parents=True)
    key = run(aloop, host.storage.define_pool(NewPool(spec, build=True, overwrite=True,
                                                      autostart=False)))
    pool = pool_named(host, f"{prefix}-fs")
    assert pool.active and 50 * MIB < pool.capacity <= 64 * MIB
    assert str(mount) in Path("/proc/mounts").read_text()
    run(aloop, host.storage.create_volume(key, VolumeSpec("on-fs.qcow2", 16 * MIB)))
    assert (mount / "on-fs.qcow2").exists()
    run(aloop, host.storage.pool_op(key, "stop"))
    assert str(mount) not in Path("/proc/mounts").read_text(), "stopping unmounts"
    run(aloop, host.storage.pool_op(key, "start"))
    assert "on-fs.qcow2" in {v.name for v in run(aloop, host.storage.volumes(key))}
    run(aloop, host.storage.delete_pool(key, delete_data=False))


def test_an_lvm_pool_is_made_and_its_volumes_refused_in_the_words_of_this_kernel(
        aloop, loop_device, host):
    """This machine has no device-mapper: a volume group is written on a loop device and
    the pool starts (it has nothing to activate), but a logical volume cannot be
    activated, so creating one fails with libvirt's words and leaves nothing."""
    host, prefix = host
    if shutil.which("vgcreate") is None:
        unavailable("lvm2 is not installed (scripts/setup.sh installs it)")
    vg = f"{prefix}-vg".replace("-", "_")
    spec = PoolSpec(f"{prefix}-lvm", "logical", source_device=loop_device, source_name=vg)
    assert spec.problems() == []
    try:
        key = run(aloop, host.storage.define_pool(NewPool(spec, build=True, overwrite=True,
                                                          autostart=False)))
        assert pool_named(host, f"{prefix}-lvm").active
        assert pool_named(host, f"{prefix}-lvm").capacity > 50 * MIB
        # lvm creates /dev/mapper/control itself: only the kernel's list tells
        if "device-mapper" in Path("/proc/misc").read_text():
            run(aloop, host.storage.create_volume(key, VolumeSpec("lv1", 8 * MIB, "")))
        else:
            with pytest.raises(ActionError) as refused:
                run(aloop, host.storage.create_volume(key, VolumeSpec("lv1", 8 * MIB, "")))
            assert str(refused.value).startswith("Could not create volume lv1 in pool ")
            assert run(aloop, host.storage.volumes(key)) == []
        run(aloop, host.storage.delete_pool(key, delete_data=True))
        assert pool_named(host, f"{prefix}-lvm") is None
    finally:
        # The pool first: once its volume group is gone libvirt can no longer stop it.
        gone = pool_named(host, f"{prefix}-lvm")
        if gone is not None:
            run(aloop, host.storage.delete_pool(gone.key, delete_data=False))
        subprocess.run(["vgremove", "-f", vg], capture_output=True)
        subprocess.run(["pvremove", "-f", loop_device], capture_output=True)


def test_nfs_export_search_on_a_server_that_is_not_there_is_a_sentence(aloop, host):
    host, _prefix = host
    with pytest.raises(ActionError) as refused:
        run(aloop, host.storage.find_sources("netfs", "127.0.0.1"))
    assert str(refused.value).startswith("Could not look for netfs sources on 127.0.0.1: ")


def test_through_an_ssh_host_a_pool_is_made_and_a_file_goes_up_and_down(
        aloop, ssh_uri, trusted, libvirt_uri, tmp_path):
    """The same calls over qemu+ssh:// (an sshd on 127.0.0.1 in front of this libvirtd):
    the bytes of an upload travel in the libvirt connection's own stream, no file share
    and no shell on the host needed."""
    import libvirt
    prefix = f"{PREFIX}pool-{uuid.uuid4().hex[:6]}"
    remote = LibvirtHost(ssh_uri, lambda _event: None)
    aloop.run_until_complete(remote.connect())
    try:
        key = run(aloop, remote.storage.define_pool(NewPool(
            PoolSpec(f"{prefix}-ssh", "dir", target_path=str(WORK / f"{prefix}-ssh")),
            build=True, autostart=False)))
        src = tmp_path / "seed.img"
        with open(src, "wb") as out:
            out.truncate(32 * MIB)
            out.write(b"cloud-init seed" * 100)
        job = TransferJob()
        path = run(aloop, remote.storage.upload(key, "seed.img", str(src), job))
        assert path == str(WORK / f"{prefix}-ssh" / "seed.img")
        assert job.moved < 2 * MIB, "the 30 MiB hole did not travel"
        back = tmp_path / "back.img"
        run(aloop, remote.storage.download(key, "seed.img", str(back), TransferJob()))
        assert back.read_bytes() == src.read_bytes()
        run(aloop, remote.storage.delete_pool(key, delete_data=True))
        assert not (WORK / f"{prefix}-ssh").exists()
    finally:
        aloop.run_until_complete(remote.disconnect())
        conn = libvirt.open(libvirt_uri)
        _cleanup_pools(conn, prefix)
        conn.close()
