"""Random sequences of the changes New VM and Properties make: whatever the sequence, the
document written parses back to the same values and writes again to the same text.

``CHANGES`` is shared with tests/integration/test_domain_xml_libvirtd.py, which has
libvirtd define documents changed this way.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from hypothesis import HealthCheck, given, settings, strategies as st

from connectors.libvirt import domxml
from connectors.libvirt.domxml import Topology

RICH = (Path(__file__).resolve().parent / "data" / "domain_rich_defined.xml").read_text()
FUZZ = settings(max_examples=100, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")) | st.sampled_from(
    "&<>'\"\n\t"), min_size=1, max_size=20).filter(lambda s: s.strip() == s and s)
NAME = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=20)


def rename(dom: domxml.Domain, data: st.DataObject) -> None:
    dom.name = "hvconsole-test-" + data.draw(NAME)


def describe(dom: domxml.Domain, data: st.DataObject) -> None:
    dom.title = data.draw(st.none() | TEXT.filter(lambda s: "\n" not in s))
    dom.description = data.draw(st.none() | TEXT)


def _without_numa(dom: domxml.Domain) -> None:
    """NUMA cells fix the memory and vCPUs they cover (and memory hot-plug needs them):
    the changes below that would contradict them drop both, as a user's would have to."""
    if dom.cpu is not None:
        dom.cpu.drop("numa")
    dom.set_max_memory(None)


def memory(dom: domxml.Domain, data: st.DataObject) -> None:
    _without_numa(dom)
    mib = data.draw(st.integers(64, 1024))
    dom.set_memory(mib * 1024, data.draw(st.integers(32, mib)) * 1024)


