"""Creating a VM on a host: its volumes (uploaded, copied or new), its definition (built
with the domxml builders), and its first start, as one job that undoes itself.

Every volume the job makes is remembered; a failure or a cancel before the domain is
defined deletes them again, and a failure to start deletes the definition too, so the
host is left as it was and the user reads why. Once the domain is defined the job can
no longer be cancelled (``CreateJob.defined``): what is left is starting it.

Network installs boot the fetched kernel and initrd once, as virt-install does: the
install definition runs as a transient domain (createXML, on reboot it stops), and the
final one — booting from disk — is defined over it at once (defineXML), so the next
start boots the installed system. The kernel and initrd volumes go when QEMU has loaded
them. An ISO install needs no such switch: the disk boots first and a blank disk falls
through to the CD/DVD, whose disc stays in the drive until the user ejects it.

Blocking throughout: run in the host's worker pool, without the call timeout (uploads
take as long as they take; the job has its own cancel).
"""
from __future__ import annotations

import enum
import os
import tempfile
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Callable

import libvirt

from connectors.libvirt import cloudinit, domxml, install_tree, transfer
from connectors.libvirt.made_volumes import MadeVolumes
from connectors.libvirt.model import ActionError
from connectors.libvirt.readers import error_text

LIBOSINFO_NS = "http://libosinfo.org/xmlns/libvirt/domain/1.0"


class Source(enum.Enum):
    ISO = "iso"              # install media: an ISO in a pool, or uploaded from here
    URL = "url"              # network install from an HTTP(S) tree
    PXE = "pxe"              # network boot
    IMPORT = "import"        # an existing disk image
    CLOUD = "cloud"          # a cloud image plus a cloud-init seed
    KERNEL = "kernel"        # a kernel and initrd on the host (Xen PV direct boot)


class CreateCancelled(ActionError):
    """Cancelled by the user before the VM was defined; nothing was left behind."""


class CreateFailed(ActionError):
    """Creating failed; the message says why, and what was made was removed."""


@dataclass(frozen=True)
class VolumeRef:
    pool: str
    name: str


@dataclass(frozen=True)
class Upload:
    """A file on this computer to copy into ``pool`` as a new volume ``name``."""

    path: str
    pool: str
    name: str
    format: str = "raw"


@dataclass(frozen=True)
class NewDisk:
    pool: str
    size_bytes: int
    format: str = "qcow2"


@dataclass(frozen=True)
class CreateSpec:
    name: str
    source: Source
    domain_type: str = "kvm"          # kvm, qemu, xen
    os_type: str = "hvm"              # hvm, xen (Xen PV)
    arch: str = "x86_64"
    machine: str | None = None        # None: domxml.default_machine
    memory_mib: int = 1024
    vcpus: int = 1
    topology: tuple[int, int, int] | None = None     # sockets, cores, threads
    cpu_mode: str = "host-passthrough"     # KVM: host-passthrough, host-model, default
    firmware: str = "bios"            # bios, efi
    secure_boot: bool = False
    tpm: bool = False
    # the source (one of these, by ``source``)
    iso: VolumeRef | Upload | None = None
    kernel_url: str | None = None
    initrd_url: str | None = None
    kernel_args: str = ""
    image: VolumeRef | Upload | None = None           # IMPORT and CLOUD's base image
    image_format: str = "qcow2"
    linked: bool = False               # CLOUD: the base as a backing file, not a copy
    cloud: cloudinit.CloudInitConfig | None = None
    kernel_path: str | None = None     # KERNEL: files on the host
    initrd_path: str | None = None
    work_pool: str | None = None       # where fetched kernels and seeds are uploaded
    # devices
    disk: NewDisk | None = None        # a new disk (ISO, URL, PXE); CLOUD: its size
    disk_bus: str = "virtio"
    cdrom_bus: str = "sata"
    network: tuple[str, str] | None = None      # ("network", name), ("bridge", name), ("user", "")
    nic_model: str = "virtio"
    graphics: str | None = "vnc"
    graphics_password: str | None = None
    video: str | None = "virtio"
    os_id: str | None = None           # osinfo-db id, kept in the metadata as virt-install does
    autostart: bool = False
    start: bool = True


