"""The one time format of the domain: UTC ISO-8601 with milliseconds and `Z`."""

from __future__ import annotations

from datetime import datetime, timezone


def iso(moment: datetime) -> str:
    """`2025-01-06T18:00:00.000Z`; microseconds below the millisecond are dropped."""
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)
