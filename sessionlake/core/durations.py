"""Durations as a person reads them, for every command that prints one."""

from __future__ import annotations


def human_duration(seconds: float | None) -> str:
    """A duration as a person reads it: 850ms, 42s, 3m 20s, 2h 5m, 3d 4h."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    whole = round(seconds)
    for unit, size, sub_unit, sub_size in (("d", 86400, "h", 3600), ("h", 3600, "m", 60), ("m", 60, "s", 1)):
        if whole >= size:
            rest = (whole % size) // sub_size
            return f"{whole // size}{unit}" + (f" {rest}{sub_unit}" if rest else "")
    return f"{whole}s"
