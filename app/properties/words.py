"""Sizes and values as the Properties pages and the change summary word them."""
from __future__ import annotations

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB


def size_bytes(n: int) -> str:
    """2 GiB, 512 MiB, 1.5 GiB: the unit that keeps the number short."""
    for unit, factor in (("TiB", 1024 * GIB), ("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if n >= factor:
            value = n / factor
            text = f"{value:.1f}".rstrip("0").rstrip(".")
            return f"{text} {unit}"
    return f"{n} bytes"


def size_kib(kib: int | None) -> str:
    return "unset" if kib is None else size_bytes(kib * KIB)


def on_off(value: bool | None) -> str:
    return "on" if value else "off"


def quoted(text: str | None) -> str:
    return f"“{text}”" if text else "none"
