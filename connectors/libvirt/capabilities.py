"""What a host can do, asked of the host: the daemon's version, its guest architectures,
each hypervisor's domain capabilities and the storage pool types it builds.

New VM, Properties, Snapshots and Storage offer only what the host can give, and say
why when it cannot ("Ask the host, not the library"). The *local* libvirt library may be
newer or older than the remote daemon, and only the daemon knows which firmware, TPM
emulator or pool backends are installed on its machine, so everything here comes from
calls answered by the daemon: getLibVersion (the daemon's version on a remote
connection), getCapabilities, getDomainCapabilities and getStoragePoolCapabilities.

Every check returns an ``Offer``: available or not, and the reason in words, ready for a
disabled control's tooltip. Blocking calls: run them in the host's worker pool.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import libvirt

EXTERNAL_SNAPSHOT_REVERT_FROM = 9_009_000     # libvirt 9.9.0 reverts external snapshots


@dataclass(frozen=True)
class Offer:
    """Whether a feature is available here, and if not, why (a sentence for the user)."""

    ok: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok


YES = Offer(True)


def version_text(packed: int) -> str:
    """libvirt's packed major * 1,000,000 + minor * 1,000 + release, as A.B.C."""
    return f"{packed // 1_000_000}.{packed // 1000 % 1000}.{packed % 1000}"


# ---- domain capabilities ------------------------------------------------------------------

@dataclass(frozen=True)
class DomainCapabilities:
    """One hypervisor (domain type) for one architecture and machine type on a host."""

    domain_type: str                        # kvm, qemu, xen
    arch: str
    machine: str                            # the canonical machine, e.g. pc-q35-7.2
    emulator: str
    max_vcpus: int
    firmware: tuple[str, ...] = ()          # auto-selection values: efi, bios
    loaders: tuple[str, ...] = ()           # firmware images the host has
    secure_boot_values: tuple[str, ...] = ()
    cpu_modes: tuple[str, ...] = ()         # supported ones: host-passthrough, host-model, ...
    host_model: str = ""
    cpu_models: tuple[str, ...] = ()        # usable named models
    disk_devices: tuple[str, ...] = ()
    disk_buses: tuple[str, ...] = ()
    graphics_types: tuple[str, ...] = ()
    video_models: tuple[str, ...] = ()
    hostdev_types: tuple[str, ...] = ()
    rng_models: tuple[str, ...] = ()
    rng_backends: tuple[str, ...] = ()
    tpm_models: tuple[str, ...] = ()
    tpm_backends: tuple[str, ...] = ()
    tpm_versions: tuple[str, ...] = ()
    features: dict[str, bool] = field(default_factory=dict)

    @property
    def is_q35(self) -> bool:
        return "q35" in self.machine

    def uefi(self) -> Offer:
        if "efi" in self.firmware or self.loaders:
            return YES
        return Offer(False, f"This host has no UEFI firmware for {self.arch} "
                            f"({self.domain_type}, {self.machine}): install OVMF there "
                            "(Debian: ovmf).")

    def secure_boot(self) -> Offer:
        uefi = self.uefi()
        if not uefi:
            return uefi
        if "yes" in self.secure_boot_values:
            return YES
        if not self.is_q35:
            return Offer(False, "Secure Boot needs the Q35 machine type.")
        return Offer(False, "This host's UEFI firmware has no Secure Boot build.")

    def tpm(self, version: str = "2.0") -> Offer:
        """An emulated TPM (swtpm on the host) of this version."""
        if not self.tpm_models:
            return Offer(False, f"{self._hypervisor()} offers no TPM device.")
        if "emulator" not in self.tpm_backends:
            return Offer(False, "This host cannot emulate a TPM: install swtpm there "
                                "(Debian: swtpm, swtpm-tools).")
        # libvirt before 8.7 lists no versions: its emulator does 1.2 and 2.0.
        if self.tpm_versions and version not in self.tpm_versions:
            return Offer(False, f"This host's TPM emulator has no TPM {version}.")
        return YES

    def cpu_mode(self, mode: str) -> Offer:
        if mode in self.cpu_modes:
            return YES
        if mode == "host-passthrough" and self.domain_type == "qemu":
            return Offer(False, "Host CPU passthrough needs KVM; this VM runs under QEMU's "
                                "emulation (TCG).")
        return Offer(False, f"{self._hypervisor()} does not offer the CPU mode {mode}.")

    def video(self, model: str) -> Offer:
        if model in self.video_models:
            return YES
        return Offer(False, f"{self._hypervisor()} has no {model} video device.")

    def graphics(self, kind: str) -> Offer:
        if kind in self.graphics_types:
            return YES
        return Offer(False, f"{self._hypervisor()} has no {kind.upper()} display.")

    def disk_bus(self, bus: str) -> Offer:
        if bus in self.disk_buses:
            return YES
        return Offer(False, f"{self._hypervisor()} has no {bus} disk bus.")

    def vcpus(self, count: int) -> Offer:
        if 1 <= count <= self.max_vcpus:
            return YES
        return Offer(False, f"{self._hypervisor()} runs at most {self.max_vcpus} vCPUs "
                            f"on this machine type; {count} asked.")

    def _hypervisor(self) -> str:
        return {"kvm": "KVM", "qemu": "QEMU", "xen": "Xen"}.get(self.domain_type,
                                                                self.domain_type)