@dataclass
class CreateJob:
    """Progress and cancel, shared between the worker and the loop thread."""

    phase: str = "Preparing"
    step: int = 0
    steps: int = 1
    defined: bool = False
    key: str = ""                     # the new domain's UUID once defined
    made: list[str] = field(default_factory=list)    # "pool/volume" made so far
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _transfer: transfer.TransferJob | None = field(default=None, repr=False)
    _fetched: list[int] = field(default_factory=lambda: [0, 0], repr=False)

    def cancel(self) -> bool:
        """False once the domain is defined: from there the job runs to its end."""
        if self.defined:
            return False
        self._cancel.set()
        current = self._transfer
        if current is not None:
            current.cancel()
        return True

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def fraction(self) -> float:
        inner = 0.0
        current = self._transfer
        if current is not None and current.total:
            inner = current.fraction
        elif self._fetched[1]:
            inner = min(1.0, self._fetched[0] / self._fetched[1])
        return min(1.0, (self.step + inner) / max(1, self.steps))

    def _begin(self, phase: str) -> None:
        if self._cancel.is_set():
            raise CreateCancelled("Creating the VM was cancelled; nothing was left behind.")
        self.phase = phase
        self._transfer = None
        self._fetched[:] = [0, 0]


def plan_steps(spec: CreateSpec) -> int:
    steps = 2                                           # define, start
    steps += sum(isinstance(x, Upload) for x in (spec.iso, spec.image))
    steps += 2 * (spec.source is Source.URL)           # kernel and initrd
    steps += spec.cloud is not None                     # the seed
    steps += spec.disk is not None or spec.source is Source.CLOUD
    return steps


class _Undo(MadeVolumes):
    """What to remove again if the job fails or is cancelled."""

    def __init__(self, conn: libvirt.virConnect, job: CreateJob) -> None:
        super().__init__(job.made)
        self.conn, self.job = conn, job
        self.domain: libvirt.virDomain | None = None
        self.temp_files: list[str] = []

    def run(self) -> None:
        if self.domain is not None:
            try:
                if self.domain.isActive():
                    self.domain.destroy()
            except libvirt.libvirtError:
                pass
            for flags in (libvirt.VIR_DOMAIN_UNDEFINE_NVRAM | libvirt.VIR_DOMAIN_UNDEFINE_TPM,
                          libvirt.VIR_DOMAIN_UNDEFINE_NVRAM, 0):
                try:
                    if self.domain.isPersistent():
                        self.domain.undefineFlags(flags)
                    break
                except libvirt.libvirtError:
                    continue
        self.delete_volumes()
        self.cleanup_files()

    def cleanup_files(self) -> None:
        for path in self.temp_files:
            try:
                os.unlink(path)
            except OSError:
                pass


def _free_name(pool: libvirt.virStoragePool, wanted: str) -> str:
    taken = set(pool.listVolumes())
    if wanted not in taken:
        return wanted
    stem, dot, ext = wanted.partition(".")
    for n in range(2, 1000):
        name = f"{stem}-{n}{dot}{ext}"
        if name not in taken:
            return name
    raise CreateFailed(f"No free volume name like {wanted} in pool {pool.name()}.")


def _volume_xml(name: str, capacity: int, fmt: str, backing: tuple[str, str] | None = None
                ) -> str:
    vol = ET.Element("volume")
    ET.SubElement(vol, "name").text = name
    ET.SubElement(vol, "capacity", unit="bytes").text = str(capacity)
    ET.SubElement(vol, "allocation", unit="bytes").text = "0"
    target = ET.SubElement(vol, "target")
    ET.SubElement(target, "format", type=fmt)
    if backing is not None:
        store = ET.SubElement(vol, "backingStore")
        ET.SubElement(store, "path").text = backing[0]
        ET.SubElement(store, "format", type=backing[1])
    return ET.tostring(vol, encoding="unicode")


def _pool(conn: libvirt.virConnect, name: str) -> libvirt.virStoragePool:
    pool = conn.storagePoolLookupByName(name)
    if not pool.isActive():
        raise CreateFailed(f"The storage pool {name} is not active: start it first.")
    return pool


def _upload(conn: libvirt.virConnect, upload: Upload, job: CreateJob, undo: _Undo,
            what: str) -> libvirt.virStorageVol:
    job._begin(f"Uploading {what} {os.path.basename(upload.path)}")
    size = os.path.getsize(upload.path)
    pool = _pool(conn, upload.pool)
    name = _free_name(pool, upload.name)
    vol = undo.volume(pool.createXML(_volume_xml(name, size, "raw"), 0))
    job._transfer = transfer.TransferJob()
    if job.cancelled:
        job._transfer.cancel()
    try:
        transfer.upload(conn, vol, upload.path, job._transfer)
    except transfer.TransferCancelled:
        raise CreateCancelled("Creating the VM was cancelled; nothing was left behind."
                              ) from None
    except libvirt.libvirtError as err:
        raise CreateFailed(f"Uploading {os.path.basename(upload.path)} to the pool "
                           f"{upload.pool} failed: {error_text(err)}") from None
    job._transfer = None
    job.step += 1
    if upload.format != "raw":
        pool.refresh(0)          # the pool probes the image's real format (qcow2)
        vol = pool.storageVolLookupByName(name)
    return vol


