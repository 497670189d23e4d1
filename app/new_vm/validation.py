"""What each page of the New VM wizard refuses, in sentences, checked against what the
host said it offers (HostFacts: its daemon's capabilities, memory, pools, names).

Every function returns the problems of one page, most important first; an empty list
lets the user go on. ``source_offers`` says per source whether this host can do it and,
when not, why: a source the host cannot do is shown disabled with that reason.
"""
from __future__ import annotations

import re

from connectors.libvirt import cloudinit
from connectors.libvirt.capabilities import YES, Offer
from connectors.libvirt.create_ops import Source
from connectors.libvirt.host_facts import HostFacts

from .plan import GIB, MIB, VmPlan

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def size_text(n_bytes: float) -> str:
    for unit, scale in (("GiB", GIB), ("MiB", MIB)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.1f} {unit}".replace(".0 ", " ")
    return f"{int(n_bytes)} bytes"


def hypervisors(facts: HostFacts) -> list[tuple[str, str]]:
    """(domain type, OS type) this host can create, fastest first."""
    if facts.is_xen:
        return [key for key in (("xen", "xen"), ("xen", "hvm")) if facts.caps_for(*key)]
    return [(t, "hvm") for t in facts.host.domain_types("hvm", "x86_64")
            if facts.caps_for(t, "hvm")]


def source_offers(facts: HostFacts) -> dict[Source, Offer]:
    offers: dict[Source, Offer] = {}
    kinds = hypervisors(facts)
    if facts.is_xen:
        pv = ("xen", "xen") in kinds
        hvm = ("xen", "hvm") in kinds
        no_hvm = Offer(False, "This Xen host cannot run HVM guests (its CPU offers no "
                              "hardware virtualization to Xen here), so only PV guests, "
                              "which boot a kernel and initrd, can be created.")
        for source in (Source.ISO, Source.PXE, Source.IMPORT):
            offers[source] = YES if hvm else no_hvm
        pv_only = Offer(False, "On Xen, HVConsole creates a PV guest from a kernel and "
                               "initrd on the host; network installs and cloud images "
                               "are offered for KVM hosts.")
        offers[Source.URL] = offers[Source.CLOUD] = pv_only
        offers[Source.KERNEL] = YES if pv else Offer(
            False, "This Xen host runs no PV guests.")
        return offers
    if not kinds:
        none = Offer(False, "This host offers no x86_64 hypervisor HVConsole can use.")
        return {s: none for s in Source}
    offers = {s: YES for s in Source}
    offers[Source.KERNEL] = Offer(False, "Booting a kernel and initrd from the host's "
                                         "files is for Xen PV guests; on KVM use a "
                                         "network install.")
    return offers


def _pool_problem(facts: HostFacts, name: str, what: str, need: int = 0) -> str:
    pool = facts.pool(name)
    if not name or pool is None:
        return f"Choose a storage pool for {what}."
    if not pool.active:
        return f"The storage pool {name} is not active: start it, or choose another."
    if need and pool.available < need:
        return (f"The storage pool {name} has {size_text(pool.available)} free; "
                f"{what} needs {size_text(need)}.")
    return ""


def source_problems(plan: VmPlan, facts: HostFacts) -> list[str]:
    offer = source_offers(facts).get(plan.source, YES)
    if not offer:
        return [offer.reason]
    found: list[str] = []
    if plan.checking:
        return ["Looking at the chosen image or tree…"]
    if plan.source in (Source.ISO, Source.IMPORT, Source.CLOUD):
        what = {Source.ISO: "the ISO", Source.IMPORT: "the disk image",
                Source.CLOUD: "the cloud image"}[plan.source]
        if plan.from_local:
            if not plan.local_path:
                found.append(f"Choose {what} on this computer.")
            elif plan.media_error:
                found.append(plan.media_error)
            else:
                problem = _pool_problem(facts, plan.upload_pool, what, plan.upload_size())
                if problem:
                    found.append(problem)
        elif plan.volume is None:
            found.append(f"Choose {what} in one of the host's storage pools.")
        elif plan.media_error:
            found.append(plan.media_error)
        if plan.source is Source.ISO and plan.media is not None and not plan.media.bootable:
            found.append("This ISO image is not bootable (it has no El Torito boot record): "
                         "choose an installation disc.")
    elif plan.source is Source.URL:
        if not plan.url:
            found.append("Type the URL of the distribution's install tree.")
        elif plan.tree_error:
            found.append(plan.tree_error)
        elif plan.tree is None:
            found.append("Checking the install tree…")
        else:
            problem = _pool_problem(facts, plan.upload_pool, "the installer's kernel")
            if problem:
                found.append(problem)
    elif plan.source is Source.KERNEL:
        if not plan.kernel_path.startswith("/"):
            found.append("Give the kernel's full path on the host.")
        if plan.initrd_path and not plan.initrd_path.startswith("/"):
            found.append("Give the initrd's full path on the host.")
    if plan.source is Source.CLOUD:
        found += cloudinit.problems(cloudinit.CloudInitConfig(
            hostname=plan.cloud_hostname or "cloud-vm", user=plan.cloud_user,
            password=plan.cloud_password or None,
            ssh_keys=tuple(k for k in plan.cloud_ssh_key.splitlines() if k.strip())))
    return found


