"""The tags, folders and field values already in use on every connected server: what the
Organize editor completes from, so "prod" is not typed as "Prod" on the next VM."""
from __future__ import annotations

from collections import Counter
from typing import Iterable

from connectors.libvirt.domxml.organize import folder_parts
from connectors.libvirt.model import VMInfo


def all_vms(inventory) -> list[VMInfo]:
    """Every listed VM of an InventoryModel (or anything with host_ids() and vms())."""
    return [vm for conn_id in inventory.host_ids() for vm in inventory.vms(conn_id)]


def known_tags(vms: Iterable[VMInfo]) -> list[str]:
    """Tags in use, most used first (ties by name)."""
    counts = Counter(tag for vm in vms for tag in vm.tags)
    return sorted(counts, key=lambda tag: (-counts[tag], tag.casefold()))


def known_folders(vms: Iterable[VMInfo]) -> list[str]:
    """Every folder in use and each of its parents: "/prod", "/prod/web"."""
    found: set[str] = set()
    for vm in vms:
        parts = folder_parts(vm.folder)
        for depth in range(1, len(parts) + 1):
            found.add("/" + "/".join(parts[:depth]))
    return sorted(found, key=str.casefold)


def common_tags(vms: Iterable[VMInfo]) -> list[str]:
    """Tags any of these VMs has (what a bulk "remove tags" offers)."""
    return sorted({tag for vm in vms for tag in vm.tags}, key=str.casefold)
