"""Operating systems as osinfo-db describes them: which OS an install medium or a tree
is, and what a new VM for it should get (memory, disk, virtio or not, firmware).

osinfo-db is the field's shared database (virt-install, GNOME Boxes and virt-manager read
it through libosinfo). HVConsole reads its XML files directly rather than through
libosinfo: libosinfo's Python API is GObject introspection, which needs PyGObject built
into the virtualenv against the system's GLib and girepository (a C toolchain and -dev
packages on every user's machine, for one lookup). The files are a documented, stable
format (osinfo-db's schema in /usr/share/osinfo/schema), and New VM needs a small part
of them: media and tree matching, resources, devices, firmware. Loading the ~800 files
takes about half a second: do it in a worker thread, once (``load_default``).

Matching follows libosinfo's rules: a medium matches when every identifier the database
gives (volume, system, publisher, application ID) matches the disc's as a regular
expression (searched, not anchored; the disc's fields without their space padding);
devices, resources and firmware are inherited along ``derives-from``.
"""
from __future__ import annotations

import os
import re
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

SYSTEM_DIR = "/usr/share/osinfo"
LOCAL_DIR = "/etc/osinfo"

VIRTIO_BLOCK = ("http://pcisig.com/pci/1af4/1001", "http://pcisig.com/pci/1af4/1042")
VIRTIO_NET = ("http://pcisig.com/pci/1af4/1000", "http://pcisig.com/pci/1af4/1041")
VIRTIO_GPU = ("http://pcisig.com/pci/1af4/1050",)
QXL = ("http://pcisig.com/pci/1b36/0100",)
E1000E = ("http://pcisig.com/pci/8086/10d3",)
E1000 = ("http://pcisig.com/pci/8086/100e",)
GIB = 1 << 30


@dataclass(frozen=True)
class Medium:
    """An install or live disc of an OS for one architecture."""

    arch: str
    volume_id: str | None = None
    system_id: str | None = None
    publisher_id: str | None = None
    application_id: str | None = None
    kernel: str | None = None           # path inside the disc, for direct boot
    initrd: str | None = None


@dataclass(frozen=True)
class Tree:
    """A network install tree: its kernel and initrd relative to the tree's URL."""

    arch: str
    url: str | None = None
    kernel: str | None = None
    initrd: str | None = None
    treeinfo: tuple[str, str, str] | None = None     # family, version, arch


@dataclass(frozen=True)
class Resources:
    ram: int | None = None               # bytes
    storage: int | None = None           # bytes
    n_cpus: int | None = None


@dataclass(frozen=True)
class OsEntry:
    id: str
    short_id: str
    name: str
    family: str = ""
    distro: str = ""
    version: str = ""
    vendor: str = ""
    release_date: str = ""
    eol_date: str = ""
    derives_from: str | None = None
    devices: frozenset[str] = frozenset()
    media: tuple[Medium, ...] = ()
    trees: tuple[Tree, ...] = ()
    cloud_images: tuple[str, ...] = ()              # architectures with a cloud-init image
    minimum: dict[str, Resources] = field(default_factory=dict, hash=False)
    recommended: dict[str, Resources] = field(default_factory=dict, hash=False)
    firmware: dict[str, dict[str, bool]] = field(default_factory=dict, hash=False)

    @property
    def label(self) -> str:
        return self.name


@dataclass(frozen=True)
class DiscLabel:
    """What an ISO 9660 disc says about itself (connectors/libvirt/iso9660.py reads it)."""

    volume_id: str = ""
    system_id: str = ""
    publisher_id: str = ""
    application_id: str = ""


@dataclass(frozen=True)
class OsDefaults:
    """What a new VM for an OS starts with; the user may change all of it."""

    memory_mib: int
    vcpus: int
    disk_gib: int
    disk_bus: str              # virtio, sata
    nic_model: str             # virtio, e1000e, e1000
    video: str                 # virtio, qxl, vga
    firmware: str              # bios, efi
    uefi_required: bool
    tpm: bool


