"""Writing a VM's tags, folder, custom fields and description into the domain itself
(virDomainSetMetadata), so that they travel with the VM. Blocking: run through
``LibvirtHost.run_action`` in the host's worker pool.

Both the running domain and its definition are written when both exist (AFFECT_LIVE |
AFFECT_CONFIG): writing only the definition would leave the live XML, which the
inventory reads while the VM runs, showing the old values until the next boot. The
metadata-change event libvirt then sends re-reads the VM (subscription.py), which is also
how a ``virsh metadata ... --set`` made elsewhere reaches the tree.

libvirt replaces our whole element on each write, so a change is read-modify-write of
the current entry (``OrgChange.apply``); two consoles writing the same VM in the same
instant can lose one of the two edits, as with any other libvirt setting.
"""
from __future__ import annotations

from typing import cast

import libvirt

from connectors.libvirt.domxml import organize
from connectors.libvirt.domxml.organize import (ORGANIZE_NS, ORGANIZE_PREFIX, OrgChange,
                                                Organization)
from connectors.libvirt.model import ActionError

_NOT_THERE = (libvirt.VIR_ERR_NO_DOMAIN_METADATA,)
_REFUSED = (libvirt.VIR_ERR_NO_SUPPORT, libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED)


def scope(dom: libvirt.virDomain) -> int:
    """The AFFECT flags that reach every copy of the domain that exists."""
    flags = 0
    if dom.isActive():
        flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
    if dom.isPersistent():
        flags |= libvirt.VIR_DOMAIN_AFFECT_CONFIG
    return flags


def read_organization(dom: libvirt.virDomain) -> Organization:
    """The entry as the definition holds it (the live one for a transient VM)."""
    flags = (libvirt.VIR_DOMAIN_AFFECT_CONFIG if dom.isPersistent()
             else libvirt.VIR_DOMAIN_AFFECT_LIVE)
    try:
        text = dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, ORGANIZE_NS, flags)
    except libvirt.libvirtError as err:
        if err.get_error_code() in _NOT_THERE:
            return organize.EMPTY
        raise
    return organize.from_text(text)


def change_organization(conn: libvirt.virConnect, key: str,
                        change: OrgChange) -> Organization:
    """Applies ``change`` to the VM's entry and writes it back; returns what was written.
    An entry left empty is removed rather than written empty."""
    dom = conn.lookupByUUIDString(key)
    before = read_organization(dom)
    after = change.apply(before)
    if after == before:
        return after
    text = None if after.is_empty else organize.to_text(after)
    _set(dom, libvirt.VIR_DOMAIN_METADATA_ELEMENT, text, ORGANIZE_PREFIX, ORGANIZE_NS)
    return after


def set_description(conn: libvirt.virConnect, key: str, text: str) -> None:
    """libvirt's own ``<description>`` ("" removes it), as ``virsh desc`` sets it."""
    dom = conn.lookupByUUIDString(key)
    _set(dom, libvirt.VIR_DOMAIN_METADATA_DESCRIPTION, text.strip() or None, None, None)


def _set(dom: libvirt.virDomain, kind: int, text: str | None, key: str | None,
         uri: str | None) -> None:
    try:
        # libvirt-python annotates these as str; None (remove, or not applicable) is
        # what libvirt's C API takes for them.
        dom.setMetadata(kind, cast(str, text), cast(str, key), cast(str, uri), scope(dom))
    except libvirt.libvirtError as err:
        if err.get_error_code() in _REFUSED:
            raise ActionError(
                f"{dom.name()}'s host cannot keep tags, folders, fields or descriptions "
                f"in the VM's metadata ({err.get_error_message()}).") from None
        raise
