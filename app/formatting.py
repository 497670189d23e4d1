"""Numbers as a user reads them, shared by the tabs and the app's table models."""
from __future__ import annotations


def human_bytes(n: int | None) -> str:
    if n is None:
        return "unknown"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(value) < 1024 or unit == "PiB":
            if unit == "B":
                return f"{int(value)} B"
            return f"{value:.1f} {unit}".replace(".0 ", " ")
        value /= 1024
    return f"{n} B"


UNITS = {"B": 1, "K": 1 << 10, "KIB": 1 << 10, "M": 1 << 20, "MIB": 1 << 20,
         "G": 1 << 30, "GIB": 1 << 30, "T": 1 << 40, "TIB": 1 << 40}


def parse_size(text: str, default_unit: str = "GiB") -> int:
    """"20", "20 GiB", "512M", "1.5T" as bytes; ValueError with a sentence otherwise."""
    cleaned = text.strip().replace(",", ".").upper().replace(" ", "")
    number = cleaned.rstrip("KMGTIB")
    unit = cleaned[len(number):] or default_unit.upper()
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"{text.strip() or 'Nothing'} is not a size such as 20 GiB.") \
            from None
    if unit not in UNITS or value < 0:
        raise ValueError(f"{text.strip()} is not a size such as 20 GiB.")
    return int(value * UNITS[unit])
