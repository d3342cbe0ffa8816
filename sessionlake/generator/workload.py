"""What a plan is made of: records as services send them, log files, and delivery phases."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

SESSION_EVENTS = "session-events"
STREAM_METRICS = "stream-metrics"
CLIENT_LOGS = "client-logs"
BILLING_LOGS = "billing-logs"
SOURCES = (SESSION_EVENTS, STREAM_METRICS, CLIENT_LOGS, BILLING_LOGS)

MAIN = "main"
LATE = "late"
PHASES = (MAIN, LATE)


@dataclass(frozen=True)
class Record:
    """One record exactly as a service sends it: a Kafka message value or one line of a log file.

    `event` is the payload of a valid record; malformed records have `event=None` and name their kind.
    """

    source: str
    session_id: str  # the session the service meant it for (the Kafka message key)
    raw: str
    event: dict[str, Any] | None = None
    malformed: str | None = None

    @classmethod
    def of(cls, source: str, event: dict[str, Any]) -> Record:
        return cls(source=source, session_id=event["session_id"], raw=json.dumps(event), event=event)


@dataclass(frozen=True)
class KafkaMessage:
    """A record bound for a Kafka topic (the topic is the record's source), sent at simulated `send_at`."""

    record: Record
    send_at: datetime

    @property
    def topic(self) -> str:
        return self.record.source

    @property
    def key(self) -> str:
        return self.record.session_id


@dataclass(frozen=True)
class LogFile:
    """One newline-delimited JSON object in a log bucket, written at simulated `written_at`."""

    bucket: str
    key: str
    records: tuple[Record, ...]
    gzip: bool
    phase: str
    written_at: datetime

    def body(self) -> bytes:
        text = "".join(record.raw + "\n" for record in self.records).encode()
        return gzip.compress(text, mtime=0) if self.gzip else text


@dataclass(frozen=True)
class SessionInfo:
    session_id: str
    user_id: str
    shape: str  # complete | active | no_logs | logs_only | no_metrics


@dataclass(frozen=True)
class Workload:
    """A planned workload. Kafka messages are all delivered in phase `main`, in `messages` order;
    log files in their own phase, in `files` order."""

    messages: tuple[KafkaMessage, ...]
    files: tuple[LogFile, ...]
    sessions: tuple[SessionInfo, ...] = ()

    def messages_in(self, phase: str) -> tuple[KafkaMessage, ...]:
        return self.messages if phase == MAIN else ()

    def files_in(self, phase: str) -> tuple[LogFile, ...]:
        return tuple(f for f in self.files if f.phase == phase)

    def records_in(self, phases: Iterable[str]) -> Iterator[Record]:
        """Every record delivered in any of `phases`, valid or not, duplicates included."""
        for phase in dict.fromkeys(phases):
            yield from (m.record for m in self.messages_in(phase))
            for log_file in self.files_in(phase):
                yield from log_file.records

    def malformed_counts(self, phases: Iterable[str]) -> dict[str, int]:
        counts = Counter(r.source for r in self.records_in(phases) if r.malformed)
        return {source: counts[source] for source in SOURCES}
