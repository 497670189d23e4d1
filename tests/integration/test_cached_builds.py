"""The cached test artefacts build from nothing, and a change to what builds them rebuilds.

A new machine has no cache: these builders' cold paths must work on every CI run, not
only on the day a cache was first filled (a Xen image build once died on new machines
for weeks while CI reused an old image). So the quick builders run here against an empty
cache folder, and the slow one (the Xen host, minutes of debootstrap) is checked to key
each stage by the code that builds it, so that changing that code rebuilds it in CI.

Real tools throughout: apt-get download of Debian's kernel package, cpio, gzip, bash.
"""
from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import unavailable

REPO = Path(__file__).resolve().parents[2]

# Only their own empty cache folders and processes: they may run beside other tests.
pytestmark = [pytest.mark.timeout(300), pytest.mark.own_guests]


def _run(script: Path, cache: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, HVCONSOLE_CACHE_DIR=str(cache))
    for var in ("HVCONSOLE_GUEST_DIR", "HVCONSOLE_GUEST_IO_DIR", "HVCONSOLE_XEN_DIR",
                "HVCONSOLE_TEST_ISO_DIR"):
        env.pop(var, None)
    return subprocess.run(["bash", str(script), *args], capture_output=True, text=True,
                          env=env, timeout=240)


def _cpio_names(initrd: Path) -> set[str]:
    """The member names of a gzip'd newc cpio archive, or of several concatenated (the
    kernel unpacks each in turn; `cpio -t` would stop at the first trailer)."""
    data, names, pos = gzip.decompress(initrd.read_bytes()), set(), 0
    while pos + 110 <= len(data):
        if data[pos:pos + 6] != b"070701":
            pos += 1            # padding between archives
            continue
        filesize, namesize = int(data[pos + 54:pos + 62], 16), int(data[pos + 94:pos + 102], 16)
        name = data[pos + 110:pos + 110 + namesize - 1].decode()
        pos = (pos + 110 + namesize + 3) & ~3
        pos = (pos + filesize + 3) & ~3
        if name != "TRAILER!!!":
            names.add(name.removeprefix("./"))
    return names


@pytest.fixture
def empty_cache(tmp_path) -> Path:
    if shutil.which("apt-get") is None or shutil.which("cpio") is None:
        unavailable("needs apt-get and cpio (scripts/setup.sh installs them)")
    cache = tmp_path / "cache"
    cache.mkdir()
    return cache


def _guest_folder(done: subprocess.CompletedProcess) -> Path:
    """Where the builder says this version of the guest is (info=.../guest.json)."""
    info = next(line for line in done.stdout.splitlines() if line.startswith("info="))
    return Path(info[len("info="):]).parent


def test_the_test_guest_builds_from_an_empty_cache_then_is_reused(empty_cache):
    script = REPO / "scripts" / "build-test-guest.sh"
    first = _run(script, empty_cache)
    assert first.returncode == 0, first.stderr
    assert "building the test guest" in first.stderr
    guest = _guest_folder(first)
    assert guest.parent == empty_cache / "test-guest"
    info = json.loads((guest / "guest.json").read_text())
    assert (guest / "vmlinuz").read_bytes()[0x202:0x206] == b"HdrS"   # a bzImage
    names = _cpio_names(guest / "initrd.gz")
    assert {"init", "bin/busybox"} <= names
    assert all(f"lib/modules/{m}" in names for m in info["modules"])

    again = _run(script, empty_cache)
    assert again.returncode == 0, again.stderr
    assert "cached guest is current" in again.stderr
    assert "building" not in again.stderr


def test_the_io_initramfs_builds_on_the_guest_from_an_empty_cache(empty_cache):
    first = _run(REPO / "scripts" / "build-test-guest-io.sh", empty_cache)
    assert first.returncode == 0, first.stderr
    initrd = Path(first.stdout.strip().splitlines()[-1])
    assert initrd.name == "initrd.gz" and initrd.parent.parent == empty_cache / "test-guest-io"
    names = _cpio_names(initrd)
    assert "init" in names                                 # the base guest's archive
    assert any(n.endswith("virtio_blk.ko") for n in names)  # and the appended drivers
    again = _run(REPO / "scripts" / "build-test-guest-io.sh", empty_cache)
    assert "cached I/O initramfs is current" in again.stderr


def test_the_test_iso_builds_from_an_empty_cache_and_osinfo_calls_it_debian(empty_cache):
    """New VM's bootable test disc: BIOS and UEFI boot records, a hybrid MBR, the
    guest's kernel and an initramfs with the CD drivers, Debian 11's volume ID."""
    from connectors.libvirt import iso9660, osinfo

    script = REPO / "scripts" / "build-test-iso.sh"
    first = _run(script, empty_cache)
    assert first.returncode == 0, first.stderr
    assert "building the test ISO" in first.stderr
    facts = dict(line.split("=", 1) for line in first.stdout.splitlines() if "=" in line)
    iso = Path(facts["iso"])
    assert iso == empty_cache / "test-iso" / "test.iso"
    disc = iso9660.read_local(str(iso))
    assert disc.label.volume_id == "Debian 11.0.0 amd64 n" and disc.bootable and disc.hybrid
    assert osinfo.load_default().identify_disc(disc.label).short_id == "debian11"
    listing = subprocess.run(["xorriso", "-indev", str(iso), "-report_el_torito", "plain"],
                             capture_output=True, text=True).stdout
    assert "BIOS" in listing and "UEFI" in listing
    names = _cpio_names(Path(facts["initrd"]))
    assert "init" in names and any(n.endswith("sr_mod.ko") for n in names)
    assert any(n.endswith("isofs.ko") for n in names)
    again = _run(script, empty_cache)
    assert again.returncode == 0 and "cached test ISO is current" in again.stderr