def _values(node: ET.Element | None, enum: str) -> tuple[str, ...]:
    if node is None:
        return ()
    found = node.find(f"enum[@name='{enum}']")
    if found is None:
        return ()
    return tuple(v.text or "" for v in found.findall("value"))


def _supported(node: ET.Element | None) -> bool:
    return node is not None and node.get("supported") == "yes"


def parse_domain_capabilities(text: str) -> DomainCapabilities:
    root = ET.fromstring(text)
    os_node = root.find("os")
    loader = os_node.find("loader") if os_node is not None else None
    devices = root.find("devices")

    def device(name: str) -> ET.Element | None:
        node = devices.find(name) if devices is not None else None
        return node if _supported(node) else None

    cpu = root.find("cpu")
    modes = tuple(m.get("name", "") for m in (cpu.findall("mode") if cpu is not None else ())
                  if m.get("supported") == "yes")
    host_model = ""
    models: tuple[str, ...] = ()
    if cpu is not None:
        hm = cpu.find("mode[@name='host-model']/model")
        host_model = (hm.text or "") if hm is not None else ""
        models = tuple(m.text or "" for m in cpu.findall("mode[@name='custom']/model")
                       if m.get("usable") != "no")
    vcpu = root.find("vcpu")
    features_node = root.find("features")
    features = {f.tag: f.get("supported") == "yes"
                for f in (features_node if features_node is not None else ())}
    return DomainCapabilities(
        domain_type=root.findtext("domain", ""),
        arch=root.findtext("arch", ""),
        machine=root.findtext("machine", ""),
        emulator=root.findtext("path", ""),
        max_vcpus=int(vcpu.get("max", "1")) if vcpu is not None else 1,
        firmware=_values(os_node, "firmware") if _supported(os_node) else (),
        loaders=tuple(v.text or "" for v in loader.findall("value"))
        if loader is not None and _supported(loader) else (),
        secure_boot_values=_values(loader, "secure") if _supported(loader) else (),
        cpu_modes=modes, host_model=host_model, cpu_models=models,
        disk_devices=_values(device("disk"), "diskDevice"),
        disk_buses=_values(device("disk"), "bus"),
        graphics_types=_values(device("graphics"), "type"),
        video_models=_values(device("video"), "modelType"),
        hostdev_types=_values(device("hostdev"), "subsysType"),
        rng_models=_values(device("rng"), "model"),
        rng_backends=_values(device("rng"), "backendModel"),
        tpm_models=_values(device("tpm"), "model"),
        tpm_backends=_values(device("tpm"), "backendModel"),
        tpm_versions=_values(device("tpm"), "backendVersion"),
        features=features,
    )


def read_domain_capabilities(conn: libvirt.virConnect, arch: str | None = None,
                             domain_type: str | None = None,
                             machine: str | None = None) -> DomainCapabilities:
    """The host's answer for this architecture, hypervisor and machine (None: its
    defaults). Blocking."""
    return parse_domain_capabilities(
        conn.getDomainCapabilities(None, arch, machine, domain_type, 0))


