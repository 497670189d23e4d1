"""Snapshot XML through the domain XML model: what the Snapshots tab reads (kind, memory,
parent, files) and a redefinition (a new description) that leaves the saved definition
exactly as libvirt wrote it. The documents are libvirt 9.0's own output for the test
guest, shortened."""
from __future__ import annotations

import pytest

from connectors.libvirt import domxml

INTERNAL = """<domainsnapshot>
  <name>one</name>
  <description>first</description>
  <state>running</state>
  <creationTime>1796216585</creationTime>
  <memory snapshot='internal'/>
  <disks>
    <disk name='vda' snapshot='internal'/>
    <disk name='hdc' snapshot='no'/>
  </disks>
  <domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
    <name>hvconsole-test-exp6</name>
    <memory unit='KiB'>131072</memory>
    <os>
      <type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>
    </os>
    <qemu:commandline>
      <qemu:env name='HVCONSOLE_TEST' value='1'/>
    </qemu:commandline>
  </domain>
  <active>1</active>
</domainsnapshot>
"""

EXTERNAL = """<domainsnapshot>
  <name>ext1</name>
  <state>disk-snapshot</state>
  <parent>
    <name>two</name>
  </parent>
  <creationTime>1796216630</creationTime>
  <memory snapshot='no'/>
  <disks>
    <disk name='vda' snapshot='external' type='file'>
      <driver type='qcow2'/>
      <source file='/var/lib/hvconsole-test/pool/exp6.ext1'/>
    </disk>
  </disks>
  <domain type='qemu'>
    <name>hvconsole-test-exp6</name>
  </domain>
</domainsnapshot>
"""


def test_an_internal_memory_snapshot_reads_as_such_and_writes_back_unchanged():
    snap = domxml.parse_snapshot(INTERNAL)
    assert (snap.name, snap.description, snap.state, snap.parent) == (
        "one", "first", "running", None)
    assert snap.creation_time == 1796216585
    assert snap.has_memory and snap.is_internal and not snap.is_external
    assert [(d.name, d.snapshot) for d in snap.disks] == [("vda", "internal"),
                                                           ("hdc", "no")]
    assert snap.domain is not None and snap.domain.memory_kib == 131072
    assert snap.to_xml() == INTERNAL


def test_an_external_disk_snapshot_names_its_overlay_and_parent():
    snap = domxml.parse_snapshot(EXTERNAL)
    assert snap.parent == "two" and snap.state == "disk-snapshot"
    assert snap.is_external and not snap.has_memory
    assert snap.disks[0].source_file == "/var/lib/hvconsole-test/pool/exp6.ext1"


def test_a_new_description_changes_that_line_only():
    snap = domxml.parse_snapshot(INTERNAL)
    snap.description = "edited"
    assert snap.to_xml() == INTERNAL.replace("<description>first<", "<description>edited<")
    snap = domxml.parse_snapshot(EXTERNAL)
    snap.description = "added"
    assert "  <name>ext1</name>\n  <description>added</description>\n  <state>" in \
        snap.to_xml()


def test_new_snapshots_say_what_to_do_with_memory_and_each_disk():
    snap = domxml.new_snapshot("s1", "desc", memory="external", memory_file="/p/s1.mem",
                               disks=[domxml.SnapshotDiskPlan("vda", "external"),
                                      domxml.SnapshotDiskPlan("hdc", "no")])
    assert snap.to_xml() == (
        "<domainsnapshot><name>s1</name><description>desc</description>"
        "<memory snapshot='external' file='/p/s1.mem'/><disks>"
        "<disk name='vda' snapshot='external'/><disk name='hdc' snapshot='no'/></disks>"
        "</domainsnapshot>\n")
    with pytest.raises(ValueError):
        domxml.new_snapshot("s", memory="external")
    with pytest.raises(domxml.DomainXMLError):
        domxml.parse_snapshot("<domain/>")


def test_the_guest_os_id_lives_in_libosinfo_metadata():
    dom = domxml.parse("<domain type='kvm'>\n  <name>x</name>\n</domain>")
    assert dom.os_id is None
    dom.set_os_id("http://debian.org/debian/12")
    assert dom.os_id == "http://debian.org/debian/12"
    assert ("<libosinfo:libosinfo xmlns:libosinfo='http://libosinfo.org/xmlns/libvirt/"
            "domain/1.0'>") in dom.to_xml()
    dom.set_os_id(None)
    assert dom.to_xml() == "<domain type='kvm'>\n  <name>x</name>\n</domain>\n"


def test_an_empty_drive_of_a_running_vm_holds_no_media():
    cd = domxml.device_from_xml("<disk type='file' device='cdrom'><driver name='qemu' "
                                "type='raw'/><source index='4'/><target dev='hdc' "
                                "bus='ide'/><readonly/></disk>")
    assert isinstance(cd, domxml.Disk) and not cd.has_media and cd.source_path is None
