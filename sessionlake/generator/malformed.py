"""Garbage records, made in addition to the real events (never instead of one).

Kinds: `invalid_json` (a truncated line), `wrong_type` (a field of the wrong JSON type or an
unparseable time), `missing_event_id`, `missing_session_id`, and for session-events only
`unknown_event_type`. Each garbage record is built from a real event of the same session with a
fresh event_id, so it looks like its neighbours but must never count in gold.
"""

from __future__ import annotations

import json
import random
from typing import Any

from sessionlake.generator.workload import BILLING_LOGS, CLIENT_LOGS, SESSION_EVENTS, STREAM_METRICS, Record

COMMON_KINDS = ("invalid_json", "wrong_type", "missing_event_id", "missing_session_id")
KINDS = {
    SESSION_EVENTS: (*COMMON_KINDS, "unknown_event_type"),
    STREAM_METRICS: COMMON_KINDS,
    CLIENT_LOGS: COMMON_KINDS,
    BILLING_LOGS: COMMON_KINDS,
}
WRONG_TYPES: dict[str, tuple[str, Any]] = {
    SESSION_EVENTS: ("event_time", "yesterday"),
    STREAM_METRICS: ("fps", "fast"),
    CLIENT_LOGS: ("crashed", "maybe"),
    BILLING_LOGS: ("billed_minutes", "ten"),
}


def garbage(rng: random.Random, source: str, neighbour: dict[str, Any], event_id: str) -> Record:
    """A malformed record of `source` shaped after the valid event `neighbour`."""
    kind = rng.choice(KINDS[source])
    event = dict(neighbour, event_id=event_id)
    if kind == "wrong_type":
        field, value = WRONG_TYPES[source]
        event[field] = value
    elif kind == "missing_event_id":
        del event["event_id"]
    elif kind == "missing_session_id":
        del event["session_id"]
    elif kind == "unknown_event_type":
        event["event_type"] = "session_paused"
    raw = json.dumps(event)
    if kind == "invalid_json":
        raw = raw[: rng.randrange(1, len(raw) - 1)]
    return Record(source=source, session_id=neighbour["session_id"], raw=raw, malformed=kind)