def os_problems(plan: VmPlan, facts: HostFacts) -> list[str]:
    return [] if plan.os is not None else ["Choose the operating system (or Generic)."]


def resources_problems(plan: VmPlan, facts: HostFacts) -> list[str]:
    found: list[str] = []
    caps = facts.caps_for(plan.domain_type, plan.os_type)
    if caps is None:
        return [f"This host offers no {plan.domain_type} hypervisor for these guests."]
    need_kib = plan.memory_mib * 1024
    if plan.memory_mib < 64:
        found.append("Give the VM at least 64 MiB of memory.")
    elif need_kib > facts.total_memory_kib:
        found.append(f"This host has {size_text(facts.total_memory_kib * 1024)} of memory "
                     f"in all; the VM cannot have {size_text(plan.memory_mib * MIB)}.")
    elif need_kib > facts.available_memory_kib:
        found.append(f"This host has {size_text(facts.available_memory_kib * 1024)} free "
                     f"now; a VM with {size_text(plan.memory_mib * MIB)} would not start.")
    if plan.sockets * plan.cores * plan.threads != plan.vcpus:
        found.append(f"{plan.sockets} sockets × {plan.cores} cores × {plan.threads} threads "
                     f"is not {plan.vcpus} vCPUs.")
    vcpus = caps.vcpus(plan.vcpus)
    if not vcpus:
        found.append(vcpus.reason)
    if plan.xen_pv:
        return found
    if plan.firmware == "efi":
        for offer in (caps.uefi(), caps.secure_boot() if plan.secure_boot else YES):
            if not offer:
                found.append(offer.reason)
    if plan.tpm:
        offer = caps.tpm("2.0")
        if not offer:
            found.append(offer.reason)
    return found


def hardware_problems(plan: VmPlan, facts: HostFacts) -> list[str]:
    found: list[str] = []
    if plan.disk_enabled and plan.source in (Source.ISO, Source.URL, Source.PXE):
        problem = _pool_problem(facts, plan.disk_pool, "the new disk")
        if problem:
            found.append(problem)
        if plan.disk_gib < 1:
            found.append("The new disk needs at least 1 GiB.")
    if plan.network_kind == "network":
        nets = dict(facts.networks)
        if plan.network_name not in nets:
            found.append("Choose a virtual network.")
        elif not nets[plan.network_name]:
            found.append(f"The virtual network {plan.network_name} is not active: start it, "
                         "or choose another.")
    elif plan.network_kind == "bridge" and not plan.network_name.strip():
        found.append("Type the name of the host's bridge (e.g. br0).")
    if plan.source is Source.PXE and plan.network_kind in ("none", "user"):
        found.append("Network boot needs a virtual network or a bridge with a PXE server "
                     "on it.")
    caps = facts.caps_for(plan.domain_type, plan.os_type)
    if plan.graphics != "none" and caps is not None and caps.graphics_types:
        offer = caps.graphics(plan.graphics)
        if not offer:
            found.append(offer.reason)
    if plan.graphics != "none" and not plan.xen_pv and caps is not None and caps.video_models:
        offer = caps.video(plan.video)
        if not offer:
            found.append(offer.reason)
    if plan.graphics == "vnc" and len(plan.graphics_password) > 8:
        found.append("A VNC password has at most 8 characters (VNC uses only those).")
    return found


def summary_problems(plan: VmPlan, facts: HostFacts, taken: frozenset[str] = frozenset()
                     ) -> list[str]:
    name = plan.name.strip()
    if not name:
        return ["Give the VM a name."]
    if not NAME.match(name) or len(name) > 64:
        return ["A name starts with a letter or digit and holds only letters, digits and "
                ". _ + - (at most 64)."]
    if name in facts.names or name in taken:
        return [f"A VM named {name} already exists on this host."]
    return []


PAGES = (source_problems, os_problems, resources_problems, hardware_problems)


