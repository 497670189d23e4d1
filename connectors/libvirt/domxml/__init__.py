"""One typed model of libvirt's domain XML: read it, change it, write it back.

New VM, Properties, Clone, Snapshots and the console's password lookup all go through
it; nothing else in HVConsole parses domain XML. A ``Domain`` is a view over the parsed
document, not a copy of it: what the model names (name, memory in KiB, vCPUs, ``<os>``,
``<cpu>``, each kind of device…) is read from and written to the elements themselves, so
everything it does not name — unknown elements and attributes, ``<metadata>``, libvirt's
addresses and aliases — survives a round trip unchanged and in place, and reading one
value costs one lookup. ``parse_many`` reads thousands of documents with one parser per
batch for the inventory.

    dom = parse(xml)
    dom.set_memory(4 * 1024 * 1024)
    dom.disk("sda").eject()
    dom.add_device(new_disk(next_target(dom, "virtio"), file="/var/lib/x.qcow2"))
    conn.defineXML(dom.to_xml())
"""
from connectors.libvirt.domxml.builders import (
    default_machine, new_cdrom, new_console, new_controller, new_disk, new_domain,
    new_filesystem, new_graphics, new_guest_agent_channel, new_input, new_interface,
    new_memballoon, new_passthrough_tpm, new_pci_hostdev, new_redirdev, new_rng, new_serial,
    new_sound, new_spice_agent_channel, new_tpm, new_usb_hostdev, new_video, next_target,
    random_mac)
from connectors.libvirt.domxml.devices import (
    Channel, CharDevice, Console, Controller, Device, Disk, Filesystem, Hostdev, Input,
    Interface, Memballoon, OpaqueDevice, Panic, Parallel, Redirdev, Rng, Serial, Sound,
    SourceHost, Tpm, Video, Watchdog)
from connectors.libvirt.domxml.domain import (
    Domain, device, device_from_xml, parse, parse_many)
from connectors.libvirt.domxml.snapshot import (
    Snapshot, SnapshotDisk, SnapshotDiskPlan, new_snapshot, parse_snapshot)
from connectors.libvirt.domxml.graphics import (
    Graphics, Listen, graphics_password, ticket_expiry, tls_only)
from connectors.libvirt.domxml.guest import Clock, Cpu, Features, Os, Topology
from connectors.libvirt.domxml.xmltree import DomainXMLError, kib

__all__ = [
    "Channel", "CharDevice", "Clock", "Console", "Controller", "Cpu", "Device", "Disk",
    "Domain", "DomainXMLError", "Features", "Filesystem", "Graphics", "Hostdev", "Input",
    "Interface", "Listen", "Memballoon", "OpaqueDevice", "Os", "Panic", "Parallel",
    "Redirdev", "Rng", "Serial", "Snapshot", "SnapshotDisk", "SnapshotDiskPlan", "Sound",
    "SourceHost", "Topology", "Tpm", "Video",
    "Watchdog", "default_machine", "device", "device_from_xml", "graphics_password", "kib",
    "new_cdrom", "new_console", "new_controller", "new_disk", "new_domain",
    "new_filesystem", "new_graphics", "new_guest_agent_channel", "new_input",
    "new_interface", "new_memballoon", "new_passthrough_tpm", "new_pci_hostdev",
    "new_redirdev", "new_rng", "new_serial", "new_snapshot", "new_sound",
    "new_spice_agent_channel", "parse_snapshot",
    "new_tpm", "new_usb_hostdev", "new_video", "next_target", "parse", "parse_many",
    "random_mac", "ticket_expiry", "tls_only",
]
