"""`truth(workload, phases)`: the gold `sessions` rows the pipeline must produce once `phases` are delivered.

The rules of the gold table (docs/domain.md), made exact where a rule could be read two ways:

- Only valid records count (malformed ones never do), and each event_id counts once per source.
- A session appears as soon as any valid record of any source names it.
- game_id, region, client_platform, user_id: the latest non-null value by event_time over session-events;
  user_id falls back to billing-logs when the session has no session-event carrying one.
- billing-logs have no time field. Their event ids are ledger ids that sort in issue order, so the "latest"
  billing line is the one with the greatest event_id (string order): it gives `tier` (and the fallback
  user_id); in SQL `max_by(tier, event_id)`. billed_minutes is the sum over distinct billing lines, null
  when the session has none.
- started_at: event_time of session_started; ended_at, end_reason: of session_ended; status `ended` if a
  session_ended exists, else `active`; duration_seconds = ended_at - started_at, null unless both exist.
- metric_samples, log_lines, error_lines: counts, 0 when there are none; the metric aggregates are null
  when there are no samples. p95_rtt_ms is the exact 95th percentile with linear interpolation between
  closest ranks (Spark's `percentile`); the gold model may approximate it within 1 %.
- crashed: null when the session has no client-log line, else whether any line has crashed = true.
- device_model: of the client-log line with the greatest log_time.
- first_event_at / last_event_at: min / max over event_time (Kafka) and log_time (client-logs);
  null when the session has only billing lines.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from sessionlake.generator.times import iso, parse_iso
from sessionlake.generator.workload import BILLING_LOGS, CLIENT_LOGS, SESSION_EVENTS, STREAM_METRICS, Workload

Event = dict[str, Any]
COLUMNS = (
    "session_id",
    "user_id",
    "game_id",
    "region",
    "client_platform",
    "started_at",
    "ended_at",
    "end_reason",
    "status",
    "duration_seconds",
    "metric_samples",
    "avg_fps",
    "min_fps",
    "avg_bitrate_kbps",
    "max_packet_loss_pct",
    "p95_rtt_ms",
    "log_lines",
    "error_lines",
    "crashed",
    "device_model",
    "billed_minutes",
    "tier",
    "first_event_at",
    "last_event_at",
)


def truth(workload: Workload, phases: Iterable[str]) -> list[dict[str, Any]]:
    """One row per session with any valid record delivered in `phases`, sorted by session_id."""
    events: dict[str, dict[str, dict[str, Event]]] = defaultdict(lambda: defaultdict(dict))
    for record in workload.records_in(phases):
        if record.event is not None:
            events[record.event["session_id"]][record.source][record.event["event_id"]] = record.event
    return [
        session_row(session_id, {s: list(e.values()) for s, e in events[session_id].items()})
        for session_id in sorted(events)
    ]


def percentile(values: list[float], fraction: float) -> float:
    """Exact percentile, linear interpolation between closest ranks."""
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _latest(events: list[Event], field: str, order: str) -> Any:
    """The value of `field` of the event greatest by `order` among those where it is not null
    (ISO times of fixed width and ledger ids both compare as strings)."""
    candidates = [e for e in events if e.get(field) is not None]
    return max(candidates, key=lambda e: e[order])[field] if candidates else None


def _first(events: list[Event], event_type: str) -> Event | None:
    return min((e for e in events if e["event_type"] == event_type), key=lambda e: e["event_time"], default=None)


def _time(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else parse_iso(value)


def session_row(session_id: str, by_source: dict[str, list[Event]]) -> dict[str, Any]:
    """The gold row of one session from its distinct valid events, by source name (times as ISO strings
    or datetimes, one kind per field)."""
    session = by_source.get(SESSION_EVENTS, [])
    metrics = by_source.get(STREAM_METRICS, [])
    logs = by_source.get(CLIENT_LOGS, [])
    billing = by_source.get(BILLING_LOGS, [])
    started_event = _first(session, "session_started")
    ended_event = _first(session, "session_ended")
    started_at = _time(started_event["event_time"]) if started_event else None
    ended_at = _time(ended_event["event_time"]) if ended_event else None
    times = [_time(e["event_time"]) for e in session + metrics] + [_time(e["log_time"]) for e in logs]
    fps = [float(m["fps"]) for m in metrics]
    return {
        "session_id": session_id,
        "user_id": _latest(session, "user_id", "event_time") or _latest(billing, "user_id", "event_id"),
        "game_id": _latest(session, "game_id", "event_time"),
        "region": _latest(session, "region", "event_time"),
        "client_platform": _latest(session, "client_platform", "event_time"),
        "started_at": started_at,
        "ended_at": ended_at,
        "end_reason": ended_event.get("end_reason") if ended_event else None,
        "status": "ended" if ended_event else "active",
        "duration_seconds": (ended_at - started_at).total_seconds() if started_at and ended_at else None,
        "metric_samples": len(metrics),
        "avg_fps": sum(fps) / len(fps) if fps else None,
        "min_fps": min(fps) if fps else None,
        "avg_bitrate_kbps": sum(float(m["bitrate_kbps"]) for m in metrics) / len(metrics) if metrics else None,
        "max_packet_loss_pct": max(float(m["packet_loss_pct"]) for m in metrics) if metrics else None,
        "p95_rtt_ms": percentile([float(m["rtt_ms"]) for m in metrics], 0.95) if metrics else None,
        "log_lines": len(logs),
        "error_lines": sum(1 for line in logs if line["level"] in ("ERROR", "FATAL")),
        "crashed": any(line["crashed"] for line in logs) if logs else None,
        "device_model": _latest(logs, "device_model", "log_time"),
        "billed_minutes": sum(int(b["billed_minutes"]) for b in billing) if billing else None,
        "tier": _latest(billing, "tier", "event_id"),
        "first_event_at": min(times) if times else None,
        "last_event_at": max(times) if times else None,
    }


def write_truth(rows: list[dict[str, Any]], path: Path) -> None:
    """JSON lines, times as ISO-8601 strings with milliseconds and `Z`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        for row in rows:
            out.write(json.dumps({k: iso(v) if isinstance(v, datetime) else v for k, v in row.items()}) + "\n")