def vcpus(dom: domxml.Domain, data: st.DataObject) -> None:
    maximum = data.draw(st.sampled_from([1, 2, 4, 8]))
    dom.set_vcpus(data.draw(st.integers(1, maximum)), maximum)
    _without_numa(dom)
    cpu = dom.ensure_cpu()
    cores = data.draw(st.sampled_from([c for c in (1, 2, 4, 8) if maximum % c == 0]))
    cpu.topology = Topology(sockets=maximum // cores, cores=cores, threads=1)


def cpu_mode(dom: domxml.Domain, data: st.DataObject) -> None:
    mode = data.draw(st.sampled_from(["custom", "host-model", "maximum"]))
    dom.ensure_cpu().set_mode(mode, "qemu64" if mode == "custom" else None)


def boot(dom: domxml.Domain, data: st.DataObject) -> None:
    if data.draw(st.booleans()):
        bootable = [d for d in dom.devices if d.kind in ("disk", "interface")]
        dom.set_boot_order(data.draw(st.permutations(bootable))[:data.draw(st.integers(0, 3))])
    else:
        dom.set_boot_devices(data.draw(st.lists(st.sampled_from(["hd", "cdrom", "network"]),
                                                unique=True, max_size=3)))
    dom.os.bootmenu = data.draw(st.none() | st.booleans())


def add_disk(dom: domxml.Domain, data: st.DataObject) -> None:
    bus = data.draw(st.sampled_from(["virtio", "sata", "scsi"]))
    dom.add_device(domxml.new_disk(domxml.next_target(dom, bus), bus=bus,
                                   file=f"/var/lib/hvconsole-test/pool/{data.draw(NAME)}.img",
                                   driver_type="raw",
                                   cache=data.draw(st.sampled_from([None, "none",
                                                                    "writeback"]))))


def change_disk(dom: domxml.Domain, data: st.DataObject) -> None:
    disks = [d for d in dom.disks if d.device == "disk"]
    if disks:
        disk = data.draw(st.sampled_from(disks))
        disk.cache = data.draw(st.sampled_from([None, "none", "writethrough"]))
        disk.readonly = data.draw(st.booleans()) and disk.bus == "scsi"   # QEMU's rule
        disk.shareable = data.draw(st.booleans()) and disk.driver_type == "raw"  # QEMU's


def remove_disk(dom: domxml.Domain, data: st.DataObject) -> None:
    disks = [d for d in dom.disks if d.device == "disk"]
    if len(disks) > 1:
        dom.remove_device(data.draw(st.sampled_from(disks)))


def media(dom: domxml.Domain, data: st.DataObject) -> None:
    for drive in dom.disks:
        if drive.device == "cdrom":
            if data.draw(st.booleans()):
                drive.insert_media(f"/var/lib/hvconsole-test/{data.draw(NAME)}.iso")
            else:
                drive.eject()


def nic(dom: domxml.Domain, data: st.DataObject) -> None:
    what = data.draw(st.sampled_from(["add", "remove", "change"]))
    nics = dom.interfaces
    if what == "add" or not nics:
        dom.add_device(domxml.new_interface(network="default", mac=domxml.random_mac()))
    elif what == "remove":
        dom.remove_device(data.draw(st.sampled_from(nics)))
    else:
        chosen = data.draw(st.sampled_from(nics))
        if data.draw(st.booleans()):
            chosen.set_bridge("virbr0")
        else:
            chosen.set_network("default")
        chosen.link_up = data.draw(st.booleans())
        chosen.model = data.draw(st.sampled_from(["virtio", "e1000e", "rtl8139"]))


def graphics(dom: domxml.Domain, data: st.DataObject) -> None:
    shown = dom.graphics
    if not shown:
        dom.add_device(domxml.new_graphics("vnc"))
        return
    chosen = data.draw(st.sampled_from(shown))
    chosen.set_listen_address(data.draw(st.sampled_from(["127.0.0.1", "0.0.0.0", None])))
    chosen.set_password(data.draw(st.none() | st.text("abcdefgh12", min_size=1, max_size=8)))
    others = {g.type for g in shown if g.element is not chosen.element}
    free = [kind for kind in ("vnc", "spice") if kind not in others]  # one of each at most
    if data.draw(st.booleans()):
        dom.replace_device(chosen, domxml.new_graphics(data.draw(st.sampled_from(free)),
                                                       listen="127.0.0.1"))


def video(dom: domxml.Domain, data: st.DataObject) -> None:
    model = data.draw(st.sampled_from(["virtio", "qxl", "vga", "bochs"]))
    for shown in dom.videos:
        shown.set_model(model, heads=1)


def devices(dom: domxml.Domain, data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(["rng", "serial", "usb", "remove"]))
    if kind == "rng":
        dom.add_device(domxml.new_rng())
    elif kind == "serial":
        ports = [s.target_port or 0 for s in dom.devices_of(domxml.Serial)]
        dom.add_device(domxml.new_serial(port=max(ports, default=-1) + 1))
    elif kind == "usb":
        taken = {h.usb_ids for h in dom.hostdevs}      # libvirt takes each device once
        free = [p for p in range(2, 40) if (0x1d6b, p) not in taken]
        dom.add_device(domxml.new_usb_hostdev(0x1d6b, data.draw(st.sampled_from(free))))
    else:
        removable = [d for d in dom.devices if d.kind in ("rng", "hostdev", "watchdog",
                                                           "redirdev", "sound", "vsock")]
        if removable:
            dom.remove_device(data.draw(st.sampled_from(removable)))


CHANGES: list[Callable[[domxml.Domain, Any], None]] = [
    rename, describe, memory, vcpus, cpu_mode, boot, add_disk, change_disk, remove_disk,
    media, nic, graphics, video, devices]


def summary(dom: domxml.Domain) -> tuple[object, ...]:
    """What the model reads from a document, to compare two of them."""
    cpu = dom.cpu
    return (dom.name, dom.title, dom.description, dom.memory_kib, dom.current_memory_kib,
            dom.vcpus, dom.max_vcpus, cpu and (cpu.mode, cpu.model, cpu.topology),
            dom.os.boot_devices, dom.os.bootmenu, dom.os.firmware,
            [(d.kind, d.to_xml()) for d in dom.devices],
            [(d.kind, d.boot_order) for d in dom.boot_order()])


@FUZZ
@given(st.data())
def test_any_sequence_of_changes_writes_a_stable_document(data):
    dom = domxml.parse(RICH)
    for change in data.draw(st.lists(st.sampled_from(CHANGES), max_size=12)):
        change(dom, data)
    text = dom.to_xml()
    again = domxml.parse(text)
    assert again.to_xml() == text
    assert summary(again) == summary(dom)
    assert domxml.parse_many([text])[0].to_xml() == text
