"""How a migration is asked of libvirt (flags, typed parameters, the destination's
definition) and how its job statistics read, from libvirt's own constants and a
dictionary shaped as virDomainGetJobStats returned it on this machine's libvirt 9.0."""
from __future__ import annotations

import libvirt

from connectors.libvirt import domxml
from connectors.libvirt.migration import (DiskCopy, JobProgress, MigrationOptions,
                                          free_volume_name, migration_flags,
                                          migration_params, parse_job_stats,
                                          retarget_disks, wont_converge)

# A reading taken during a live migration with storage copy (libvirt 9.0, QEMU 7.2).
STATS = {'operation': 5, 'time_elapsed': 1569, 'downtime': 150, 'setup_time': 9,
         'data_total': 218701824, 'data_processed': 103003603, 'data_remaining': 115698221,
         'memory_total': 151592960, 'memory_processed': 35894739,
         'memory_remaining': 115698221, 'memory_bps': 80129006, 'memory_constant': 28381,
         'memory_normal': 8684, 'memory_normal_bytes': 35569664, 'memory_dirty_rate': 256,
         'memory_iteration': 3, 'memory_postcopy_requests': 0, 'memory_page_size': 4096,
         'disk_total': 67108864, 'disk_processed': 67108864, 'disk_remaining': 0,
         'type': 2}


def test_live_migration_flags():
    options = MigrationOptions(copy_storage=(("vda", "default"),), auto_converge=True,
                               post_copy=True, tls=True)
    flags = migration_flags(options)
    for flag in (libvirt.VIR_MIGRATE_LIVE, libvirt.VIR_MIGRATE_NON_SHARED_DISK,
                 libvirt.VIR_MIGRATE_AUTO_CONVERGE, libvirt.VIR_MIGRATE_POSTCOPY,
                 libvirt.VIR_MIGRATE_TLS, libvirt.VIR_MIGRATE_PERSIST_DEST,
                 libvirt.VIR_MIGRATE_UNDEFINE_SOURCE):
        assert flags & flag, flag
    assert not flags & (libvirt.VIR_MIGRATE_PEER2PEER | libvirt.VIR_MIGRATE_OFFLINE)


def test_keeping_the_definition_and_transient_vms():
    kept = migration_flags(MigrationOptions(keep_source_definition=True))
    assert kept & libvirt.VIR_MIGRATE_PERSIST_DEST
    assert not kept & libvirt.VIR_MIGRATE_UNDEFINE_SOURCE
    transient = migration_flags(MigrationOptions(persistent=False))
    assert not transient & (libvirt.VIR_MIGRATE_PERSIST_DEST
                            | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE)


def test_offline_moves_the_definition_only():
    flags = migration_flags(MigrationOptions(live=False, auto_converge=True))
    assert flags & libvirt.VIR_MIGRATE_OFFLINE and flags & libvirt.VIR_MIGRATE_PERSIST_DEST
    assert not flags & (libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_AUTO_CONVERGE
                        | libvirt.VIR_MIGRATE_NON_SHARED_DISK)
    params = migration_params(MigrationOptions(live=False, bandwidth_mib_s=5,
                                               copy_storage=(("vda", "p"),)), "<domain/>")
    assert params == {libvirt.VIR_MIGRATE_PARAM_DEST_XML: "<domain/>"}


def test_tunnelled_is_peer_to_peer_and_names_no_stream_address():
    options = MigrationOptions(tunnelled=True, peer_uri="qemu+ssh://kvm2/system",
                               dest_address="10.0.0.2")
    flags = migration_flags(options)
    assert flags & libvirt.VIR_MIGRATE_PEER2PEER and flags & libvirt.VIR_MIGRATE_TUNNELLED
    assert libvirt.VIR_MIGRATE_PARAM_URI not in migration_params(options)


