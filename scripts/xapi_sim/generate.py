"""Make a pool's state.db: N hosts, each with its control domain, local SR and a PIF on
the pool network; a shared SR and an ISO library; templates; M VMs spread over the
hosts in every power state with a disk, an empty CD drive, a VIF, metrics and guest
metrics (OS, tools, IP address 10.x.y.z from its number); and
snapshots of some. Deterministic for a given seed, so a test can name what it expects
(host i is "xapi-sim-host-<i>", VM j is "vm-<j:04d>", VM j runs when j % 10 < 4, is
paused when j % 10 == 4, suspended when j % 10 == 5, halted otherwise; every 20th VM has
one snapshot)."""
from __future__ import annotations

import random
import uuid as uuidlib

from . import schema
from .statedb import Database
from .vm_state import allowed_operations, vdi_allowed_operations

GIB = 1 << 30
NULL = schema.NULL_REF
TEMPLATES = ["Debian Bookworm 12", "Ubuntu Noble Numbat 24.04", "Rocky Linux 9",
             "Windows Server 2022 (64-bit)", "Windows 11", "Other install media"]


def power_state_of(index: int) -> str:
    slot = index % 10
    return "Running" if slot < 4 else "Paused" if slot == 4 else \
        "Suspended" if slot == 5 else "Halted"


class _Builder:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.db = Database(manifest={"schema_major_vsn": "5", "schema_minor_vsn": "786",
                                     "generation_count": "1"})

    def uuid(self) -> str:
        return str(uuidlib.UUID(int=self.rng.getrandbits(128), version=4))

    def add(self, cls: str, **fields: object) -> str:
        ref = f"OpaqueRef:{self.uuid()}"
        record = schema.new_record(cls, uuid=self.uuid(), **fields)
        self.db.tables.setdefault(cls, {})[ref] = record
        return ref

    def row(self, cls: str, ref: str) -> dict[str, object]:
        return self.db.tables[cls][ref]

    def link(self, cls: str, ref: str, fieldname: str, item: str) -> None:
        items = self.row(cls, ref)[fieldname]
        assert isinstance(items, list)
        items.append(item)

    def mac(self) -> str:
        return "02:" + ":".join(f"{self.rng.randrange(256):02x}" for _ in range(5))


def generate(hosts: int, vms: int, seed: int = 19) -> Database:
    if hosts < 1 or vms < 0:
        raise ValueError("a pool needs at least one host")
    b = _Builder(seed)
    running = [i for i in range(vms) if power_state_of(i) in ("Running", "Paused")]
    per_host = len(running) // hosts + 1
    host_refs: list[str] = []
    shared = b.add("SR", name_label="Shared NFS storage", type="nfs", content_type="user",
                   shared=True, physical_size=64 << 40, other_config={"auto-scan": "true"})
    iso = b.add("SR", name_label="ISO library", type="iso", content_type="iso", shared=True,
                physical_size=1 << 40)
    net = b.add("network", name_label="Pool-wide network associated with eth0",
                bridge="xenbr0", other_config={"automatic": "true"})
    b.add("network", name_label="Host internal management network", bridge="xenapi",
          other_config={"is_guest_installer_network": "true",
                        "is_host_internal_management_network": "true"})
    for h in range(hosts):
        name = f"xapi-sim-host-{h}"
        metrics = b.add("host_metrics", memory_total=max(64, per_host * 2) * GIB,
                        memory_free=max(64, per_host * 2) * GIB, live=True)
        host = b.add("host", name_label=name, hostname=name, address="127.0.0.1",
                     metrics=metrics, enabled=True, name_description="Default install",
                     software_version={"product_brand": "XCP-ng", "product_version": "8.3.0",
                                       "platform_name": "XCP", "xapi": "24.19",
                                       "xen": "4.17.4"},
                     cpu_info={"cpu_count": "16", "socket_count": "2",
                               "vendor": "GenuineIntel", "modelname": "Simulated Xeon"},
                     allowed_operations=["provision", "evacuate", "reboot", "shutdown",
                                         "vm_start", "vm_resume", "vm_migrate"])
        host_refs.append(host)
        dom0_metrics = b.add("VM_metrics", memory_actual=4 * GIB, VCPUs_number=16)
        dom0 = b.add("VM", name_label=f"Control domain on host: {name}",
                      is_control_domain=True, power_state="Running", resident_on=host,
                      domid=0, memory_static_max=4 * GIB, memory_target=4 * GIB,
                      memory_dynamic_max=4 * GIB, memory_dynamic_min=4 * GIB,
                      memory_static_min=4 * GIB, VCPUs_max=16, VCPUs_at_startup=16,
                      metrics=dom0_metrics, domain_type="pv")
        b.row("host", host).update(control_domain=dom0, resident_VMs=[dom0])
        local = b.add("SR", name_label="Local storage", type="ext", content_type="user",
                      physical_size=2 << 40, other_config={"i18n-key": "local-storage"})
        for sr, config in ((local, {"device": "/dev/sda3"}),
                           (shared, {"server": "192.0.2.10", "serverpath": "/export/vms"}),
                           (iso, {"location": "/opt/iso"})):
            pbd = b.add("PBD", host=host, SR=sr, device_config=config, currently_attached=True)
            b.link("SR", sr, "PBDs", pbd)
            b.link("host", host, "PBDs", pbd)
        pif = b.add("PIF", device="eth0", network=net, host=host, MAC=b.mac(),
                    management=True, IP="127.0.0.1", netmask="255.0.0.0")
        b.link("host", host, "PIFs", pif)
        b.link("network", net, "PIFs", pif)
    pool = b.add("pool", name_label="xapi-sim pool", master=host_refs[0], default_SR=shared,
                 suspend_image_SR=shared, crash_dump_SR=shared)
    b.row("pool", pool)["other_config"] = {"memory-ratio-hvm": "0.25"}
    for name in TEMPLATES:
        template = b.add("VM", name_label=name, is_a_template=True, is_default_template=True,
                         memory_static_max=2 * GIB, memory_dynamic_max=2 * GIB,
                         memory_dynamic_min=2 * GIB, memory_static_min=GIB,
                         other_config={"default_template": "true"})
        b.row("VM", template)["allowed_operations"] = allowed_operations(b.row("VM", template))
    placed = {vm: host_refs[n % hosts] for n, vm in enumerate(running)}
    for i in range(vms):
        _vm(b, i, placed.get(i, NULL), shared, net)
    used = sum(int(r["physical_utilisation"]) for r in b.db.tables["VDI"].values()  # type: ignore[call-overload]
               if r["SR"] == shared)
    b.row("SR", shared).update(physical_utilisation=used, virtual_allocation=used)
    return b.db


