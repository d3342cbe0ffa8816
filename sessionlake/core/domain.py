"""Names of the reference domain (docs/domain.md) shared by the stack, the generator, ingest and the tests."""

from __future__ import annotations

from dataclasses import dataclass

KAFKA_TOPICS = ("session-events", "stream-metrics")
KAFKA_PARTITIONS = 3


@dataclass(frozen=True)
class LogBucket:
    bucket: str
    service: str
    queue: str
    via_sns_topic: str | None  # None: S3 notifies SQS directly; else S3 -> SNS topic -> SQS

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.queue}-dlq"


LOG_BUCKETS = (
    LogBucket(bucket="client-logs", service="client", queue="client-logs-events", via_sns_topic=None),
    LogBucket(bucket="billing-logs", service="billing", queue="billing-logs-events", via_sns_topic="billing-logs"),
)

SEARCH_INDEX = "sessions"
PII_FIELDS = ("user_id", "email", "ip_address")
