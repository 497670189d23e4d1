"""New domains and devices, with the defaults virt-install gives a modern guest.

These make the XML right; they do not decide what a host can run (the domain
capabilities do, elsewhere): a caller passes the machine type, video model or graphics
the host offers, and gets the definition virt-install would write for them.
"""
from __future__ import annotations

import secrets
from typing import Sequence

from connectors.libvirt.domxml.devices import (Channel, Console, Controller, Disk,
                                               Filesystem, Hostdev, Input, Interface,
                                               Memballoon, Redirdev, Rng, Serial, SourceHost, Sound,
                                               Tpm, Video)
from connectors.libvirt.domxml.domain import Domain
from connectors.libvirt.domxml.graphics import Graphics
from connectors.libvirt.domxml.nodes import attrs
from connectors.libvirt.domxml.xmltree import new

# Prefix of a disk's target name per bus (libvirt's naming: vda, sdb, hdc, xvda, fda).
TARGET_PREFIX = {"virtio": "vd", "sata": "sd", "scsi": "sd", "usb": "sd", "ide": "hd",
                 "xen": "xvd", "fdc": "fd"}
QEMU_MAC_PREFIX = "52:54:00"
XEN_MAC_PREFIX = "00:16:3e"


def default_machine(domain_type: str, arch: str) -> str | None:
    """The machine type virt-install picks when the user does not: q35 for x86 under
    QEMU/KVM, virt for ARM; None lets the driver choose (Xen, others)."""
    if domain_type in ("kvm", "qemu"):
        if arch in ("x86_64", "i686"):
            return "q35"
        if arch in ("aarch64", "armv7l", "riscv64"):
            return "virt"
    return None


def new_domain(name: str, *, domain_type: str = "kvm", arch: str = "x86_64",
               machine: str | None = None, memory_kib: int = 2 * 1024 * 1024,
               vcpus: int = 2, firmware: str | None = None, os_type: str = "hvm",
               graphics: str | None = "vnc", video: str | None = "virtio",
               secure_boot: bool | None = None) -> Domain:
    """A domain with no disk and no network card yet (add them with add_device), and
    what every modern guest gets: ACPI/APIC, the host's CPU under KVM, an RTC that
    catches up, a USB 3 controller with a tablet (the pointer follows the mouse), a
    serial console, the guest-agent channel, a balloon and a virtio RNG. ``graphics``
    "vnc" or "spice" (autoport) or None; ``video`` the model or None. ``machine`` None:
    default_machine. Xen PV (``os_type`` "xen" or "xenpvh") gets the Xen console."""
    if domain_type not in ("kvm", "qemu", "xen"):
        raise ValueError(f"domain type must be kvm, qemu or xen, not {domain_type!r}")
    root = new("domain", {"type": domain_type})
    dom = Domain(root)
    dom.name = name
    dom.set_memory(memory_kib)
    dom.set_vcpus(vcpus, vcpus)
    dom.vcpu_placement = "static"
    os = dom.os
    os.type = os_type
    os.arch = arch
    os.machine = machine if machine is not None else default_machine(domain_type, arch)
    x86 = arch in ("x86_64", "i686")
    paravirt = domain_type == "xen" and os_type != "hvm"
    if not paravirt:
        features = dom.ensure_features()
        if x86:
            for flag in ("acpi", "apic") + (("pae",) if domain_type == "xen" else ()):
                features.enable(flag)
        elif arch == "aarch64":
            features.enable("acpi")
            features.enable("gic", version="3")
    if firmware is not None:
        dom.set_firmware(firmware, secure_boot=secure_boot)
    if domain_type == "kvm" and x86:
        cpu = dom.ensure_cpu()
        cpu.set_mode("host-passthrough")
        cpu.check, cpu.migratable = "none", True
    if x86 and not paravirt:
        clock = dom.ensure_clock()
        clock.offset = "utc"
        if domain_type in ("kvm", "qemu"):
            clock.set_timer("rtc", tickpolicy="catchup")
            clock.set_timer("pit", tickpolicy="delay")
            clock.set_timer("hpet", present="no")
    else:
        dom.ensure_clock().offset = "utc"
    dom.on_poweroff, dom.on_reboot, dom.on_crash = "destroy", "restart", "destroy"
    if domain_type in ("kvm", "qemu"):
        _qemu_devices(dom, x86, graphics, video)
    else:
        _xen_devices(dom, paravirt, graphics, video)
    return dom


