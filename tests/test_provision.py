"""`sessionlake provision` against the real S3/SQS/SNS endpoint (moto server): what an s3-sqs source needs,
planned by --dry-run, created once, unchanged by a second run, and working: an object under the prefix with
the suffix reaches the queue, others do not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import unquote_plus

import pytest

from sessionlake.ingest.readers.s3_sqs.provision import Notification, client, provision

pytestmark = pytest.mark.stack


def _source(directory: Path, name: str, bucket: str, queue: str, extra: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.yml").write_text(
        f"kind: s3-sqs\ns3_sqs:\n  queue: {queue}\n  bucket: {bucket}\n{extra}"
        f"schema: event_id string\ntargets: [{name}]\n"
    )
    return directory


def _provision(settings, config_dir: Path, *args: str) -> list[str]:
    env = os.environ | {"SESSIONLAKE_HOME": str(settings.home), "SESSIONLAKE_MOTO_PORT": str(settings.ports.moto)}
    argv = [sys.executable, "-m", "sessionlake.app.cli", "provision", "--config-dir", str(config_dir), *args]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.splitlines()


@pytest.mark.parametrize("via_sns", [False, True], ids=["s3-to-sqs", "s3-to-sns-to-sqs"])
def test_provision_plans_creates_once_and_delivers_only_matching_keys(via_sns, moto, settings, tmp_path) -> None:
    run = uuid.uuid4().hex[:8]
    bucket, queue, topic = f"svc-logs-{run}", f"svc-logs-{run}-events", f"svc-logs-{run}-topic"
    extra = "  prefix: incoming/\n  suffix: .json.gz\n  max_receive_count: 3\n"
    extra += f"  sns_topic: {topic}\n" if via_sns else ""
    config = _source(tmp_path / "src", f"svc_{run}", bucket, queue, extra)
    s3, sqs, sns = (client(settings, s) for s in ("s3", "sqs", "sns"))

    plan = _provision(settings, config, "--dry-run")
    assert f"would: create bucket {bucket}" in plan and f"would: create queue {queue}" in plan
    assert f"would: create queue {queue}-dlq" in plan
    assert any(line.startswith("would: notify") and "prefix 'incoming/'" in line for line in plan)
    assert bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}  # a dry run changes nothing
    assert sqs.list_queues(QueueNamePrefix=queue).get("QueueUrls", []) == []

    days = settings.privacy.bronze_retention_days
    wanted = Notification(bucket, queue, topic if via_sns else None, "incoming/", ".json.gz", 3, expire_after_days=days)
    assert len(provision(settings, [wanted])) >= 6  # what the CLI does, in this process
    assert provision(settings, [wanted]) == []  # a second run changes nothing
    assert _provision(settings, config, "--dry-run")[-1] == "1 source(s): no change(s) (dry run)"

    # The raw files expire with bronze's raw PII (docs/pii.md): a lifecycle rule on the source's prefix.
    [rule] = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert rule["Expiration"] == {"Days": days} and rule["Filter"] == {"Prefix": "incoming/"}
    assert any("expire objects" in line for line in plan)

    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(f":{queue}-dlq") and int(redrive["maxReceiveCount"]) == 3
    statement = json.loads(attributes["Policy"])["Statement"][0]
    assert statement["Principal"] == {"Service": "sns.amazonaws.com" if via_sns else "s3.amazonaws.com"}
    if via_sns:
        [topic_arn] = [t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(f":{topic}")]
        assert len(sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]) == 1
    sqs.purge_queue(QueueUrl=url)  # S3's test event of the new notification

    for key in ("incoming/a.json.gz", "incoming/b.txt", "other/c.json.gz", "incoming//d.json.gz"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"{}")
    keys = []
    for _ in range(5):
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            body = json.loads(message["Body"])
            event = json.loads(body["Message"]) if via_sns else body
            keys += [r["s3"]["object"]["key"] for r in event.get("Records", [])]
    assert sorted(unquote_plus(k) for k in keys) == ["incoming//d.json.gz", "incoming/a.json.gz"]
