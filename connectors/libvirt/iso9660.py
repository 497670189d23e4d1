"""What an ISO 9660 image says about itself: its labels (for osinfo-db's matching) and
whether a firmware can boot it.

Only the volume descriptors are read (from sector 16 on, a few KiB), so an ISO on a
remote host costs one small ranged download through the libvirt connection, not the
whole image. Pure functions over bytes: the reading is the caller's (a local file, or
``read_volume_head`` in create_ops.py).
"""
from __future__ import annotations

from dataclasses import dataclass

from connectors.libvirt.osinfo import DiscLabel

SECTOR = 2048
FIRST_DESCRIPTOR = 16 * SECTOR
HEAD_BYTES = FIRST_DESCRIPTOR + 8 * SECTOR      # the descriptors of any ordinary disc
EL_TORITO = b"EL TORITO SPECIFICATION"


class NotAnIso(ValueError):
    """The bytes are no ISO 9660 image; the message says so in words."""


@dataclass(frozen=True)
class IsoFacts:
    label: DiscLabel
    bootable: bool          # an El Torito boot catalogue (BIOS and/or UEFI can start it)
    hybrid: bool            # an MBR too: it also boots as a hard disk or USB stick


def _field(data: bytes, start: int, length: int) -> str:
    return data[start:start + length].decode("ascii", "replace").strip(" \x00")


def read_head(data: bytes, what: str = "The file") -> IsoFacts:
    """Parses the start of an image (at least up to its volume descriptor terminator;
    HEAD_BYTES is enough for ordinary discs)."""
    if len(data) < FIRST_DESCRIPTOR + SECTOR:
        raise NotAnIso(f"{what} is too small to be an ISO image "
                       f"({len(data)} bytes; a disc has at least 34 KiB).")
    label: DiscLabel | None = None
    bootable = False
    offset = FIRST_DESCRIPTOR
    while offset + SECTOR <= len(data):
        desc = data[offset:offset + SECTOR]
        if desc[1:6] != b"CD001":
            break
        kind = desc[0]
        if kind == 0 and desc[7:7 + len(EL_TORITO)] == EL_TORITO:
            bootable = True
        elif kind == 1 and label is None:
            label = DiscLabel(volume_id=_field(desc, 40, 32), system_id=_field(desc, 8, 32),
                              publisher_id=_field(desc, 318, 128),
                              application_id=_field(desc, 574, 128))
        elif kind == 255:
            break
        offset += SECTOR
    if label is None:
        raise NotAnIso(f"{what} is not an ISO 9660 image (no CD001 volume descriptor): "
                       "pick an installation disc image (.iso).")
    hybrid = data[510:512] == b"\x55\xaa"
    return IsoFacts(label, bootable, hybrid)


def read_local(path: str) -> IsoFacts:
    """An image on this computer. Raises NotAnIso or OSError (unreadable)."""
    with open(path, "rb") as src:
        data = src.read(HEAD_BYTES)
    return read_head(data, path)