def test_parameters():
    options = MigrationOptions(copy_storage=(("vda", "a"), ("vdb", "b")),
                               bandwidth_mib_s=20, dest_address="fd00::2")
    params = migration_params(options, "<live/>", "<persistent/>")
    assert params == {
        libvirt.VIR_MIGRATE_PARAM_DEST_XML: "<live/>",
        libvirt.VIR_MIGRATE_PARAM_PERSIST_XML: "<persistent/>",
        libvirt.VIR_MIGRATE_PARAM_MIGRATE_DISKS: ["vda", "vdb"],
        libvirt.VIR_MIGRATE_PARAM_BANDWIDTH: 20,
        libvirt.VIR_MIGRATE_PARAM_URI: "tcp://[fd00::2]",
        libvirt.VIR_MIGRATE_PARAM_LISTEN_ADDRESS: "fd00::2",
    }
    assert migration_params(MigrationOptions()) == {}


def test_job_statistics_read_and_worded():
    progress = parse_job_stats(STATS)
    assert progress.active and progress.iteration == 3 and progress.downtime_ms == 150
    assert progress.dirty_rate_bps == 256 * 4096
    assert progress.fraction == (218701824 - 115698221) / 218701824
    assert progress.describe() == ("Memory: 110 MiB left, pass 3, dirtying 1.0 MiB/s, "
                                   "sending 76.4 MiB/s, downtime ≈ 150 ms")
    copying = parse_job_stats({**STATS, "memory_total": 0, "disk_remaining": 48 << 20})
    assert copying.describe() == "Copying disks: 16.0 MiB of 64.0 MiB"
    assert not parse_job_stats({"type": 0}).active
    assert parse_job_stats({"type": 0}).describe() == "Preparing…"
    assert parse_job_stats({"type": 0}).fraction is None


def test_not_converging_means_passes_that_leave_as_much_behind():
    def reading(iteration, remaining):
        return JobProgress(True, memory_total=100, memory_remaining=remaining,
                           iteration=iteration)

    stuck = [reading(i, 50) for i in (1, 2, 3, 3, 4, 4)]
    assert wont_converge(stuck)
    shrinking = [reading(i, r) for i, r in ((1, 90), (2, 80), (3, 60), (3, 40), (4, 20),
                                            (4, 10))]
    assert not wont_converge(shrinking)
    assert not wont_converge(stuck[:5])           # too early to tell
    assert not wont_converge([reading(2, 50)] * 8)  # before the third pass


def test_volume_names_on_the_destination():
    assert free_volume_name({"a.img"}, "web.qcow2") == "web.qcow2"
    assert free_volume_name({"web.qcow2", "web-2.qcow2"}, "web.qcow2") == "web-3.qcow2"
    assert free_volume_name({"disk"}, "disk") == "disk-2"


def test_the_destination_definition_points_at_the_copies():
    dom = domxml.parse("""<domain type='kvm'><name>w</name><devices>
      <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
        <source file='/a/w.qcow2'/><backingStore type='file'><format type='raw'/>
        <source file='/a/base.img'/></backingStore><target dev='vda' bus='virtio'/></disk>
      <disk type='file' device='disk'><driver name='qemu' type='raw'/>
        <source file='/a/data.img'/><target dev='vdb' bus='virtio'/></disk>
    </devices></domain>""")
    retarget_disks(dom, [
        DiskCopy("vda", "/a/w.qcow2", "default", "w.qcow2", "/b/w.qcow2", format="qcow2"),
        DiskCopy("vdb", "/a/data.img", "vg", "data.img", "/dev/vg/data.img", block=True)])
    vda, vdb = dom.disk("vda"), dom.disk("vdb")
    assert (vda.type, vda.source_path, vda.driver_type) == ("file", "/b/w.qcow2", "qcow2")
    assert vda.child("backingStore") is None       # the copy is one flat image
    assert (vdb.type, vdb.source_path) == ("block", "/dev/vg/data.img")