def _vm(b: _Builder, i: int, host: str, sr: str, net: str) -> None:
    state = power_state_of(i)
    memory = (1 + i % 4) * GIB
    metrics = b.add("VM_metrics", memory_actual=memory if host != NULL else 0,
                    VCPUs_number=1 + i % 4, state=[state.lower()])
    vm = b.add("VM", name_label=f"vm-{i:04d}", name_description=f"Simulated guest {i}",
               power_state=state, resident_on=host, memory_static_max=memory,
               memory_dynamic_max=memory, memory_dynamic_min=memory, memory_target=memory,
               memory_static_min=memory // 2, VCPUs_max=1 + i % 4,
               VCPUs_at_startup=1 + i % 4, metrics=metrics, HVM_boot_policy="BIOS order",
               HVM_boot_params={"order": "cd"}, domid=i + 1 if host != NULL else -1,
               platform={"acpi": "1", "apic": "true", "pae": "true", "viridian": "false"},
               other_config={"base_template_name": TEMPLATES[i % 3]},
               tags=["production"] if i % 7 == 0 else [])
    if host != NULL:
        b.link("host", host, "resident_VMs", vm)
    live = host != NULL
    distro = TEMPLATES[i % 3]
    b.row("VM", vm)["guest_metrics"] = b.add(
        "VM_guest_metrics", live=live, PV_drivers_up_to_date=True,
        os_version={"name": distro, "distro": distro.split()[0].lower(),
                    "uname": "6.1.0-28-amd64"},
        PV_drivers_version={"major": "8", "minor": "3", "micro": "0"},
        networks={"0/ip": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}",
                  "0/ipv4/0": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"},
        memory={}, disks={}, other={"has-vendor-device": "0"})
    size = (8 + 8 * (i % 3)) * GIB
    vdi = b.add("VDI", name_label=f"vm-{i:04d} disk 0", SR=sr, virtual_size=size,
                physical_utilisation=size // 4,
                allowed_operations=vdi_allowed_operations(host != NULL, "user"))
    b.link("SR", sr, "VDIs", vdi)
    vbd = b.add("VBD", VM=vm, VDI=vdi, device="xvda", userdevice="0", bootable=True,
                currently_attached=live)
    b.link("VDI", vdi, "VBDs", vbd)
    cd = b.add("VBD", VM=vm, device="xvdd", userdevice="3", type="CD", mode="RO", empty=True,
               currently_attached=live)
    vif = b.add("VIF", VM=vm, network=net, device="0", MAC=b.mac(), currently_attached=live)
    b.link("network", net, "VIFs", vif)
    b.row("VM", vm).update(VBDs=[vbd, cd], VIFs=[vif])
    if state == "Suspended":
        image = b.add("VDI", name_label=f"Suspend image for vm-{i:04d}", SR=sr,
                      type="suspend", virtual_size=memory, physical_utilisation=memory)
        b.link("SR", sr, "VDIs", image)
        b.row("VM", vm)["suspend_VDI"] = image
    if i % 20 == 0:
        snap = b.add("VM", name_label=f"vm-{i:04d} before upgrade", is_a_snapshot=True,
                     is_a_template=True, snapshot_of=vm, power_state="Halted",
                     snapshot_time=schema.DateTime("20261201T03:00:00Z"),
                     memory_static_max=memory, VCPUs_max=1 + i % 4)
        b.row("VM", snap)["allowed_operations"] = allowed_operations(b.row("VM", snap))
        b.row("VM", vm)["snapshots"] = [snap]
    b.row("VM", vm)["allowed_operations"] = allowed_operations(b.row("VM", vm))
