"""New VM's refusals and clean-ups against the real libvirtd, and the cloud-init seed read
back by another tool (xorriso). None of these boots a guest, but the UEFI and TPM one
starts QEMU with OVMF and swtpm.

Bad input says a sentence and leaves nothing behind: a name that exists, more memory
than the host has, a file that is no ISO or no boot disc, a URL that answers 404, a
pool too small (a dir pool on an 8 MiB tmpfs), and a cancel in the middle of an upload.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from app.new_vm.plan import VmPlan
from app.new_vm.session import NewVmSession
from app.new_vm.validation import resources_problems, source_problems, summary_problems
from connectors.libvirt import cloudinit, domxml, host_facts, install_tree, osinfo
from connectors.libvirt import create_ops as co
from connectors.libvirt.host import LibvirtHost
from tests.conftest import unavailable
from tests.integration.conftest import POOL_NAME, PREFIX, _test_pool
from tests.integration.new_vm_driver import InstallTree, build_test_iso

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def conn(libvirt_uri):
    import libvirt
    connection = libvirt.open(libvirt_uri)
    _test_pool(connection)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def test_iso():
    return build_test_iso()


@pytest.fixture(scope="module")
def facts(conn):
    return host_facts.read_facts(conn)


def _name(what: str) -> str:
    return f"{PREFIX}chk-{what}-{uuid.uuid4().hex[:6]}"


def _leftovers(conn, name: str) -> tuple[list[str], bool]:
    """(volumes of the pool named after the VM, whether the domain exists)."""
    import libvirt
    pool = conn.storagePoolLookupByName(POOL_NAME)
    pool.refresh(0)
    volumes = [v for v in pool.listVolumes() if v.startswith(name)]
    try:
        conn.lookupByName(name)
        exists = True
    except libvirt.libvirtError:
        exists = False
    return volumes, exists


def _spec(name: str, **changes) -> co.CreateSpec:
    values = dict(name=name, source=co.Source.PXE, domain_type="qemu", memory_mib=128,
                  vcpus=1, disk=co.NewDisk(POOL_NAME, 64 << 20), network=None,
                  start=False, video="vga")
    values.update(changes)
    return co.CreateSpec(**values)


def test_a_name_that_exists_is_refused_and_nothing_is_made(conn, facts, marker_vm):
    plan = VmPlan(name=marker_vm)
    assert summary_problems(plan, host_facts.read_facts(conn)) == [
        f"A VM named {marker_vm} already exists on this host."]
    with pytest.raises(co.CreateFailed, match=f"A VM named {marker_vm} already exists"):
        co.create_domain(conn, _spec(marker_vm), co.CreateJob())
    volumes, _ = _leftovers(conn, marker_vm)
    assert volumes == []


def test_memory_above_the_hosts_is_refused_in_words(facts):
    plan = VmPlan(domain_type="qemu", memory_mib=facts.total_memory_kib // 1024 + 1024,
                  vcpus=1, cores=1)
    problems = resources_problems(plan, facts)
    assert problems and problems[0].startswith("This host has ") and \
        "of memory in all; the VM cannot have" in problems[0]


def test_no_iso_and_no_boot_disc_are_said_for_files_here_and_in_a_pool(conn, facts,
                                                                       tmp_path, aloop):
    host = LibvirtHost("qemu:///system", lambda _e: None)
    aloop.run_until_complete(host.connect())
    session = NewVmSession(host, None, "localhost")
    aloop.run_until_complete(session.load())
    junk = tmp_path / "junk.iso"
    junk.write_bytes(os.urandom(64 * 1024))
    seed = tmp_path / "seed.iso"
    cloudinit.build_seed(cloudinit.CloudInitConfig("h", "u", "p"), str(seed))
    pool = conn.storagePoolLookupByName(POOL_NAME)
    name = f"{_name('seed')}.iso"
    vol = pool.createXML(f"<volume><name>{name}</name><capacity>{seed.stat().st_size}"
                         "</capacity><target><format type='raw'/></target></volume>", 0)
    try:
        from connectors.libvirt.transfer import TransferJob, upload
        upload(conn, vol, seed, TransferJob())
        for plan in (VmPlan(from_local=True, local_path=str(junk), upload_pool=POOL_NAME),
                     VmPlan(from_local=True, local_path=str(seed), upload_pool=POOL_NAME),
                     VmPlan(volume=co.VolumeRef(POOL_NAME, name))):
            aloop.run_until_complete(session.check_media(plan))
            problems = source_problems(plan, session.facts)
            if plan.local_path.endswith("junk.iso"):
                assert problems[0].endswith("is not an ISO 9660 image (no CD001 volume "
                                            "descriptor): pick an installation disc image "
                                            "(.iso).")
            else:
                assert problems == ["This ISO image is not bootable (it has no El Torito "
                                    "boot record): choose an installation disc."]
    finally:
        vol.delete(0)
        aloop.run_until_complete(host.disconnect())


def test_a_url_that_answers_404_is_said_and_a_failed_fetch_leaves_nothing(conn, test_iso,
                                                                          tmp_path):
    tree = InstallTree(tmp_path, test_iso)
    try:
        with pytest.raises(install_tree.TreeError, match="HTTP 404"):
            install_tree.probe(f"{tree.base}/no/such/tree/", osinfo.load_default())
        name = _name("404")
        spec = _spec(name, source=co.Source.URL, start=True, work_pool=POOL_NAME,
                     kernel_url=f"{tree.base}/gone/vmlinuz",
                     initrd_url=f"{tree.base}/gone/initrd.gz")
        with pytest.raises(co.CreateFailed, match="HTTP 404 File not found"):
            co.create_domain(conn, spec, co.CreateJob())
        assert _leftovers(conn, name) == ([], False)
    finally:
        tree.close()


@pytest.fixture
def tiny_pool(conn):
    """A dir pool on an 8 MiB tmpfs: full after a few MiB."""
    import libvirt
    if os.geteuid() != 0:
        unavailable("mounting a tmpfs needs root")
    path = Path(f"/var/lib/hvconsole-test/tiny-{uuid.uuid4().hex[:6]}")
    path.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0755", "tmpfs", str(path)],
                   check=True)
    name = f"{PREFIX}tiny-{path.name[-6:]}"
    pool = conn.storagePoolCreateXML(f"<pool type='dir'><name>{name}</name><target>"
                                     f"<path>{path}</path></target></pool>", 0)
    try:
        yield name, path
    finally:
        try:
            pool.destroy()
        except libvirt.libvirtError:
            pass
        subprocess.run(["umount", str(path)], check=False)
        path.rmdir()


def test_a_full_pool_is_refused_before_and_a_failed_upload_leaves_nothing(conn, test_iso,
                                                                          tiny_pool):
    pool_name, path = tiny_pool
    facts = host_facts.read_facts(conn)
    plan = VmPlan(from_local=True, local_path=str(test_iso.iso), upload_pool=pool_name)
    problems = source_problems(plan, facts)
    assert problems and problems[0].startswith(f"The storage pool {pool_name} has ") and \
        "the ISO needs" in problems[0]
    name = _name("full")
    spec = _spec(name, source=co.Source.ISO, disk=None,
                 iso=co.Upload(str(test_iso.iso), pool_name, f"{name}.iso"))
    with pytest.raises(co.CreateFailed) as failed:
        co.create_domain(conn, spec, co.CreateJob())
    assert f"Uploading test.iso to the pool {pool_name} failed" in str(failed.value)
    assert list(path.iterdir()) == [], "the half-uploaded volume is gone"
    assert _leftovers(conn, name)[1] is False


def test_a_cancel_during_the_upload_leaves_nothing(conn, tmp_path):
    name = _name("cancel")
    big = tmp_path / "big.img"
    with open(big, "wb") as out:
        for _ in range(96):
            out.write(os.urandom(1 << 20))
    spec = _spec(name, source=co.Source.IMPORT, disk=None, image_format="raw",
                 image=co.Upload(str(big), POOL_NAME, f"{name}.img"))
    job = co.CreateJob()

    def cancel_mid_way() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            current = job._transfer
            if current is not None and current.done >= 4 << 20:
                job.cancel()
                return
            time.sleep(0.002)

    watcher = threading.Thread(target=cancel_mid_way, daemon=True)
    watcher.start()
    with pytest.raises(co.CreateCancelled, match="nothing was left behind"):
        co.create_domain(conn, spec, job)
    watcher.join()
    assert job.made, "the upload had begun"
    assert _leftovers(conn, name) == ([], False)


def test_the_cloud_init_seed_is_nocloud_as_another_tool_reads_it(tmp_path):
    if shutil.which("xorriso") is None:
        unavailable("xorriso is missing: run scripts/setup.sh")
    cfg = cloudinit.CloudInitConfig("web-7", "alice", "s3cret",
                                    ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHVD alice@test",),
                                    instance_id="iid-web-7")
    seed = tmp_path / "seed.iso"
    cloudinit.build_seed(cfg, str(seed))
    pvd = subprocess.run(["xorriso", "-indev", str(seed), "-pvd_info"], capture_output=True,
                         text=True, check=True).stdout
    assert "Volume Id    : cidata" in pvd
    out = tmp_path / "out"
    subprocess.run(["xorriso", "-osirrox", "on", "-indev", str(seed), "-extract", "/",
                    str(out)], capture_output=True, check=True)
    assert sorted(p.name for p in out.iterdir()) == ["meta-data", "user-data"]
    meta = (out / "meta-data").read_text()
    assert meta == 'instance-id: "iid-web-7"\nlocal-hostname: "web-7"\n'
    user = (out / "user-data").read_text()
    assert user.startswith("#cloud-config\n")
    assert '  - name: "alice"' in user and "ssh_pwauth: true" in user
    assert '      - "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHVD alice@test"' in user
    assert "s3cret" not in user and '    passwd: "$6$' in user      # hashed, never plain
    import crypt  # noqa: PLC0415 - the hash is checked the way login checks it
    hashed = user.split('passwd: "', 1)[1].split('"', 1)[0]
    assert crypt.crypt("s3cret", hashed) == hashed


def test_bios_is_the_default_where_the_os_wants_it_and_uefi_where_it_must():
    db = osinfo.load_default()
    assert db.defaults(db.get("debian11")).firmware == "bios"
    assert db.defaults(db.get("win11")).firmware == "efi"


@pytest.mark.slow
def test_a_uefi_vm_with_secure_boot_and_a_tpm_is_defined_and_starts(conn):
    import libvirt
    name = _name("uefi")
    spec = _spec(name, firmware="efi", secure_boot=True, tpm=True, start=True,
                 machine="q35", disk=co.NewDisk(POOL_NAME, 64 << 20))
    job = co.CreateJob()
    key = co.create_domain(conn, spec, job)
    dom = conn.lookupByUUIDString(key)
    try:
        assert dom.isActive()
        live = domxml.parse(dom.XMLDesc(0))
        assert "OVMF" in (live.os.loader or "") and live.os.loader_secure
        assert live.os.nvram and os.path.exists(live.os.nvram)
        tpm = live.devices_of(domxml.Tpm)[0]
        assert (tpm.backend_type, tpm.version) == ("emulator", "2.0")
    finally:
        try:
            dom.destroy()
        except libvirt.libvirtError:
            pass
        dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
        for path in job.made:
            try:
                conn.storageVolLookupByPath(path).delete(0)
            except libvirt.libvirtError:
                pass


def test_preview_xml_is_what_libvirt_accepts(conn):
    """Show XML's definition, defined as it is, then removed again."""
    spec = _spec(_name("xml"), source=co.Source.ISO, iso=co.VolumeRef(POOL_NAME, "x.iso"))
    text = co.preview_xml(spec, {POOL_NAME: "/var/lib/hvconsole-test/pool"})
    dom = conn.defineXML(text)
    try:
        defined = domxml.parse(dom.XMLDesc(0))
        assert [d.device for d in defined.disks] == ["disk", "cdrom"]
    finally:
        dom.undefine()



def test_show_domain_creator_saves_the_wizard_and_says_whether_it_read_the_host(
        libvirt_uri, tmp_path):
    """`hvconsole --connect URI --show-domain-creator --screenshot FILE`, as a script
    runs it: the wizard's first page with the host's pools in it, exit 0; a host that
    cannot be reached: the window, exit 1 and the reason on stderr."""
    from PySide6.QtGui import QImage

    from tests.integration.test_scripted_runs import _hvconsole

    shot = tmp_path / "wizard.png"
    done = _hvconsole(["--connect", libvirt_uri, "--show-domain-creator",
                       "--screenshot", str(shot)], tmp_path)
    assert done.returncode == 0, done.stderr
    image = QImage(str(shot))
    assert image.width() >= 700 and image.height() >= 600        # the wizard, not a window
    assert len({image.pixel(x, y) for x in range(0, image.width(), 9)
                for y in range(0, image.height(), 9)}) > 20
    bad = _hvconsole(["--connect", "qemu+unix:///system?socket=/nonexistent/sock",
                      "--show-domain-creator", "--screenshot", str(tmp_path / "bad.png")],
                     tmp_path)
    assert bad.returncode == 1 and "not connected" in bad.stderr
