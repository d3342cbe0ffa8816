"""`deliver(workload, settings, phase)`: send one phase of a workload to Kafka and S3.

Kafka messages and S3 objects go out interleaved in simulated-time order. With `rate` > 0 the sender
keeps a real-time pace of `rate` records per second (a log file counts as its lines).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from botocore.exceptions import ClientError
from confluent_kafka import KafkaError, Message, Producer

from sessionlake.core.errors import SessionlakeError
from sessionlake.core.settings import Settings
from sessionlake.generator.workload import KafkaMessage, LogFile, Workload
from sessionlake.stack.aws import aws_client


class DeliveryError(SessionlakeError):
    """Kafka or S3 refused the workload; the message names the topic or bucket."""


@dataclass
class DeliveryReport:
    phase: str
    messages: dict[str, int] = field(default_factory=dict)  # acknowledged by the broker, per topic
    objects: dict[str, int] = field(default_factory=dict)  # written, per bucket
    lines: dict[str, int] = field(default_factory=dict)  # lines in the written objects, per bucket
    malformed: dict[str, int] = field(default_factory=dict)  # garbage records delivered, per source
    seconds: float = 0.0

    def render(self) -> str:
        rows = [f"phase {self.phase}: delivered in {self.seconds:.1f}s"]
        rows += [f"  kafka {topic}: {n} messages" for topic, n in sorted(self.messages.items())]
        rows += [f"  s3 {b}: {self.objects[b]} objects, {self.lines.get(b, 0)} lines" for b in sorted(self.objects)]
        rows += [f"  malformed {source}: {n}" for source, n in self.malformed.items()]
        return "\n".join(rows)


class _Pace:
    """Sleeps so that no more than `rate` records per second have gone out (no limit when rate is 0)."""

    def __init__(self, rate: float) -> None:
        self.rate, self.sent, self.started = rate, 0, time.monotonic()

    def wait(self, records: int) -> None:
        self.sent += records
        if self.rate:
            time.sleep(max(0.0, self.started + self.sent / self.rate - time.monotonic()))


def deliver(workload: Workload, settings: Settings, phase: str, rate: float = 0.0) -> DeliveryReport:
    """Deliver the messages and files of `phase`; raises DeliveryError unless every one was accepted."""
    started = time.monotonic()
    acked: Counter[str] = Counter()
    errors: list[KafkaError] = []

    def on_delivery(error: KafkaError | None, message: Message) -> None:
        if error is None:
            acked[message.topic()] += 1
        else:
            errors.append(error)

    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "enable.idempotence": True, "linger.ms": 20})
    s3 = aws_client(settings, "s3")
    report = DeliveryReport(phase=phase)
    items: list[KafkaMessage | LogFile] = [*workload.messages_in(phase), *workload.files_in(phase)]
    items.sort(key=lambda item: item.send_at if isinstance(item, KafkaMessage) else item.written_at)
    pace = _Pace(rate)
    for item in items:
        if isinstance(item, KafkaMessage):
            _produce(producer, item, on_delivery)
            pace.wait(1)
        else:
            try:
                s3.put_object(Bucket=item.bucket, Key=item.key, Body=item.body())
            except ClientError as exc:  # most often: the buckets are not provisioned (`sessionlake stack up`)
                raise DeliveryError(f"s3://{item.bucket}/{item.key}: {exc}") from exc
            report.objects[item.bucket] = report.objects.get(item.bucket, 0) + 1
            report.lines[item.bucket] = report.lines.get(item.bucket, 0) + len(item.records)
            producer.poll(0)
            pace.wait(len(item.records))
    remaining = producer.flush(60)
    if errors or remaining:
        raise DeliveryError(f"{len(errors)} Kafka messages failed, {remaining} not acknowledged: {errors[:3]}")
    report.messages = dict(acked)
    report.malformed = workload.malformed_counts([phase])
    report.seconds = time.monotonic() - started
    return report


def _produce(
    producer: Producer, message: KafkaMessage, on_delivery: Callable[[KafkaError | None, Message], None]
) -> None:
    while True:
        try:
            producer.produce(message.topic, key=message.key, value=message.record.raw, on_delivery=on_delivery)
            producer.poll(0)
            return
        except BufferError:  # the local queue is full: let the broker catch up
            producer.poll(0.5)