def _lookup(conn: libvirt.virConnect, ref: VolumeRef) -> libvirt.virStorageVol:
    try:
        return _pool(conn, ref.pool).storageVolLookupByName(ref.name)
    except libvirt.libvirtError:
        raise CreateFailed(f"There is no volume {ref.name} in the pool {ref.pool}.") from None


def _fetch_to_pool(conn: libvirt.virConnect, url: str, pool_name: str, name: str,
                   job: CreateJob, undo: _Undo, what: str) -> libvirt.virStorageVol:
    job._begin(f"Fetching the {what}")
    fd, local = tempfile.mkstemp(prefix="hvconsole-fetch-")
    os.close(fd)
    os.unlink(local)
    undo.temp_files.append(local)
    try:
        install_tree.fetch(url, local, job._cancel, job._fetched)
    except install_tree.FetchCancelled:
        raise CreateCancelled("Creating the VM was cancelled; nothing was left behind."
                              ) from None
    except install_tree.TreeError as err:
        raise CreateFailed(str(err)) from None
    vol = _upload(conn, Upload(local, pool_name, name), job, undo, f"the {what}")
    os.unlink(local)
    return vol


def _volume_format(vol: libvirt.virStorageVol, default: str) -> str:
    fmt = ET.fromstring(vol.XMLDesc(0)).find("target/format")
    value = fmt.get("type", default) if fmt is not None else default
    return "raw" if value in ("iso", "none", "") else value


def build_domain(spec: CreateSpec) -> domxml.Domain:
    """The definition without disks or NICs (they need the volumes first)."""
    graphics = spec.graphics
    dom = domxml.new_domain(spec.name, domain_type=spec.domain_type, arch=spec.arch,
                            machine=spec.machine, memory_kib=spec.memory_mib * 1024,
                            vcpus=spec.vcpus, os_type=spec.os_type,
                            firmware="efi" if spec.firmware == "efi" else None,
                            secure_boot=spec.secure_boot if spec.firmware == "efi" else None,
                            graphics=graphics, video=spec.video)
    if spec.domain_type == "kvm" and spec.cpu_mode != "host-passthrough":
        if spec.cpu_mode == "host-model":
            cpu = dom.ensure_cpu()
            cpu.set_mode("host-model")
            cpu.check, cpu.migratable = None, None
        else:
            dom.drop("cpu")           # the hypervisor's own model (qemu64 on x86)
    if spec.topology is not None and spec.domain_type != "xen":
        sockets, cores, threads = spec.topology
        dom.ensure_cpu().topology = domxml.Topology(sockets=sockets, cores=cores,
                                                    threads=threads)
    if spec.graphics_password:
        for g in dom.graphics:
            g.passwd = spec.graphics_password
    if spec.tpm:
        q35 = "q35" in (dom.os.machine or "")
        dom.add_device(domxml.new_tpm("tpm-crb" if q35 else "tpm-tis"))
    if spec.os_id:
        holder = ET.Element(f"{{{LIBOSINFO_NS}}}libosinfo")
        ET.SubElement(holder, f"{{{LIBOSINFO_NS}}}os", id=spec.os_id)
        dom.set_metadata_entry(holder, "libosinfo")
    return dom


def _add_nic(dom: domxml.Domain, spec: CreateSpec, boot: int | None) -> None:
    if spec.network is None:
        return
    kind, name = spec.network
    mac = domxml.random_mac(spec.domain_type)
    model = None if spec.domain_type == "xen" and spec.os_type != "hvm" else spec.nic_model
    if kind == "network":
        nic = domxml.new_interface(network=name, mac=mac, model=model, boot_order=boot)
    elif kind == "bridge":
        nic = domxml.new_interface(bridge=name, mac=mac, model=model, boot_order=boot)
    else:
        nic = domxml.new_interface(user=True, mac=mac, model=model, boot_order=boot)
    dom.add_device(nic)