def _copy_scripts(tmp_path: Path) -> Path:
    """A copy of the repository's scripts/ that a test may change."""
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "scripts", repo / "scripts")
    return repo


def test_a_changed_guest_builder_rebuilds_the_guest_beside_the_old_one(empty_cache,
                                                                         tmp_path):
    """A changed builder (or init script) builds its own folder: the old version stays
    for the checkout that still uses it (branches side by side rebuilt each other's
    guest, and every test run re-probed the accelerator)."""
    repo = _copy_scripts(tmp_path)
    script = repo / "scripts" / "build-test-guest.sh"
    first = _run(script, empty_cache)
    assert first.returncode == 0, first.stderr
    old = _guest_folder(first)
    script.write_text(script.read_text() + "\n# a changed builder\n")
    rebuilt = _run(script, empty_cache)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "building the test guest" in rebuilt.stderr
    new = _guest_folder(rebuilt)
    assert new != old and (old / "initrd.gz").is_file() and (new / "initrd.gz").is_file()
    assert (new / "stamp").read_text() != (old / "stamp").read_text()
    # The original builder finds its own folder again, untouched.
    again = _run(REPO / "scripts" / "build-test-guest.sh", empty_cache)
    assert "cached guest is current" in again.stderr and _guest_folder(again) == old


def _xen_stamps(repo: Path, cache: Path) -> dict[str, str]:
    done = _run(repo / "scripts" / "build-xen-host.sh", cache, "--stamps")
    assert done.returncode == 0, done.stderr
    return dict(line.split("=", 1) for line in done.stdout.split())


def test_the_xen_host_stages_are_keyed_by_the_code_that_builds_them(empty_cache, tmp_path):
    """Building the Xen host takes minutes, so only its keys are compared here; the Xen
    tests' own build then runs the changed stage for real in the same CI run."""
    repo = _copy_scripts(tmp_path)
    script = repo / "scripts" / "build-xen-host.sh"
    original = script.read_text()
    base = _xen_stamps(repo, empty_cache)
    assert _xen_stamps(repo, empty_cache) == base          # stable

    # A comment is not code: no debootstrap for it (the image stage repacks anyway).
    script.write_text(original.replace("# Services must not start inside the chroot.",
                                       "# Services never start inside the chroot."))
    assert _xen_stamps(repo, empty_cache) == base

    # A changed command in the root filesystem stage: that stage and the next rebuild.
    step = 'debootstrap --variant=minbase "$SUITE"'
    assert step in original
    script.write_text(original.replace(step, 'debootstrap --variant=minbase --no-merged-usr "$SUITE"'))
    changed = _xen_stamps(repo, empty_cache)
    assert changed["rootfs"] != base["rootfs"] and changed["extras"] != base["extras"]

    # A changed helper that both stages use changes both keys.
    script.write_text(original.replace("apt-get clean", "apt-get autoclean"))
    helper = _xen_stamps(repo, empty_cache)
    assert helper["rootfs"] != base["rootfs"] and helper["extras"] != base["extras"]

    # An added extra package redoes only stage 1b.
    script.write_text(original.replace("DOM0_EXTRA_PACKAGES=(qemu-system-xen)",
                                       "DOM0_EXTRA_PACKAGES=(qemu-system-xen less)"))
    extra = _xen_stamps(repo, empty_cache)
    assert extra["rootfs"] == base["rootfs"] and extra["extras"] != base["extras"]


def _deb_root_key(repo: Path, cache: Path) -> str:
    done = _run(repo / "scripts" / "build-deb-test-root.sh", cache, "--key")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().removeprefix("key=")


def test_the_debian_test_root_is_keyed_by_its_builder_and_the_packages_depends(empty_cache,
                                                                              tmp_path):
    """The root the .deb is tried in (scripts/build-deb-test-root.sh) holds the package's
    dependencies: a new one in control.in, or a changed builder, makes a new root; its
    cold build runs in tests/integration/test_deb_install.py."""
    repo = _copy_scripts(tmp_path)
    shutil.copytree(REPO / "packaging" / "debian", repo / "packaging" / "debian")
    control = repo / "packaging" / "debian" / "control.in"
    original = control.read_text()
    base = _deb_root_key(repo, empty_cache)
    assert _deb_root_key(repo, empty_cache) == base
    control.write_text(original.replace("Description:", "Homepage: elsewhere\nDescription:"))
    assert _deb_root_key(repo, empty_cache) == base        # not a dependency
    control.write_text(original.replace("python3-lz4,", "python3-lz4, python3-yaml,"))
    assert _deb_root_key(repo, empty_cache) != base
    control.write_text(original)
    script = repo / "scripts" / "build-deb-test-root.sh"
    script.write_text(script.read_text().replace("libglib2.0-bin)", "libglib2.0-bin less)"))
    assert _deb_root_key(repo, empty_cache) != base
