"""What the host offers, read from the host's own daemon: the real libvirtd here (with
OVMF and swtpm installed by scripts/setup.sh), libvirt's test driver, and the answers of
hosts that lack them (their XML as libvirt 9.0 writes it when OVMF or swtpm is absent)."""
from __future__ import annotations

import pytest

from connectors.libvirt import capabilities as caps

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def conn(libvirt_uri):
    import libvirt
    connection = libvirt.open(libvirt_uri)
    yield connection
    connection.close()


def test_the_local_hosts_qemu_offers_uefi_secure_boot_and_a_tpm_on_q35(conn):
    q35 = caps.read_domain_capabilities(conn, "x86_64", "qemu", "q35")
    assert q35.domain_type == "qemu" and q35.arch == "x86_64" and "q35" in q35.machine
    assert q35.uefi() and q35.secure_boot() and q35.tpm("2.0")
    assert any("OVMF" in loader for loader in q35.loaders)
    assert {"vnc", "spice"} <= set(q35.graphics_types)
    assert {"virtio", "qxl", "vga"} <= set(q35.video_models)
    assert {"virtio", "sata"} <= set(q35.disk_buses) and "cdrom" in q35.disk_devices
    assert q35.vcpus(2) and not q35.vcpus(q35.max_vcpus + 1)
    assert "qemu64" in q35.cpu_models


def test_tcg_explains_that_host_passthrough_needs_kvm(conn):
    tcg = caps.read_domain_capabilities(conn, "x86_64", "qemu", None)
    offer = tcg.cpu_mode("host-passthrough")
    assert not offer and "needs KVM" in offer.reason
    assert tcg.cpu_mode("host-model")


def test_the_local_host_lists_guests_pool_types_and_the_daemons_version(conn):
    host = caps.read_host_capabilities(conn)
    assert host.libvirt_version == conn.getLibVersion() >= 9_000_000
    assert host.host_arch == "x86_64"
    assert "qemu" in host.domain_types("hvm")
    assert host.domain_types("hvm")[-1] == "qemu", "the emulator is the slowest choice"
    assert any("q35" in m for m in host.guest("hvm", "x86_64").machines)
    assert host.pool_type("dir") and host.pool_type("fs")
    assert host.libvirt_version_text == caps.version_text(conn.getLibVersion())


def test_external_snapshot_revert_follows_the_daemons_version(conn):
    host = caps.read_host_capabilities(conn)
    offer = host.external_snapshot_revert()
    if host.libvirt_version >= 9_009_000:
        assert offer
    else:
        assert not offer
        assert "libvirt 9.9 or later" in offer.reason and host.libvirt_version_text in offer.reason


def test_the_test_driver_answers_too():
    """libvirt's test driver (the demo lab) has capabilities of its own."""
    import libvirt
    conn = libvirt.open("test:///default")
    try:
        host = caps.read_host_capabilities(conn)
        assert host.guests and host.libvirt_version > 0
    finally:
        conn.close()


NO_FIRMWARE_NO_SWTPM = """<domainCapabilities>
  <path>/usr/bin/qemu-system-x86_64</path><domain>kvm</domain>
  <machine>pc-q35-7.2</machine><arch>x86_64</arch><vcpu max='288'/>
  <os supported='yes'><enum name='firmware'/>
    <loader supported='yes'><enum name='type'><value>rom</value><value>pflash</value></enum>
      <enum name='secure'><value>no</value></enum></loader></os>
  <cpu><mode name='host-passthrough' supported='yes'/></cpu>
  <devices><tpm supported='yes'>
    <enum name='model'><value>tpm-tis</value><value>tpm-crb</value></enum>
    <enum name='backendModel'><value>passthrough</value></enum></tpm></devices>
</domainCapabilities>"""


def test_a_host_without_ovmf_or_swtpm_says_what_to_install():
    host = caps.parse_domain_capabilities(NO_FIRMWARE_NO_SWTPM)
    uefi, secure, tpm = host.uefi(), host.secure_boot(), host.tpm()
    assert not uefi and "install OVMF there" in uefi.reason
    assert not secure and secure.reason == uefi.reason
    assert not tpm and "install swtpm there" in tpm.reason
    assert host.cpu_mode("host-passthrough")
    assert not host.graphics("spice") and "no SPICE display" in host.graphics("spice").reason


def test_an_older_daemon_without_pool_capabilities_says_so():
    host = caps.parse_host_capabilities("<capabilities><host><cpu><arch>x86_64</arch></cpu>"
                                        "</host></capabilities>", 6_000_000, 0, None)
    offer = host.pool_type("dir")
    assert not offer and "6.0.0" in offer.reason
    assert not host.external_snapshot_revert()
