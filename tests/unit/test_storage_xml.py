"""Pool and volume XML builders: what the host is sent, and the sentences that stop bad
input before it is sent."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from connectors.libvirt.model import DiskInfo, VMInfo, VMState
from connectors.libvirt.storage_xml import (PoolSpec, VolumeSpec, parse_pool, parse_sources,
                                            source_query_xml)
from connectors.libvirt.volume_usage import VolumeUsage, in_use_sentence

MIB = 1 << 20


def test_each_pool_type_writes_what_libvirt_reads_back():
    specs = {
        "dir": PoolSpec("images", "dir", target_path="/srv/images"),
        "fs": PoolSpec("fast", "fs", target_path="/mnt/fast", source_device="/dev/sdb1",
                       source_format="ext4"),
        "netfs": PoolSpec("nas", "netfs", target_path="/mnt/nas", source_host="nas.lan",
                          source_dir="/export/vms"),
        "logical": PoolSpec("vg", "logical", source_device="/dev/sdc", source_name="vmvg"),
        "iscsi": PoolSpec("san", "iscsi", source_host="10.0.0.9",
                          target_iqn="iqn.2026-01.lan.san:disks"),
        "iscsi-direct": PoolSpec("san2", "iscsi-direct", source_host="10.0.0.9",
                                 source_port=3261, target_iqn="iqn.2026-01.lan.san:disks",
                                 initiator_iqn="iqn.2026-01.org.hvconsole:me"),
    }
    for kind, spec in specs.items():
        assert spec.problems() == [], kind
        details = parse_pool(spec.pool_xml())
        assert details.type == kind
    assert parse_pool(specs["netfs"].pool_xml()).source_text == "nas.lan:/export/vms"
    assert parse_pool(specs["fs"].pool_xml()).source_format == "ext4"
    assert parse_pool(specs["logical"].pool_xml()).target_path == "/dev/vmvg"
    root = ET.fromstring(specs["iscsi-direct"].pool_xml())
    assert root.find("source/host").get("port") == "3261"
    assert root.find("source/initiator/iqn").get("name") == "iqn.2026-01.org.hvconsole:me"
    assert root.find("target") is None, "iscsi-direct has no target path on the host"


@pytest.mark.parametrize("spec, words", [
    (PoolSpec("", "dir", target_path="/x"), "needs a name"),
    (PoolSpec("a/b", "dir", target_path="/x"), "may only hold"),
    (PoolSpec("p", "dir", target_path="relative"), "absolute path"),
    (PoolSpec("p", "fs", target_path="/mnt/p", source_device="sdb"), "block device"),
    (PoolSpec("p", "netfs", target_path="/mnt/p", source_dir="/e"), "Name the server"),
    (PoolSpec("p", "netfs", target_path="/mnt/p", source_host="nas"), "exported directory"),
    (PoolSpec("p", "iscsi", source_host="h", target_iqn="disks"), "must be an IQN"),
    (PoolSpec("p", "iscsi-direct", source_host="h", target_iqn="iqn.2026-01.a:b"),
     "needs a name of its own"),
    (PoolSpec("p", "zfs"), "does not know the pool type"),
])
def test_bad_pool_input_is_a_sentence(spec, words):
    problems = spec.problems()
    assert problems and any(words in p for p in problems), problems
    assert all(p.endswith(".") for p in problems)


def test_volume_xml_follows_preallocation_and_backing():
    sparse = ET.fromstring(VolumeSpec("a.qcow2", 10 * MIB).volume_xml())
    assert sparse.findtext("allocation") == "0"
    assert sparse.find("target/format").get("type") == "qcow2"
    full = ET.fromstring(VolumeSpec("b.raw", 10 * MIB, "raw", "full").volume_xml())
    assert full.findtext("allocation") == str(10 * MIB)
    assert VolumeSpec("c.qcow2", MIB, preallocation="metadata").prealloc_flag_needed
    assert not VolumeSpec("d.raw", MIB, "raw").prealloc_flag_needed
    overlay = ET.fromstring(VolumeSpec("e.qcow2", MIB, backing_path="/b/base.qcow2",
                                       backing_format="qcow2").volume_xml())
    assert overlay.findtext("backingStore/path") == "/b/base.qcow2"
    lvm = ET.fromstring(VolumeSpec("lv", MIB, "").volume_xml())
    assert lvm.find("target") is None


@pytest.mark.parametrize("spec, pool_type, free, words", [
    (VolumeSpec("x", 0), "dir", None, "size above zero"),
    (VolumeSpec("x", MIB, "vmdk"), "dir", None, "format must be"),
    (VolumeSpec("x", MIB, "raw", "metadata"), "dir", None, "Only qcow2 volumes"),
    (VolumeSpec("x", MIB, "raw", backing_path="/b"), "dir", None, "Only a qcow2"),
    (VolumeSpec("x", 20 * MIB, "raw", "full"), "dir", 10 * MIB, "10 MiB free"),
    (VolumeSpec("x", 20 * MIB, ""), "logical", 10 * MIB, "needs 20 MiB now"),
])
def test_bad_volume_input_is_a_sentence(spec, pool_type, free, words):
    problems = spec.problems(pool_type, free)
    assert any(words in p for p in problems), problems


def test_a_sparse_volume_larger_than_the_free_space_is_allowed():
    """A sparse file takes space as the guest writes: overcommitting is the user's call."""
    assert VolumeSpec("x", 20 * MIB).problems("dir", 10 * MIB) == []


def test_sources_are_read_from_libvirts_answer():
    answer = ("<sources><source><host name='nas'/><dir path='/export/a'/>"
              "<format type='nfs'/></source><source><name>vg0</name>"
              "<device path='/dev/sdb'/></source></sources>")
    first, second = parse_sources(answer)
    assert first.label == "nas:/export/a"
    assert second.label == "vg0"
    assert source_query_xml("logical", "") is None
    assert "port='3261'" in source_query_xml("iscsi", "h", 3261)


def _vm(name, sources, state=VMState.SHUTOFF):
    return VMInfo(key=name, name=name, state=state, state_reason="", domain_type="kvm",
                  os_type="hvm", arch="x86_64", virtualization="", vcpus=1, max_vcpus=1,
                  memory_kib=1024, max_memory_kib=1024, persistent=True, autostart=False,
                  managed_save=False,
                  disks=tuple(DiskInfo(f"vd{chr(97 + i)}", "disk", "virtio", s)
                              for i, s in enumerate(sources)))


def test_volume_users_are_found_by_path_and_by_pool_and_name():
    usage = VolumeUsage([_vm("web", ["/p/web.qcow2"], VMState.RUNNING),
                         _vm("db", ["images/db.qcow2", "/p/shared.iso"]),
                         _vm("app", ["/p/shared.iso"])])
    assert [u.label for u in usage.users("/p/web.qcow2")] == ["web (vda)"]
    assert usage.users("/p/web.qcow2")[0].running
    assert [u.vm for u in usage.users("/p/db.qcow2", "images", "db.qcow2")] == ["db"]
    assert {u.vm for u in usage.users("/p/shared.iso")} == {"db", "app"}
    assert usage.vms_under("/p") == ("app", "db", "web")
    assert usage.users("/p/free.raw", "images", "free.raw") == ()
    sentence = in_use_sentence("shared.iso", usage.users("/p/shared.iso"))
    assert sentence.startswith("db (vdb), app (vda) use shared.iso: ")
