"""The migration pre-check: what stops a move, said in words, from facts of both hosts.

Pure functions over the domain XML model and plain facts: each rule is shown refusing
what it must and letting through what it may (tests/integration/test_migration.py runs
the same check against two real libvirtd hosts).
"""
from __future__ import annotations

from dataclasses import replace

import pytest

from connectors.libvirt import domxml
from connectors.libvirt.migration import MigrationOptions
from connectors.libvirt.migration_check import (CpuVerdict, DiskFacts, HostFacts, PoolFacts,
                                                VMFacts, blocking, check)
from connectors.libvirt.model import VMState

UUID = "11111111-2222-3333-4444-555555555555"
GIB = 1 << 30


def domain_xml(devices: str = "", cpu: str = "", kind: str = "kvm") -> str:
    return f"""<domain type='{kind}'>
  <name>web-01</name><uuid>{UUID}</uuid>
  <memory unit='MiB'>1024</memory>
  <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>
  {cpu}
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
      <source file='/var/lib/libvirt/images/web-01.qcow2'/><target dev='vda' bus='virtio'/>
    </disk>
    {devices}
  </devices>
</domain>"""


LOCAL_POOL = PoolFacts("default", "dir", True, 50 * GIB, "/var/lib/libvirt/images")
NFS_POOL = PoolFacts("shared", "netfs", True, 500 * GIB, "/srv/vms")
DISK = DiskFacts("vda", path="/var/lib/libvirt/images/web-01.qcow2", capacity=10 * GIB,
                 allocation=2 * GIB, source_pool=LOCAL_POOL)


def vm(devices: str = "", *, state: VMState = VMState.RUNNING, disks=(DISK,), cpu=None,
       **more) -> VMFacts:
    return VMFacts(uuid=UUID, name="web-01", state=state,
                   definition=domxml.parse(domain_xml(devices)), memory_kib=1024 * 1024,
                   disks=tuple(disks), cpu=cpu or CpuVerdict(True), **more)


SOURCE = HostFacts(name="kvm1", uuid="aaaa", driver="QEMU", arch="x86_64",
                   domain_types=("kvm", "qemu"), available_memory_kib=8 << 20,
                   networks=frozenset({"default"}), pools=(LOCAL_POOL,))
DEST = HostFacts(name="kvm2", uuid="bbbb", driver="QEMU", arch="x86_64",
                 domain_types=("kvm", "qemu"), available_memory_kib=8 << 20,
                 networks=frozenset({"default"}), pools=(LOCAL_POOL,),
                 domains=(("db-01", "9999", True),))
COPY = MigrationOptions(copy_storage=(("vda", "default"),))


def reasons(problems) -> list[str]:
    return [p.reason for p in blocking(problems)]


def test_a_running_vm_with_its_disk_copied_moves():
    assert check(vm(), SOURCE, DEST, COPY) == []


def test_a_local_disk_without_a_copy_is_refused_in_words():
    found = reasons(check(vm(), SOURCE, DEST, MigrationOptions()))
    assert found == ["Disk vda (/var/lib/libvirt/images/web-01.qcow2) is in default, a dir "
                     "pool of this host, not on storage kvm2 shares: choose to copy the "
                     "storage, or move the disk to shared storage first."]


def test_a_disk_on_shared_storage_both_hosts_have_needs_no_copy():
    shared = replace(DISK, path="/srv/vms/web-01.qcow2", source_pool=NFS_POOL,
                     dest_pool=NFS_POOL)
    assert vm(disks=[shared]).local_disks() == []
    assert check(vm(disks=[shared]), SOURCE, DEST, MigrationOptions()) == []
    # NFS the destination has not mounted as a pool is not shared with it.
    alone = replace(shared, dest_pool=None)
    assert vm(disks=[alone]).local_disks() == [alone]


def test_a_file_at_the_same_path_on_a_local_folder_is_still_copied():
    """libvirt refuses to run one image from two hosts' local file systems."""
    same_path = replace(DISK, dest_pool=LOCAL_POOL)
    assert vm(disks=[same_path]).local_disks() == [same_path]


