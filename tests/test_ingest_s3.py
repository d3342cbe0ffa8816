"""S3 files announced on SQS -> bronze through the s3-sqs source, against the moto server."""

from __future__ import annotations

import gzip
import json
import uuid
from pathlib import Path

import boto3
import pytest

from sessionlake.ingest.metrics import source_status
from sessionlake.ingest.runner import run

pytestmark = pytest.mark.stack


def client(settings, service: str):
    return boto3.client(service, endpoint_url=settings.aws_endpoint, region_name=settings.aws_region)


def bucket_with_queue(settings, name: str) -> None:
    """A bucket whose object-created events go straight to an SQS queue of the same name."""
    sqs, s3 = client(settings, "sqs"), client(settings, "s3")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.create_bucket(Bucket=name)
    s3.put_bucket_notification_configuration(
        Bucket=name,
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]},
    )


def log_line(i: int, **extra: object) -> str:
    record = {
        "event_id": f"l{i}",
        "log_time": "2026-01-02T03:04:05.250Z",
        "session_id": "s1",
        "level": "INFO",
        "message": "hello",
        "crashed": False,
    }
    record.update(extra)
    return json.dumps(record)


def test_log_files_land_once_with_file_coordinates_and_bad_lines_quarantined(
    moto: str, spark, settings, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:8]
    name, source, table = f"it-logs-{suffix}", f"logs_{suffix}", f"logs_{suffix}"
    bucket_with_queue(settings, name)
    directory = tmp_path / "src"
    directory.mkdir()
    (directory / f"{source}.yml").write_text(
        f"""
kind: s3-sqs
s3_sqs:
  queue: {name}
  bucket: {name}
  max_files_per_trigger: 1
schema:
  type: object
  required: [event_id, session_id]
  properties:
    event_id: {{type: string}}
    log_time: {{type: string, format: date-time}}
    session_id: {{type: string}}
    level: {{type: string, enum: [DEBUG, INFO, WARN, ERROR, FATAL]}}
    message: {{type: string, maxLength: 10}}
    crashed: {{type: boolean}}
event_time: log_time
targets: [{table}]
"""
    )
    s3 = client(settings, "s3")
    plain = "\n".join([log_line(1), log_line(2, level="LOUD"), log_line(3, crashed="yes")]) + "\n"
    s3.put_object(Bucket=name, Key="client/dt=2026-01-02/a.json", Body=plain.encode())
    packed = "\n".join([log_line(4, extra_field=[1]), log_line(5, message="x" * 11), "oops"]) + "\n"
    s3.put_object(Bucket=name, Key="client/dt=2026-01-02/b.json.gz", Body=gzip.compress(packed.encode()))
    for i in range(10, 22):  # more files than one SQS receive (10 messages) or one trigger (1 file) takes
        s3.put_object(Bucket=name, Key=f"client/dt=2026-01-02/small-{i}.json", Body=log_line(i).encode())

    report = run(settings, spark, once=True, config_dir=directory)

    # One availableNow run drains the queue, in batches of max_files_per_trigger (1) files.
    assert report.ok, report.errors
    assert report.batches[source] == 14
    assert report.rows_written[f"bronze.{table}"] == 14
    rows = {r["event_id"]: r for r in spark.read.format("delta").load(str(settings.bronze_path(table))).collect()}
    assert sorted(rows) == sorted(["l1", "l4", *(f"l{i}" for i in range(10, 22))])  # no l666
    assert rows["l1"]["_file_path"].endswith("/client/dt=2026-01-02/a.json")
    assert rows["l1"]["_file_size"] == len(plain.encode())
    assert rows["l1"]["log_time"].microsecond == 250000 and rows["l1"]["crashed"] is False
    assert json.loads(rows["l4"]["_rescued_data"]) == {"extra_field": [1]}

    quarantined = (
        spark.read.format("delta").load(str(settings.bronze_path("quarantine"))).where(f"_source = '{source}'")
    )
    reasons = {bytes(r["_raw"]).decode(): (r["_reason"], json.loads(r["_coordinates"])) for r in quarantined.collect()}
    assert reasons[log_line(2, level="LOUD")][0] == "unknown_value: level"
    assert reasons[log_line(3, crashed="yes")][0] == "type_mismatch: crashed (boolean)"
    assert reasons[log_line(5, message="x" * 11)][0] == "oversized_value: message (over 10 characters)"
    assert reasons["oops"][0] == "unparsable_json: not a JSON object"
    assert reasons["oops"][1]["file"].endswith("/client/dt=2026-01-02/b.json.gz")

    # The source's metrics reach ops.ingest_metrics and `sessionlake status` (last batch: one file).
    status = {s.source: s for s in source_status(settings, spark)}[source]
    assert status.sqs_backlog == 0 and status.s3_files == 1 and status.s3_bytes > 0
    assert status.discovery_latency_max_ms >= status.discovery_latency_p50_ms > 0

    # An object of another bucket announced on the queue (a misdirected notification, or a forged one): the
    # source takes only the YAML's `bucket`, so it is acknowledged and never read.
    other = f"{name}-other"
    s3.create_bucket(Bucket=other)
    s3.put_object(Bucket=other, Key="client/dt=2026-01-02/evil.json", Body=log_line(666).encode())
    forged = {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "eventTime": "2026-01-02T03:04:05.000Z",
                "s3": {"bucket": {"name": other}, "object": {"key": "client/dt=2026-01-02/evil.json", "size": 10}},
            }
        ]
    }
    sqs = client(settings, "sqs")
    sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"], MessageBody=json.dumps(forged))

    again = run(settings, spark, once=True, config_dir=directory)
    assert sum(again.rows_written.values()) == 0  # nothing of the other bucket was read
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    counts = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=counts)["Attributes"]
    assert [attributes[c] for c in counts] == ["0", "0"]  # acknowledged, not left for the redrive policy
    assert spark.read.format("delta").load(str(settings.bronze_path(table))).count() == 14