def _qemu_devices(dom: Domain, x86: bool, graphics: str | None, video: str | None) -> None:
    dom.add_device(new_controller("usb", model="qemu-xhci", ports=15))
    if x86 and dom.os.machine and "q35" in dom.os.machine:
        dom.add_device(new_controller("pci", model="pcie-root", index=0))
        for _ in range(8):   # virt-install's spare ports for hot-plugged PCIe devices
            dom.add_device(new_controller("pci", model="pcie-root-port"))
    dom.add_device(new_serial())
    dom.add_device(new_console())
    dom.add_device(new_guest_agent_channel())
    if graphics is not None:
        dom.add_device(new_input("tablet", "usb"))
        dom.add_device(new_graphics(graphics))
        if graphics == "spice":
            dom.add_device(new_spice_agent_channel())
            dom.add_device(new_sound("ich9"))
            dom.add_device(new_redirdev())
            dom.add_device(new_redirdev())
    if video is not None:
        dom.add_device(new_video(video))
    dom.add_device(new_memballoon("virtio"))
    dom.add_device(new_rng())


def _xen_devices(dom: Domain, paravirt: bool, graphics: str | None,
                 video: str | None) -> None:
    dom.add_device(new_console(target_type="xen" if paravirt else "serial"))
    if graphics is not None:
        dom.add_device(new_input("tablet" if not paravirt else "mouse",
                                 "usb" if not paravirt else "xen"))
        dom.add_device(new_graphics(graphics))
        if video is not None and not paravirt:
            dom.add_device(new_video(video))
    dom.add_device(new_memballoon("xen"))


# -- devices --------------------------------------------------------------------------

def next_target(dom: Domain, bus: str) -> str:
    """The first free target name on ``bus`` (vda, vdb, …, vdz, vdaa)."""
    prefix = TARGET_PREFIX.get(bus, "sd")
    taken = {d.target_dev for d in dom.disks}
    for i in range(0, 26 * 27):
        name = prefix + _letters(i)
        if name not in taken:
            return name
    raise ValueError(f"no free disk name on the {bus} bus")


def _letters(i: int) -> str:
    out = ""
    i += 1
    while i:
        i, rest = divmod(i - 1, 26)
        out = chr(ord("a") + rest) + out
    return out


def new_disk(target_dev: str, *, bus: str = "virtio", file: str | None = None,
             block: str | None = None, volume: tuple[str, str] | None = None,
             network: tuple[str, str, Sequence[SourceHost]] | None = None,
             driver_type: str | None = "qcow2", cache: str | None = None,
             discard: str | None = None, readonly: bool = False, shareable: bool = False,
             serial: str | None = None, boot_order: int | None = None,
             device: str = "disk") -> Disk:
    """A disk on one source: ``file``, ``block`` device, ``volume`` (pool, name) or
    ``network`` (protocol, name, hosts); none for an empty CD/DVD or floppy drive."""
    sources = [s for s in (file, block, volume, network) if s is not None]
    if len(sources) > 1:
        raise ValueError("a disk has one source")
    if not sources and device not in ("cdrom", "floppy"):
        raise ValueError("a hard disk needs a source")
    disk = Disk(new("disk", attrs(type="file", device=device)))
    disk.element.append(new("driver", attrs(name="qemu", type=driver_type, cache=cache,
                                            discard=discard)))
    if file is not None:
        disk.set_file(file)
    elif block is not None:
        disk.set_block(block)
    elif volume is not None:
        disk.set_volume(*volume)
    elif network is not None:
        disk.set_network(network[0], network[1], tuple(network[2]))
    disk.target_dev, disk.bus = target_dev, bus
    disk.readonly, disk.shareable = readonly, shareable
    if serial is not None:
        disk.serial = serial
    disk.boot_order = boot_order
    return disk


def new_cdrom(target_dev: str, *, bus: str = "sata", file: str | None = None,
              volume: tuple[str, str] | None = None, boot_order: int | None = None) -> Disk:
    """A CD/DVD drive (read-only), empty or with an ISO image."""
    return new_disk(target_dev, bus=bus, file=file, volume=volume, driver_type="raw",
                    readonly=True, boot_order=boot_order, device="cdrom")


def random_mac(domain_type: str = "kvm") -> str:
    """A locally administered MAC in the range libvirt itself uses for the driver."""
    prefix = XEN_MAC_PREFIX if domain_type == "xen" else QEMU_MAC_PREFIX
    return prefix + "".join(f":{b:02x}" for b in secrets.token_bytes(3))


def new_interface(*, network: str | None = None, bridge: str | None = None,
                  direct: str | None = None, user: bool = False, mac: str | None = None,
                  model: str | None = "virtio", boot_order: int | None = None) -> Interface:
    """A NIC on a virtual ``network``, a host ``bridge``, a ``direct`` (macvtap) host
    device, or ``user`` networking. No ``mac``: libvirt assigns one."""
    if sum(x is not None for x in (network, bridge, direct)) + int(user) != 1:
        raise ValueError("a network interface connects to exactly one thing")
    nic = Interface(new("interface", {"type": "network"}))
    if mac is not None:
        nic.mac = mac
    if network is not None:
        nic.set_network(network)
    elif bridge is not None:
        nic.set_bridge(bridge)
    elif direct is not None:
        nic.set_direct(direct)
    else:
        nic.set_user()
    nic.model = model
    nic.boot_order = boot_order
    return nic