def assemble(dom: domxml.Domain, spec: CreateSpec, main_disk: tuple[str, str] | None,
             iso: str | None, seed: str | None) -> None:
    """Adds the disks (``main_disk``: path and format), the CD/DVDs, the NIC and the
    boot order: the disk first, then the disc or the network (a blank disk falls
    through to them), or the kernel for a PV guest."""
    boot = 1
    pv = spec.domain_type == "xen" and spec.os_type != "hvm"
    if main_disk is not None:
        path, fmt = main_disk
        bus = "xen" if pv else spec.disk_bus
        dom.add_device(domxml.new_disk(domxml.next_target(dom, bus), bus=bus, file=path,
                                       driver_type=fmt, boot_order=boot))
        boot += 1
    for disc, order in ((iso, boot), (seed, None)):
        if disc is not None:
            dom.add_device(domxml.new_cdrom(domxml.next_target(dom, spec.cdrom_bus),
                                            bus=spec.cdrom_bus, file=disc, boot_order=order))
    if iso is not None:
        boot += 1
    _add_nic(dom, spec, boot if spec.source is Source.PXE else None)
    if spec.source is Source.KERNEL:
        dom.os.kernel = spec.kernel_path
        dom.os.initrd = spec.initrd_path
        dom.os.cmdline = spec.kernel_args or None
    if pv:
        for d in dom.devices:                       # PV guests boot by kernel, not order
            d.boot_order = None


def preview_xml(spec: CreateSpec, pool_paths: dict[str, str]) -> str:
    """The definition as it will be, with the volumes' paths foreseen (``pool_paths``:
    pool name -> its folder), for the wizard's Show XML."""
    dom = build_domain(spec)

    def path(pool: str | None, name: str) -> str:
        return f"{pool_paths.get(pool or '', '/' + (pool or 'pool'))}/{name}"

    main = iso = seed = None
    if spec.source in (Source.IMPORT, Source.CLOUD) and spec.image is not None:
        if spec.source is Source.IMPORT:
            main = (path(spec.image.pool, spec.image.name), spec.image_format)
        else:
            pool = spec.disk.pool if spec.disk else spec.image.pool
            main = (path(pool, f"{spec.name}.qcow2"), "qcow2")
    elif spec.disk is not None:
        ext = "qcow2" if spec.disk.format == "qcow2" else "img"
        main = (path(spec.disk.pool, f"{spec.name}.{ext}"), spec.disk.format)
    if spec.source is Source.ISO and spec.iso is not None:
        iso = path(spec.iso.pool, spec.iso.name)
    if spec.cloud is not None:
        seed = path(spec.work_pool, f"{spec.name}-cidata.iso")
    assemble(dom, spec, main, iso, seed)
    if spec.source is Source.URL:
        dom.os.kernel = path(spec.work_pool, f"{spec.name}-kernel")
        dom.os.initrd = path(spec.work_pool, f"{spec.name}-initrd")
        dom.os.cmdline = spec.kernel_args or None
        dom.description = ("First boot only: the installer's kernel and initrd; then the "
                           "VM boots from its disk.")
    return dom.to_xml()


def create_domain(conn: libvirt.virConnect, spec: CreateSpec, job: CreateJob) -> str:
    """Makes the VM; returns its UUID. Raises CreateCancelled or CreateFailed (with
    everything made removed again)."""
    job.steps = plan_steps(spec)
    undo = _Undo(conn, job)
    try:
        return _create(conn, spec, job, undo)
    except (CreateCancelled, CreateFailed):
        undo.run()
        raise
    except libvirt.libvirtError as err:
        undo.run()
        raise CreateFailed(f"Could not create {spec.name}: {error_text(err)}") from None
    except BaseException:
        undo.run()
        raise