def test_network_disks_and_cdroms_are_not_copied():
    rbd = DiskFacts("vdb", source_type="network", path="pool/image")
    iso = DiskFacts("sda", device="cdrom", path="/isos/debian.iso", readonly=True)
    facts = vm(disks=[DISK, rbd, iso])
    assert facts.local_disks() == [DISK]
    problems = check(facts, SOURCE, DEST, COPY)
    assert reasons(problems) == []
    assert [p.reason for p in problems] == [
        "Disk sda (/isos/debian.iso) is not copied (read-only): kvm2 must have the same "
        "file at the same path."]


def test_the_chosen_pool_must_exist_be_active_and_have_room():
    options = MigrationOptions(copy_storage=(("vda", "fast"),))
    assert reasons(check(vm(), SOURCE, DEST, options)) == [
        "kvm2 has no active storage pool fast for Disk vda "
        "(/var/lib/libvirt/images/web-01.qcow2)."]
    small = replace(DEST, pools=(replace(LOCAL_POOL, available=1 * GIB),))
    assert reasons(check(vm(), SOURCE, small, COPY)) == [
        "default on kvm2 has 1.0 GiB free; the disks copied there need 2.0 GiB."]


def test_a_name_taken_on_the_destination_is_refused():
    taken = replace(DEST, domains=(("web-01", "other-uuid", False),))
    assert reasons(check(vm(), SOURCE, taken, COPY)) == [
        "kvm2 already has a VM named web-01; rename one of them first."]
    # Its own definition left there (keep-on-source earlier) is replaced, not a clash.
    left = replace(DEST, domains=(("web-01", UUID, False),))
    assert check(vm(), SOURCE, left, COPY) == []
    running = replace(DEST, domains=(("web-01", UUID, True),))
    assert reasons(check(vm(), SOURCE, running, COPY)) == ["kvm2 already runs web-01 (the "
                                                           "same VM)."]


def test_an_incompatible_cpu_says_what_is_missing_and_what_both_run():
    cpu = CpuVerdict(False, "Host CPU does not provide required features: avx512f",
                     "Skylake-Client")
    assert reasons(check(vm(cpu=cpu), SOURCE, DEST, COPY)) == [
        "kvm2's CPU cannot run web-01's CPU: Host CPU does not provide required features: "
        "avx512f. Both hosts run the CPU model Skylake-Client: give the VM that model (and "
        "restart it) to move it live."]
    # A shut-off VM is not checked: it boots with whatever the destination has.
    off = vm(cpu=cpu, state=VMState.SHUTOFF)
    assert check(off, SOURCE, DEST, replace(COPY, live=False)) == []


def test_devices_that_cannot_move():
    hostdev = ("<hostdev mode='subsystem' type='pci' managed='yes'><source>"
               "<address domain='0' bus='3' slot='0' function='0'/></source></hostdev>")
    fs = ("<filesystem type='mount'><driver type='virtiofs'/><source dir='/srv/share'/>"
          "<target dir='share'/></filesystem>")
    found = reasons(check(vm(hostdev + fs), SOURCE, DEST, COPY))
    assert found == [
        "A PCI device of this host is passed through to web-01; detach it before moving "
        "the VM.",
        "web-01 shares the host folder /srv/share with the guest, which cannot move while "
        "it runs."]


def test_a_network_the_destination_lacks():
    nic = ("<interface type='network'><mac address='52:54:00:aa:bb:cc'/>"
           "<source network='lab'/></interface>")
    assert reasons(check(vm(nic), SOURCE, DEST, COPY)) == [
        "web-01's network card 52:54:00:aa:bb:cc is on the network lab, which kvm2 does "
        "not have (or has not started)."]


