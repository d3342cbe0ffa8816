"""Source metrics, kept in metadataPath/metrics.json after every planned batch (read by `sessionlake status`)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime

from ingest.readers.s3_sqs.discovery_log import LoggedFile, local_dir, write_atomically

METRICS_FILE = "metrics.json"


@dataclass(frozen=True)
class BatchMetrics:
    files: int = 0
    bytes: int = 0
    # discovery latency: S3 event time -> batch planned, over the batch's files
    max_latency_seconds: float | None = None
    avg_latency_seconds: float | None = None
    planned_at: str | None = None

    @classmethod
    def of(cls, files: list[LoggedFile], planned_at: datetime) -> BatchMetrics:
        latencies = [(planned_at - datetime.fromisoformat(f.event_time)).total_seconds() for f in files]
        return cls(
            files=len(files),
            bytes=sum(f.size for f in files),
            max_latency_seconds=max(latencies) if latencies else None,
            avg_latency_seconds=sum(latencies) / len(latencies) if latencies else None,
            planned_at=planned_at.isoformat(),
        )


@dataclass
class SourceMetrics:
    planned: int = 0  # files in planned batches (the end offset of the last batch)
    total_bytes: int = 0
    batches: int = 0
    last_batch: BatchMetrics = field(default_factory=BatchMetrics)
    backlog: dict[str, int] = field(default_factory=dict)  # SQS ApproximateNumberOfMessages[NotVisible]
    foreign_messages: int = 0  # left on the queue for its redrive policy
    duplicate_notifications: int = 0
    filtered_files: int = 0

    def record_batch(self, batch: BatchMetrics, end: int, backlog: dict[str, int]) -> None:
        self.batches += 1
        self.total_bytes += batch.bytes
        self.last_batch = batch
        self.planned = end
        self.backlog = backlog

    @classmethod
    def load(cls, metadata_path: str) -> SourceMetrics:
        path = local_dir(metadata_path) / METRICS_FILE
        if not path.exists():
            return cls()
        raw = json.loads(path.read_text())
        raw["last_batch"] = BatchMetrics(**raw.get("last_batch", {}))
        return cls(**raw)

    def save(self, metadata_path: str) -> None:
        write_atomically(local_dir(metadata_path) / METRICS_FILE, json.dumps(asdict(self), indent=1).encode())


def read_metrics(metadata_path: str) -> dict:
    """The source's metrics as a JSON-like dict (empty before the first commit), for status displays."""
    path = local_dir(metadata_path) / METRICS_FILE
    return json.loads(path.read_text()) if path.exists() else {}