# ---- host capabilities --------------------------------------------------------------------

@dataclass(frozen=True)
class GuestArch:
    """One kind of guest the host runs: e.g. hvm on x86_64 with qemu and kvm."""

    os_type: str                        # hvm, xen (PV), linux (Xen PV), exe (containers)
    arch: str
    domain_types: tuple[str, ...]
    machines: tuple[str, ...]
    emulator: str = ""


@dataclass(frozen=True)
class HostCapabilities:
    libvirt_version: int                # the daemon's, packed
    hypervisor_version: int
    host_arch: str
    guests: tuple[GuestArch, ...]
    pool_types: tuple[str, ...] = ()    # pool types the daemon supports (built in)
    migration_transports: tuple[str, ...] = ()

    @property
    def libvirt_version_text(self) -> str:
        return version_text(self.libvirt_version)

    def guest(self, os_type: str, arch: str | None = None) -> GuestArch | None:
        for guest in self.guests:
            if guest.os_type == os_type and (arch is None or guest.arch == arch):
                return guest
        return None

    def domain_types(self, os_type: str = "hvm", arch: str | None = None) -> tuple[str, ...]:
        """Fastest first: kvm before qemu."""
        guest = self.guest(os_type, arch or self.host_arch)
        if guest is None:
            return ()
        order = {"kvm": 0, "xen": 1, "qemu": 2}
        return tuple(sorted(guest.domain_types, key=lambda t: order.get(t, 9)))

    def pool_type(self, kind: str) -> Offer:
        if not self.pool_types:
            return Offer(False, f"This host's libvirt ({self.libvirt_version_text}) does not "
                                "list its storage pool types.")
        if kind in self.pool_types:
            return YES
        return Offer(False, f"This host's libvirt has no {kind} storage pool backend "
                            "(its package for that pool type is not installed there).")

    def external_snapshot_revert(self) -> Offer:
        if self.libvirt_version >= EXTERNAL_SNAPSHOT_REVERT_FROM:
            return YES
        return Offer(False, f"Reverting to an external snapshot needs libvirt 9.9 or later "
                            f"on the host; it runs {self.libvirt_version_text}.")


def parse_host_capabilities(text: str, libvirt_version: int, hypervisor_version: int,
                            pool_caps: str | None) -> HostCapabilities:
    root = ET.fromstring(text)
    guests = []
    for guest in root.findall("guest"):
        arch = guest.find("arch")
        if arch is None:
            continue
        machines = {m.text or "" for m in arch.findall("machine")}
        for domain in arch.findall("domain"):
            machines.update(m.text or "" for m in domain.findall("machine"))
        guests.append(GuestArch(
            os_type=guest.findtext("os_type", ""), arch=arch.get("name", ""),
            domain_types=tuple(d.get("type", "") for d in arch.findall("domain")),
            machines=tuple(sorted(m for m in machines if m)),
            emulator=arch.findtext("emulator", "")))
    transports = tuple(t.text or "" for t in
                       root.findall("host/migration_features/uri_transports/uri_transport"))
    pools: tuple[str, ...] = ()
    if pool_caps:
        pools = tuple(p.get("type", "") for p in ET.fromstring(pool_caps).findall("pool")
                      if p.get("supported") == "yes")
    return HostCapabilities(
        libvirt_version=libvirt_version, hypervisor_version=hypervisor_version,
        host_arch=root.findtext("host/cpu/arch", ""), guests=tuple(guests),
        pool_types=pools, migration_transports=transports)


def read_host_capabilities(conn: libvirt.virConnect) -> HostCapabilities:
    """Blocking: four calls answered by the daemon."""
    try:
        pool_caps: str | None = conn.getStoragePoolCapabilities(0)
    except libvirt.libvirtError:
        pool_caps = None            # older daemons, and drivers without storage (Xen's own)
    try:
        hv_version = conn.getVersion()
    except libvirt.libvirtError:
        hv_version = 0
    return parse_host_capabilities(conn.getCapabilities(), conn.getLibVersion(), hv_version,
                                   pool_caps)