def test_hosts_that_cannot_take_it():
    same = replace(DEST, uuid="aaaa")
    assert reasons(check(vm(), SOURCE, same, COPY)) == [
        "kvm1 and kvm2 are the same machine (the same host UUID): there is nothing to "
        "move."]
    xen = replace(DEST, driver="Xen")
    assert reasons(check(vm(), SOURCE, xen, COPY)) == [
        "kvm2 runs Xen, not QEMU: a VM moves only between hosts of the same hypervisor."]
    no_kvm = replace(DEST, domain_types=("qemu",))
    assert reasons(check(vm(), SOURCE, no_kvm, COPY)) == [
        "web-01 runs under KVM; kvm2 offers only QEMU for x86_64 guests."]


def test_memory_on_the_destination():
    tight = replace(DEST, available_memory_kib=512 * 1024)
    assert reasons(check(vm(), SOURCE, tight, COPY)) == [
        "web-01 uses 1.0 GiB of memory; kvm2 has 512 MiB available."]


@pytest.mark.parametrize("state, managed_save, snapshots, expected", [
    (VMState.SUSPENDED, True, 0, "web-01 is suspended (its memory is saved on this host): "
                                 "resume it, or shut it down, before moving it."),
    (VMState.CRASHED, False, 0, "web-01 is crashed: only a running, paused or shut-off VM "
                                "can move."),
    (VMState.RUNNING, False, 2, "web-01 has 2 snapshots; libvirt moves no snapshots: "
                                "delete them (or keep the VM here)."),
])
def test_states_that_cannot_move(state, managed_save, snapshots, expected):
    facts = vm(state=state, managed_save=managed_save, snapshots=snapshots)
    live = state in (VMState.RUNNING, VMState.PAUSED)
    assert reasons(check(facts, SOURCE, DEST, replace(COPY, live=live)))[0] == expected


def test_options_that_do_not_fit():
    tunnel = replace(COPY, tunnelled=True, peer_uri="qemu+ssh://kvm2/system")
    assert reasons(check(vm(), SOURCE, DEST, tunnel)) == [
        "libvirt cannot copy storage through a tunnelled migration here: choose one of "
        "the two."]
    no_uri = MigrationOptions(tunnelled=True)
    shared = replace(DISK, source_pool=NFS_POOL, dest_pool=NFS_POOL)
    assert reasons(check(vm(disks=[shared]), SOURCE, DEST, no_uri)) == [
        "A tunnelled migration needs the address the source's libvirtd opens to reach "
        "the destination."]
    offline_for_running = replace(COPY, live=False)
    assert reasons(check(vm(), SOURCE, DEST, offline_for_running)) == [
        "web-01 is running: an offline migration does not apply."]


def test_copy_targets_are_active_pools_with_most_room_first():
    pools = (PoolFacts("small", "dir", True, GIB), PoolFacts("big", "dir", True, 9 * GIB),
             PoolFacts("off", "dir", False, 99 * GIB), PoolFacts("iso", "iscsi", True, GIB))
    assert [p.name for p in replace(DEST, pools=pools).copy_targets()] == ["big", "small"]


def test_what_the_source_needs_to_open_the_destination_itself():
    from connectors.libvirt.migration_check import peer_access
    ssh = peer_access("qemu+ssh://kvm1/system", "qemu+ssh://admin@kvm2/system", "kvm1",
                      "kvm2")
    assert not ssh.blocking
    assert ssh.reason == (
        "kvm1's libvirtd opens qemu+ssh://admin@kvm2/system itself, over SSH as admin: root "
        "on kvm1 needs an SSH key that kvm2 accepts, and kvm2's host key in its known_hosts "
        "(a keyfile= in the URI names a file on kvm1, not on this computer).")
    tls = peer_access("qemu+tls://kvm1/system", "qemu+tls://kvm2/system", "kvm1", "kvm2")
    assert "client certificate" in tls.reason and not tls.blocking
    # HVConsole's "qemu:///system" is the source's own daemon from where the source is.
    remote = peer_access("qemu+ssh://kvm1/system", "qemu:///system", "kvm1", "this host")
    assert remote.blocking
    assert remote.reason.startswith("qemu:///system names no host: kvm1's libvirtd would "
                                    "open itself.")
    both_here = peer_access("qemu:///system",
                            "qemu+unix:///system?socket=/run/peer/libvirt-sock", "a", "b")
    assert not both_here.blocking