GENERIC = OsEntry(id="http://libosinfo.org/unknown", short_id="generic",
                  name="Generic or unknown OS", family="")
GENERIC_LINUX = OsEntry(id="http://libosinfo.org/linux/2022", short_id="linux2022",
                        name="Generic Linux", family="linux",
                        devices=frozenset(VIRTIO_BLOCK + VIRTIO_NET + VIRTIO_GPU))


class OsDb:
    def __init__(self, entries: list[OsEntry]) -> None:
        self.entries = {e.id: e for e in entries}
        self._by_short = {e.short_id: e for e in entries}

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, os_id_or_short: str) -> OsEntry | None:
        return self.entries.get(os_id_or_short) or self._by_short.get(os_id_or_short)

    def all(self) -> list[OsEntry]:
        """Newest first within a distribution, distributions by name."""
        return sorted(self.entries.values(), key=_sort_key)

    def search(self, text: str) -> list[OsEntry]:
        words = text.lower().split()
        return [e for e in self.all()
                if all(w in f"{e.name} {e.short_id} {e.vendor}".lower() for w in words)]

    def _chain(self, entry: OsEntry) -> list[OsEntry]:
        chain, seen = [entry], {entry.id}
        while chain[-1].derives_from and chain[-1].derives_from not in seen:
            parent = self.entries.get(chain[-1].derives_from)
            if parent is None:
                break
            seen.add(parent.id)
            chain.append(parent)
        return chain

    def devices(self, entry: OsEntry) -> frozenset[str]:
        found: set[str] = set()
        for e in self._chain(entry):
            found |= e.devices
        return frozenset(found)

    def identify_disc(self, label: DiscLabel, arch: str = "x86_64") -> OsEntry | None:
        """The OS whose install medium this disc is, for this architecture."""
        for entry in self.all():
            for medium in entry.media:
                if medium.arch in (arch, "all") and _disc_matches(medium, label):
                    return entry
        return None

    def identify_treeinfo(self, family: str, version: str, arch: str) -> OsEntry | None:
        """The OS of a tree whose .treeinfo says family/version/arch (Fedora, RHEL...)."""
        for entry in self.all():
            for tree in entry.trees:
                if tree.treeinfo is None:
                    continue
                t_family, t_version, t_arch = tree.treeinfo
                if (t_family.lower() == family.lower() and t_version == version
                        and t_arch in (arch, "")):
                    return entry
        return None

    def identify_tree_url(self, url: str, arch: str = "x86_64") -> tuple[OsEntry, Tree] | None:
        """A tree without .treeinfo (Debian, Ubuntu) by where it sits on its mirror:
        the URL ends with the path osinfo-db gives for the OS's tree (any mirror host)."""
        path = _url_path(url)
        for entry in self.all():
            for tree in entry.trees:
                if tree.arch != arch or not tree.url:
                    continue
                known = _url_path(tree.url)
                if known and (path.endswith(known) or path.endswith(_after_mirror_root(known))):
                    return entry, tree
        return None

    def tree_layouts(self, arch: str = "x86_64") -> list[tuple[str, str]]:
        """Every (kernel, initrd) path pair the database knows for trees of ``arch``,
        most common first: where to look in a tree nothing identified."""
        counts: dict[tuple[str, str], int] = {}
        for entry in self.entries.values():
            for tree in entry.trees:
                if tree.arch == arch and tree.kernel and tree.initrd:
                    pair = (tree.kernel, tree.initrd)
                    counts[pair] = counts.get(pair, 0) + 1
        return sorted(counts, key=lambda p: -counts[p])

    def resources(self, entry: OsEntry, arch: str) -> tuple[Resources, Resources]:
        """(minimum, recommended), each field from the nearest OS in the chain that
        gives it, for ``arch`` or for all."""
        def pick(kind: str) -> Resources:
            ram = storage = n_cpus = None
            for e in self._chain(entry):
                table = e.minimum if kind == "minimum" else e.recommended
                for key in (arch, "all"):
                    res = table.get(key)
                    if res is None:
                        continue
                    ram = ram if ram is not None else res.ram
                    storage = storage if storage is not None else res.storage
                    n_cpus = n_cpus if n_cpus is not None else res.n_cpus
            return Resources(ram, storage, n_cpus)
        return pick("minimum"), pick("recommended")

    def firmware(self, entry: OsEntry, arch: str) -> dict[str, bool]:
        for e in self._chain(entry):
            if arch in e.firmware:
                return e.firmware[arch]
        return {}

    def defaults(self, entry: OsEntry, arch: str = "x86_64", *, q35: bool = True) -> OsDefaults:
        devices = self.devices(entry)
        minimum, recommended = self.resources(entry, arch)
        ram = recommended.ram or (minimum.ram * 2 if minimum.ram else 2 * GIB)
        storage = recommended.storage or (minimum.storage * 2 if minimum.storage else 20 * GIB)
        cpus = recommended.n_cpus or 2
        virtio_disk = any(d in devices for d in VIRTIO_BLOCK)
        virtio_nic = any(d in devices for d in VIRTIO_NET)
        if virtio_nic:
            nic = "virtio"
        elif q35 and any(d in devices for d in E1000E):
            nic = "e1000e"
        else:
            nic = "e1000"
        if any(d in devices for d in VIRTIO_GPU):
            video = "virtio"
        elif any(d in devices for d in QXL):
            video = "qxl"
        else:
            video = "vga"
        fw = self.firmware(entry, arch)
        uefi_required = fw.get("bios") is False
        # BIOS unless the OS cannot boot without UEFI (Windows 11): what every OS here
        # installs on, and the firmware that needs no NVRAM beside the disk.
        firmware = "efi" if uefi_required else "bios"
        tpm = entry.short_id.startswith("win") and _windows_generation(entry) >= 11
        return OsDefaults(memory_mib=max(256, ram // (1 << 20)), vcpus=max(1, min(cpus, 4)),
                          disk_gib=max(1, storage // GIB), disk_bus="virtio" if virtio_disk
                          else "sata", nic_model=nic, video=video, firmware=firmware,
                          uefi_required=uefi_required, tpm=tpm)


def _windows_generation(entry: OsEntry) -> int:
    match = re.match(r"win(\d+)", entry.short_id)
    return int(match.group(1)) if match else 0


def _sort_key(e: OsEntry) -> tuple[str, int, tuple[int, ...], str]:
    numbers = tuple(int(n) for n in re.findall(r"\d+", e.version)[:3])
    return (e.distro or e.family or e.name.lower(), 0 if numbers else 1,
            tuple(-n for n in numbers), e.name)


def _disc_matches(medium: Medium, label: DiscLabel) -> bool:
    pairs = ((medium.volume_id, label.volume_id), (medium.system_id, label.system_id),
             (medium.publisher_id, label.publisher_id),
             (medium.application_id, label.application_id))
    if all(pattern is None for pattern, _ in pairs):
        return False
    for pattern, value in pairs:
        if pattern is None:
            continue
        try:
            if not re.search(pattern, value.strip()):
                return False
        except re.error:
            return False
    return True


def _url_path(url: str) -> str:
    """The path of a URL without scheme, host and trailing slash."""
    rest = url.split("://", 1)[-1]
    return "/" + rest.split("/", 1)[1].rstrip("/") if "/" in rest else ""


def _after_mirror_root(path: str) -> str:
    """"/debian/dists/bullseye/..." -> "/dists/bullseye/...": mirrors put the archive
    under other roots."""
    parts = path.split("/")
    return "/" + "/".join(parts[2:]) if len(parts) > 3 else path


# ---- reading the database ----------------------------------------------------------

def _text(node: ET.Element, tag: str) -> str:
    found = node.find(tag)
    return (found.text or "").strip() if found is not None else ""


def _opt(node: ET.Element, tag: str) -> str | None:
    found = node.find(tag)
    return (found.text or "").strip() if found is not None and found.text else None


def _resources(os_node: ET.Element, kind: str) -> dict[str, Resources]:
    table: dict[str, Resources] = {}
    for res in os_node.findall("resources"):
        node = res.find(kind)
        if node is None:
            continue
        ram, storage, cpus = (_opt(node, t) for t in ("ram", "storage", "n-cpus"))
        table[res.get("arch", "all")] = Resources(
            int(ram) if ram else None, int(storage) if storage else None,
            int(cpus) if cpus else None)
    return table


def parse_os(os_node: ET.Element) -> OsEntry:
    media = []
    for m in os_node.findall("media"):
        iso = m.find("iso")
        if iso is None:
            continue
        media.append(Medium(m.get("arch", "all"), _opt(iso, "volume-id"),
                            _opt(iso, "system-id"), _opt(iso, "publisher-id"),
                            _opt(iso, "application-id"), _opt(m, "kernel"),
                            _opt(m, "initrd")))
    trees = []
    for t in os_node.findall("tree"):
        info = t.find("treeinfo")
        trees.append(Tree(t.get("arch", "all"), _opt(t, "url"), _opt(t, "kernel"),
                          _opt(t, "initrd"),
                          (_text(info, "family"), _text(info, "version"), _text(info, "arch"))
                          if info is not None else None))
    firmware: dict[str, dict[str, bool]] = {}
    for fw in os_node.findall("firmware"):
        firmware.setdefault(fw.get("arch", "all"), {})[fw.get("type", "")] = (
            fw.get("supported", "true") != "false")
    derives = os_node.find("derives-from")
    return OsEntry(
        id=os_node.get("id", ""), short_id=_text(os_node, "short-id"),
        name=next((n.text or "" for n in os_node.findall("name")
                   if not n.attrib), ""),
        family=_text(os_node, "family"), distro=_text(os_node, "distro"),
        version=_text(os_node, "version"), vendor=next(
            (n.text or "" for n in os_node.findall("vendor") if not n.attrib), ""),
        release_date=_text(os_node, "release-date"), eol_date=_text(os_node, "eol-date"),
        derives_from=derives.get("id") if derives is not None else None,
        devices=frozenset(d.get("id", "") for d in os_node.findall("devices/device")),
        media=tuple(media), trees=tuple(trees),
        cloud_images=tuple(sorted({i.get("arch", "all") for i in os_node.findall("image")
                                   if i.get("cloud-init") == "true"})),
        minimum=_resources(os_node, "minimum"),
        recommended=_resources(os_node, "recommended"), firmware=firmware)


def database_dirs() -> list[Path]:
    """Where libosinfo looks: $OSINFO_SYSTEM_DIR (or /usr/share/osinfo), then the local
    administrator's /etc/osinfo ($OSINFO_LOCAL_DIR), then the user's own."""
    dirs = [Path(os.environ.get("OSINFO_SYSTEM_DIR", SYSTEM_DIR)),
            Path(os.environ.get("OSINFO_LOCAL_DIR", LOCAL_DIR)),
            Path(os.environ.get("OSINFO_USER_DIR",
                                Path(os.environ.get("XDG_CONFIG_HOME",
                                                    Path.home() / ".config")) / "osinfo"))]
    return [d for d in dirs if (d / "os").is_dir()]


def load(dirs: list[Path] | None = None) -> OsDb:
    """Blocking (about half a second for the whole database)."""
    entries: dict[str, OsEntry] = {}
    for base in dirs if dirs is not None else database_dirs():
        for path in sorted((base / "os").glob("*/*.xml")):
            try:
                root = ET.parse(path).getroot()
            except ET.ParseError:
                continue
            for os_node in root.findall("os"):
                entry = parse_os(os_node)
                if entry.id and entry.short_id:
                    entries[entry.id] = entry          # later folders override
    return OsDb(list(entries.values()))


_default: OsDb | None = None
_default_lock = threading.Lock()


def load_default() -> OsDb:
    """The machine's database, read once per process (blocking the first time)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = load()
        return _default