def _create(conn: libvirt.virConnect, spec: CreateSpec, job: CreateJob, undo: _Undo) -> str:
    job._begin("Checking the name")
    try:
        conn.lookupByName(spec.name)
        raise CreateFailed(f"A VM named {spec.name} already exists on this host.")
    except libvirt.libvirtError:
        pass
    dom = build_domain(spec)
    main_disk: libvirt.virStorageVol | None = None
    main_format = "qcow2"
    kernel_vol = initrd_vol = None

    if spec.source in (Source.IMPORT, Source.CLOUD):
        if isinstance(spec.image, Upload):
            base = _upload(conn, spec.image, job, undo, "the disk image")
        elif isinstance(spec.image, VolumeRef):
            base = _lookup(conn, spec.image)
        else:
            raise CreateFailed("No disk image was chosen.")
        base_format = _volume_format(base, spec.image_format)
        if spec.source is Source.IMPORT:
            main_disk, main_format = base, base_format
        else:
            main_disk = _cloud_disk(conn, spec, base, base_format, job, undo)
    elif spec.disk is not None:
        job._begin("Creating the disk")
        pool = _pool(conn, spec.disk.pool)
        ext = "qcow2" if spec.disk.format == "qcow2" else "img"
        name = _free_name(pool, f"{spec.name}.{ext}")
        main_disk = undo.volume(pool.createXML(
            _volume_xml(name, spec.disk.size_bytes, spec.disk.format), 0))
        main_format = spec.disk.format
        job.step += 1

    iso_vol = None
    if spec.source is Source.ISO:
        if isinstance(spec.iso, Upload):
            iso_vol = _upload(conn, spec.iso, job, undo, "the ISO")
        elif isinstance(spec.iso, VolumeRef):
            iso_vol = _lookup(conn, spec.iso)
        else:
            raise CreateFailed("No installation ISO was chosen.")
    if spec.source is Source.URL:
        if not (spec.kernel_url and spec.initrd_url and spec.work_pool):
            raise CreateFailed("The network install has no kernel, initrd or pool.")
        kernel_vol = _fetch_to_pool(conn, spec.kernel_url, spec.work_pool,
                                    f"{spec.name}-kernel", job, undo, "installer's kernel")
        initrd_vol = _fetch_to_pool(conn, spec.initrd_url, spec.work_pool,
                                    f"{spec.name}-initrd", job, undo, "installer's initrd")
    seed_vol = None
    if spec.cloud is not None:
        seed_vol = _seed(conn, spec, job, undo)

    job._begin("Defining the VM")
    assemble(dom, spec, (main_disk.path(), main_format) if main_disk is not None else None,
             iso_vol.path() if iso_vol is not None else None,
             seed_vol.path() if seed_vol is not None else None)
    if spec.source is Source.URL and kernel_vol is not None and initrd_vol is not None:
        install = dom.copy()
        install.os.kernel = kernel_vol.path()
        install.os.initrd = initrd_vol.path()
        install.os.cmdline = spec.kernel_args or None
        install.on_reboot = "destroy"
        undo.domain = conn.createXML(install.to_xml(), 0)
        dom.uuid = undo.domain.UUIDString()     # the final definition is of the same VM
        job.phase = "Starting the installer"
    if job.cancelled:
        raise CreateCancelled("Creating the VM was cancelled; nothing was left behind.")
    final_xml = dom.to_xml()
    new = conn.defineXML(final_xml)
    undo.domain = new
    job.defined = True
    job.key = new.UUIDString()
    job.step += 1
    try:
        if spec.autostart:
            new.setAutostart(1)
        if spec.start and not new.isActive():
            job.phase = "Starting the VM"
            new.create()
    except libvirt.libvirtError as err:
        raise CreateFailed(f"{spec.name} was defined but did not start, so it was removed "
                           f"again: {error_text(err)}") from None
    job.step += 1
    for vol in (kernel_vol, initrd_vol):            # QEMU has loaded them
        if vol is not None:
            try:
                vol.delete(0)
            except libvirt.libvirtError:
                pass
    undo.cleanup_files()
    job.phase = "Done"
    return job.key


def _cloud_disk(conn: libvirt.virConnect, spec: CreateSpec, base: libvirt.virStorageVol,
                base_format: str, job: CreateJob, undo: _Undo) -> libvirt.virStorageVol:
    job._begin("Creating the disk from the cloud image")
    pool_name = spec.disk.pool if spec.disk is not None else base.storagePoolLookupByVolume(
        ).name()
    pool = _pool(conn, pool_name)
    base_capacity = int(base.info()[1])
    size = max(base_capacity, spec.disk.size_bytes if spec.disk is not None else 0)
    name = _free_name(pool, f"{spec.name}.qcow2")
    if spec.linked:
        vol = undo.volume(pool.createXML(
            _volume_xml(name, size, "qcow2", (base.path(), base_format)), 0))
    else:
        vol = undo.volume(pool.createXMLFrom(
            _volume_xml(name, base_capacity, "qcow2"), base, 0))
        if size > base_capacity:
            vol.resize(size, 0)
    job.step += 1
    return vol


def _seed(conn: libvirt.virConnect, spec: CreateSpec, job: CreateJob, undo: _Undo
          ) -> libvirt.virStorageVol:
    assert spec.cloud is not None
    job._begin("Making the cloud-init seed")
    pool = spec.work_pool or (spec.disk.pool if spec.disk else None)
    if pool is None:
        raise CreateFailed("No storage pool was chosen for the cloud-init seed.")
    folder = tempfile.mkdtemp(prefix="hvconsole-seed-")
    local = os.path.join(folder, "seed.iso")
    undo.temp_files.append(local)
    try:
        cloudinit.build_seed(spec.cloud, local)
        return _upload(conn, Upload(local, pool, f"{spec.name}-cidata.iso"), job, undo,
                       "the cloud-init seed")
    finally:
        try:
            os.unlink(local)
        except OSError:
            pass
        os.rmdir(folder)


Progress = Callable[[CreateJob], None]