def new_graphics(kind: str = "vnc", *, listen: str | None = None,
                 password: str | None = None) -> Graphics:
    """A VNC or SPICE display with a port picked at start, listening on ``listen`` (None:
    the host's default, 127.0.0.1 unless qemu.conf says otherwise)."""
    if kind not in ("vnc", "spice"):
        raise ValueError(f"graphics must be vnc or spice, not {kind!r}")
    graphics = Graphics(new("graphics", {"type": kind, "autoport": "yes"}))
    graphics.set_listen_address(listen)
    if kind == "spice":
        graphics.element.append(new("image", {"compression": "off"}))
    graphics.passwd = password
    return graphics


def new_video(model: str = "virtio", *, heads: int = 1, vram: int | None = None) -> Video:
    video = Video(new("video"))
    video.set_model(model, heads=heads, vram=vram)
    video.primary = True
    return video


def new_tpm(model: str = "tpm-crb", version: str = "2.0") -> Tpm:
    """An emulated TPM (swtpm on the host); tpm-crb for q35, tpm-tis for older machines."""
    return Tpm(new("tpm", {"model": model}, children=[
        new("backend", {"type": "emulator", "version": version})]))


def new_passthrough_tpm(path: str = "/dev/tpm0", model: str = "tpm-tis") -> Tpm:
    return Tpm(new("tpm", {"model": model}, children=[
        new("backend", {"type": "passthrough"}, children=[new("device", {"path": path})])]))


def new_rng(source: str = "/dev/urandom") -> Rng:
    return Rng(new("rng", {"model": "virtio"}, children=[
        new("backend", {"model": "random"}, text=source)]))


def new_serial(kind: str = "pty", *, port: int = 0, path: str | None = None) -> Serial:
    """A serial port on a pty (``virsh console``) or written to a file (``path``)."""
    serial = Serial(new("serial", {"type": kind}))
    if path is not None:
        serial.element.append(new("source", {"path": path}))
    serial.element.append(new("target", {"port": str(port)}))
    return serial


def new_console(kind: str = "pty", *, target_type: str = "serial") -> Console:
    return Console(new("console", {"type": kind}, children=[
        new("target", {"type": target_type, "port": "0"})]))


def new_guest_agent_channel() -> Channel:
    return Channel(new("channel", {"type": "unix"}, children=[
        new("target", {"type": "virtio", "name": "org.qemu.guest_agent.0"})]))


def new_spice_agent_channel() -> Channel:
    return Channel(new("channel", {"type": "spicevmc"}, children=[
        new("target", {"type": "virtio", "name": "com.redhat.spice.0"})]))


def new_controller(kind: str, *, model: str | None = None, index: int | None = None,
                   ports: int | None = None) -> Controller:
    return Controller(new("controller", attrs(type=kind, index=index, model=model,
                                              ports=ports)))


def new_input(kind: str = "tablet", bus: str = "usb") -> Input:
    return Input(new("input", {"type": kind, "bus": bus}))


def new_sound(model: str = "ich9") -> Sound:
    return Sound(new("sound", {"model": model}))


def new_redirdev() -> Redirdev:
    """A SPICE USB redirection slot."""
    return Redirdev(new("redirdev", {"bus": "usb", "type": "spicevmc"}))


def new_memballoon(model: str = "virtio") -> Memballoon:
    return Memballoon(new("memballoon", {"model": model}))


def new_usb_hostdev(vendor: int, product: int) -> Hostdev:
    """A USB device of the host, by vendor and product id."""
    return Hostdev(new("hostdev", {"mode": "subsystem", "type": "usb", "managed": "yes"},
                       children=[new("source", children=[
                           new("vendor", {"id": f"0x{vendor:04x}"}),
                           new("product", {"id": f"0x{product:04x}"})])]))


def new_pci_hostdev(domain: int, bus: int, slot: int, function: int,
                    managed: bool = True) -> Hostdev:
    """A PCI device of the host (libvirt detaches it from the host's driver when
    ``managed``)."""
    address = new("address", {"domain": f"0x{domain:04x}", "bus": f"0x{bus:02x}",
                              "slot": f"0x{slot:02x}", "function": f"0x{function:x}"})
    return Hostdev(new("hostdev", attrs(mode="subsystem", type="pci", managed=managed),
                       children=[new("source", children=[address])]))


def new_filesystem(source_dir: str, target_dir: str, *, driver: str = "virtiofs",
                   readonly: bool = False) -> Filesystem:
    """A host folder shared with the guest (virtiofs needs shared memory backing)."""
    fs = Filesystem(new("filesystem", {"type": "mount", "accessmode": "passthrough"},
                        children=[new("driver", {"type": driver}),
                                  new("source", {"dir": source_dir}),
                                  new("target", {"dir": target_dir})]))
    fs.readonly = readonly
    return fs
