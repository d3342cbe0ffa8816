"""A UDF as a service team would register for its source's transform (`udfs:` in the YAML)."""

from __future__ import annotations


def fps_band(fps: float | None) -> str | None:
    """'ok' or 'low'; raises on a negative frame rate, an input its authors did not expect."""
    if fps is None:
        return None
    if fps < 0:
        raise ValueError(f"negative fps: {fps}")
    return "ok" if fps >= 30 else "low"
