"""Intervals as a person writes them on the command line: `30s`, `5m`, `1h`."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600}


def parse_interval(text: str) -> float:
    """'30s', '5m', '1h' (or a bare number of seconds) -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"not an interval: {text!r} (use e.g. 30s, 5m, 1h)")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]
