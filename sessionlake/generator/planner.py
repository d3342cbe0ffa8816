"""`plan(config)`: the whole workload, decided up front from the seed and nothing else.

Sessions come in shapes: `complete` (events, metrics, logs), `active` (no session_ended yet, so no
logs), `no_logs`, `logs_only` (logs but no Kafka record at all: "logs before any session event") and
`no_metrics`. Kafka messages are ordered by a simulated send time: event time plus a sub-second
jitter, or, for out-of-order ones, plus minutes (after the next in-order event of the same session).
Log files are written a few minutes after the session ends, or hours later when late (phase `late`).
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sessionlake.core.domain import LOG_BUCKETS
from sessionlake.generator import catalog
from sessionlake.generator.config import GeneratorConfig
from sessionlake.generator.malformed import garbage
from sessionlake.generator.times import iso
from sessionlake.generator.workload import (
    BILLING_LOGS,
    CLIENT_LOGS,
    LATE,
    MAIN,
    SESSION_EVENTS,
    STREAM_METRICS,
    KafkaMessage,
    LogFile,
    Record,
    SessionInfo,
    Workload,
)

HEARTBEAT = timedelta(seconds=60)
METRIC_INTERVAL = timedelta(seconds=10)
MIN_DURATION_MS = 3 * 60_000
MAX_DURATION_MS = 40 * 60_000
SERVICE = {b.bucket: b.service for b in LOG_BUCKETS}


@dataclass
class _Session:
    info: SessionInfo
    ended: datetime
    kafka: list[tuple[datetime, Record]] = field(default_factory=list)
    logs: dict[str, list[list[Record]]] = field(default_factory=dict)  # bucket -> file parts


def plan(config: GeneratorConfig) -> Workload:
    rng = random.Random(config.seed)
    users = [(f"u-{n:06d}", f"player{n:06d}@example.com", rng.choice(catalog.TIERS)) for n in range(config.user_pool)]
    sessions = [_session(rng, config, users, shape) for shape in _shapes(rng, config)]
    messages = _messages(rng, config, sessions)
    files = _files(rng, config, sessions)
    return Workload(messages=messages, files=files, sessions=tuple(s.info for s in sessions))


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _count(ratio: float, total: int) -> int:
    return min(total, round(ratio * total))


def _shapes(rng: random.Random, config: GeneratorConfig) -> list[str]:
    n = config.sessions
    shapes: list[str] = []
    for shape, ratio in (
        ("active", config.active_ratio),
        ("no_logs", config.no_logs_ratio),
        ("logs_only", config.logs_only_ratio),
        ("no_metrics", config.no_metrics_ratio),
    ):
        shapes += [shape] * _count(ratio, n)
    shapes = shapes[:n] + ["complete"] * (n - len(shapes))
    rng.shuffle(shapes)
    return shapes


def _session(rng: random.Random, config: GeneratorConfig, users: list[tuple[str, str, str]], shape: str) -> _Session:
    session_id = _uuid(rng)
    user_id, email, tier = rng.choice(users)
    ip = ".".join(str(rng.randint(1, 254)) for _ in range(4))
    platform = rng.choice(catalog.PLATFORMS)
    context = {
        "session_id": session_id,
        "user_id": user_id,
        "email": email,
        "ip_address": ip,
        "game_id": rng.choice(catalog.GAMES),
        "region": rng.choice(catalog.REGIONS),
        "client_platform": platform,
    }
    started = config.start + timedelta(milliseconds=rng.randrange(config.window_minutes * 60_000))
    ended = started + timedelta(milliseconds=rng.randrange(MIN_DURATION_MS, MAX_DURATION_MS))
    end_reason = rng.choices(catalog.END_REASONS, catalog.END_REASON_WEIGHTS)[0]
    session = _Session(info=SessionInfo(session_id=session_id, user_id=user_id, shape=shape), ended=ended)
    if shape != "logs_only":
        session.kafka += _session_events(rng, context, started, ended, None if shape == "active" else end_reason)
    if shape not in ("logs_only", "no_metrics"):
        session.kafka += _stream_metrics(rng, session_id, started, ended)
    if shape in ("complete", "no_metrics", "logs_only"):
        device = rng.choice(catalog.DEVICES[platform])
        crashed = end_reason == catalog.CRASH_REASON
        session.logs[CLIENT_LOGS] = _client_logs(rng, context, platform, device, started, ended, crashed)
        session.logs[BILLING_LOGS] = _billing_logs(rng, session_id, user_id, tier, started, ended)
    return session


def _session_events(
    rng: random.Random, context: dict[str, str], started: datetime, ended: datetime, end_reason: str | None
) -> list[tuple[datetime, Record]]:
    def event(event_type: str, at: datetime, **fields: Any) -> tuple[datetime, Record]:
        payload = {"event_id": _uuid(rng), "event_type": event_type, "event_time": iso(at), **context, **fields}
        return at, Record.of(SESSION_EVENTS, payload)

    events = [event("session_started", started)]
    migrate_at = rng.randrange(1, 40) if rng.random() < 0.15 else None  # a heartbeat after a region migration
    beat, n = started + HEARTBEAT, 1
    while beat <= ended - timedelta(seconds=5):
        if n == migrate_at:
            context = dict(context, region=rng.choice([r for r in catalog.REGIONS if r != context["region"]]))
        # Heartbeats sometimes omit descriptive fields; gold keeps the latest non-null value.
        blanks = {f: None for f in ("game_id", "region", "client_platform") if rng.random() < 0.15}
        events.append(event("heartbeat", beat, **blanks))
        beat, n = beat + HEARTBEAT, n + 1
    if end_reason is not None:
        events.append(event("session_ended", ended, end_reason=end_reason))
    return events


def _stream_metrics(
    rng: random.Random, session_id: str, started: datetime, ended: datetime
) -> list[tuple[datetime, Record]]:
    target_fps = rng.choice(catalog.FRAME_RATES)
    base_rtt = rng.uniform(12.0, 90.0)
    resolution = rng.choice(catalog.RESOLUTIONS)
    metrics = []
    at = started + timedelta(seconds=2)
    while at < ended:
        sample_at = at + timedelta(milliseconds=rng.randrange(1000))
        payload = {
            "event_id": _uuid(rng),
            "event_time": iso(sample_at),
            "session_id": session_id,
            "fps": round(min(target_fps, max(1.0, rng.gauss(target_fps * 0.95, target_fps * 0.08))), 2),
            "bitrate_kbps": rng.randint(5_000, 45_000),
            "rtt_ms": round(rng.lognormvariate(math.log(base_rtt), 0.35), 2),
            "packet_loss_pct": round(rng.expovariate(1 / 0.4), 3),
            "resolution": resolution,
        }
        metrics.append((sample_at, Record.of(STREAM_METRICS, payload)))
        at += METRIC_INTERVAL
    return metrics


def _client_logs(
    rng: random.Random,
    context: dict[str, str],
    platform: str,
    device: str,
    started: datetime,
    ended: datetime,
    crashed: bool,
) -> list[list[Record]]:
    duration_ms = int((ended - started).total_seconds() * 1000)
    n_lines = max(20, min(400, int(duration_ms / 60_000 * rng.uniform(3, 10))))
    offsets = sorted(rng.sample(range(duration_ms), n_lines))
    os_version = rng.choice(catalog.OS_VERSIONS[platform])
    lines = []
    for i, offset in enumerate(offsets):
        crash_line = crashed and i == n_lines - 1
        level = "FATAL" if crash_line else rng.choices(catalog.LEVELS, catalog.LEVEL_WEIGHTS)[0]
        template = catalog.CRASH_MESSAGE if crash_line else rng.choice(catalog.MESSAGES[level])
        lines.append(
            {
                "event_id": _uuid(rng),
                "log_time": iso(started + timedelta(milliseconds=offset)),
                "session_id": context["session_id"],
                "level": level,
                "message": template.format(n=rng.randrange(1, 4096)),
                "device_model": device,
                "os_version": os_version,
                "ip_address": context["ip_address"],
                "crashed": crash_line,
            }
        )
    parts = _split(rng, lines, 0.2)
    if len(parts) == 2 and rng.random() < 0.5:  # the player reconnected from another device
        other = rng.choice(catalog.DEVICES[rng.choice(catalog.PLATFORMS)])
        parts[1] = [dict(line, device_model=other) for line in parts[1]]
    return [[Record.of(CLIENT_LOGS, line) for line in part] for part in parts]


def _billing_logs(
    rng: random.Random, session_id: str, user_id: str, tier: str, started: datetime, ended: datetime
) -> list[list[Record]]:
    """One line per billed chunk of 1-3 minutes. Billing ids are ledger ids: the zero-padded issue time in
    milliseconds then a random suffix, so the greatest event_id is the latest line."""
    remaining = math.ceil((ended - started).total_seconds() / 60)
    upgrade_at = rng.randrange(remaining) if rng.random() < 0.15 and tier != "ultimate" else None
    lines, billed, issued = [], 0, started
    while billed < remaining:
        minutes = min(remaining - billed, rng.randint(1, 3))
        if upgrade_at is not None and billed >= upgrade_at:
            tier = catalog.TIERS[catalog.TIERS.index(tier) + 1]
            upgrade_at = None
        billed += minutes
        issued += timedelta(minutes=minutes, milliseconds=rng.randrange(1000))
        event_id = f"{int(issued.timestamp() * 1000):013d}-{rng.getrandbits(32):08x}"
        line = {"event_id": event_id, "session_id": session_id, "user_id": user_id, "billed_minutes": minutes}
        lines.append(line | {"tier": tier})
    return [[Record.of(BILLING_LOGS, line) for line in part] for part in _split(rng, lines, 0.1)]


def _split(rng: random.Random, lines: list[dict[str, Any]], two_files: float) -> list[list[dict[str, Any]]]:
    """One file, or (with probability `two_files`) two files split at a random line."""
    if len(lines) >= 2 and rng.random() < two_files:
        cut = rng.randrange(1, len(lines))
        return [lines[:cut], lines[cut:]]
    return [lines]


def _messages(rng: random.Random, config: GeneratorConfig, sessions: list[_Session]) -> tuple[KafkaMessage, ...]:
    sends = [send for topic in (SESSION_EVENTS, STREAM_METRICS) for send in _topic_sends(rng, config, topic, sessions)]
    order = sorted(range(len(sends)), key=lambda i: (sends[i][0], i))
    return tuple(KafkaMessage(record=sends[i][1], send_at=sends[i][0]) for i in order)


def _topic_sends(
    rng: random.Random, config: GeneratorConfig, topic: str, sessions: list[_Session]
) -> list[tuple[datetime, Record]]:
    streams = [[(at, r) for at, r in s.kafka if r.source == topic] for s in sessions]
    total = sum(len(stream) for stream in streams)
    # Out of order: sent minutes late, after the next in-order event of its session (so never the last one).
    candidates = [(s, i) for s, stream in enumerate(streams) for i in range(len(stream) - 1)]
    delayed = set(rng.sample(candidates, min(len(candidates), _count(config.out_of_order_ratio, total))))
    sends: list[tuple[datetime, Record]] = []
    for s, stream in enumerate(streams):
        for i, (at, record) in enumerate(stream):
            if (s, i) in delayed:
                next_at = next(t for j, (t, _) in enumerate(stream[i + 1 :], i + 1) if (s, j) not in delayed)
                send_at = max(at + timedelta(seconds=rng.uniform(90, 900)), next_at + timedelta(seconds=1))
            else:
                send_at = at + timedelta(milliseconds=rng.randrange(500))  # below any gap between two events
            sends.append((send_at, record))
    valid = list(sends)
    # Duplicates: the same record again, up to ten minutes after its first send.
    for at, record in rng.sample(valid, _count(config.duplicate_ratio, total)):
        sends.append((at + timedelta(seconds=rng.uniform(1, 600)), record))
    for at, record in rng.sample(valid, _count(config.malformed_ratio, total)):
        sends.append((at + timedelta(seconds=rng.uniform(0, 60)), garbage(rng, topic, record.event or {}, _uuid(rng))))
    return sends


def _files(rng: random.Random, config: GeneratorConfig, sessions: list[_Session]) -> tuple[LogFile, ...]:
    files: list[LogFile] = []
    for bucket in (CLIENT_LOGS, BILLING_LOGS):
        parts = [
            (s.info.session_id, list(part), s.ended + timedelta(seconds=rng.uniform(5, 300)))
            for s in sessions
            for part in s.logs.get(bucket, [])
        ]
        records = [lines for _, lines, _ in parts]
        _disorder(rng, config.out_of_order_ratio, records)
        valid = [(f, r) for f, lines in enumerate(records) for r in lines]
        by_session: dict[str, list[int]] = {}
        for f, (session_id, _, _) in enumerate(parts):
            by_session.setdefault(session_id, []).append(f)
        # Duplicates land in any file of the same session, at any position.
        for _, record in rng.sample(valid, _count(config.duplicate_ratio, len(valid))):
            target = records[rng.choice(by_session[record.session_id])]
            target.insert(rng.randrange(len(target) + 1), record)
        for f, record in rng.sample(valid, _count(config.malformed_ratio, len(valid))):
            records[f].insert(rng.randrange(len(records[f]) + 1), garbage(rng, bucket, record.event or {}, _uuid(rng)))
        late = set(rng.sample(range(len(parts)), _count(config.late_ratio, len(parts))))
        gzipped = set(rng.sample(range(len(parts)), _count(config.gzip_ratio, len(parts))))
        for f, (_, lines, written_at) in enumerate(parts):
            if f in late:
                written_at += timedelta(hours=rng.uniform(2, 30))
            key = f"{SERVICE[bucket]}/dt={written_at:%Y-%m-%d}/hour={written_at:%H}/{_uuid(rng)}.json"
            files.append(
                LogFile(
                    bucket=bucket,
                    key=key + (".gz" if f in gzipped else ""),
                    records=tuple(lines),
                    gzip=f in gzipped,
                    phase=LATE if f in late else MAIN,
                    written_at=written_at,
                )
            )
    return tuple(sorted(files, key=lambda f: f.written_at))


def _disorder(rng: random.Random, ratio: float, files: list[list[Record]]) -> None:
    """Move a share of the lines to another position of their file, out of log-time order."""
    positions = [(f, i) for f, lines in enumerate(files) if len(lines) > 1 for i in range(len(lines))]
    for f, i in sorted(rng.sample(positions, _count(ratio, len(positions))), reverse=True):
        lines = files[f]
        record = lines.pop(i)
        lines.insert(rng.choice([p for p in range(len(lines) + 1) if p != i]), record)
