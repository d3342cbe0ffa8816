"""Provisioning of the reference log buckets: S3 bucket, SQS queue + dead-letter queue, event notifications.

`client-logs` notifies its SQS queue directly; `billing-logs` notifies an SNS topic that the queue
subscribes to (standard SNS envelope, not raw delivery), so both message shapes exist. Idempotent:
running it again changes nothing (and sends no new S3 test event).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from sessionlake.core.domain import LOG_BUCKETS, LogBucket
from sessionlake.core.settings import Settings

MAX_RECEIVE_COUNT = 5
OBJECT_CREATED = "s3:ObjectCreated:*"


def aws_client(settings: Settings, service: str) -> Any:
    """A boto3 client for the configured endpoint (moto on loopback unless overridden)."""
    return boto3.client(
        service,
        endpoint_url=settings.aws_endpoint,
        region_name=settings.aws_region,
        config=Config(retries={"max_attempts": 3}, connect_timeout=5, read_timeout=30),
    )


def _queue(sqs: Any, name: str, attributes: dict[str, str]) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    if attributes:
        sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _allow(service: str, action: str, resource: str, source_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": action,
                    "Resource": resource,
                    "Condition": {"ArnLike": {"aws:SourceArn": source_arn}},
                }
            ],
        }
    )


def _ensure_bucket(s3: Any, name: str) -> None:
    try:
        s3.head_bucket(Bucket=name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("404", "NoSuchBucket"):
            raise
        s3.create_bucket(Bucket=name)


def _subscribe(sns: Any, topic_arn: str, queue_arn: str) -> None:
    pages = sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn)
    if any(sub["Endpoint"] == queue_arn for page in pages for sub in page["Subscriptions"]):
        return
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "false"},
    )


def _notification(bucket: LogBucket, target_arn: str) -> dict[str, Any]:
    entry = {"Id": f"{bucket.bucket}-object-created", "Events": [OBJECT_CREATED]}
    if bucket.via_sns_topic:
        return {"TopicConfigurations": [{**entry, "TopicArn": target_arn}]}
    return {"QueueConfigurations": [{**entry, "QueueArn": target_arn}]}


_TARGET_KEYS = (
    ("QueueConfigurations", "QueueArn"),
    ("TopicConfigurations", "TopicArn"),
    ("LambdaFunctionConfigurations", "LambdaFunctionArn"),
)


def _targets(config: dict[str, Any]) -> set[tuple[str, str, str, tuple[str, ...]]]:
    return {
        (key, entry.get("Id", ""), entry[arn_key], tuple(sorted(entry["Events"])))
        for key, arn_key in _TARGET_KEYS
        for entry in config.get(key, [])
    }


def _ensure_notification(s3: Any, bucket: LogBucket, wanted: dict[str, Any]) -> None:
    # Only write when different: S3 (and moto) sends an s3:TestEvent each time the configuration is put.
    current = s3.get_bucket_notification_configuration(Bucket=bucket.bucket)
    if _targets(current) != _targets(wanted):
        s3.put_bucket_notification_configuration(Bucket=bucket.bucket, NotificationConfiguration=wanted)


def provision_log_bucket(settings: Settings, bucket: LogBucket) -> None:
    s3, sqs = aws_client(settings, "s3"), aws_client(settings, "sqs")
    _ensure_bucket(s3, bucket.bucket)
    _, dlq_arn = _queue(sqs, bucket.dead_letter_queue, {})
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)})
    queue_url, queue_arn = _queue(sqs, bucket.queue, {"RedrivePolicy": redrive})
    bucket_arn = f"arn:aws:s3:::{bucket.bucket}"
    if bucket.via_sns_topic:
        sns = aws_client(settings, "sns")
        topic_arn = sns.create_topic(Name=bucket.via_sns_topic)["TopicArn"]
        sns.set_topic_attributes(
            TopicArn=topic_arn,
            AttributeName="Policy",
            AttributeValue=_allow("s3.amazonaws.com", "SNS:Publish", topic_arn, bucket_arn),
        )
        policy = _allow("sns.amazonaws.com", "sqs:SendMessage", queue_arn, topic_arn)
        sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": policy})
        _subscribe(sns, topic_arn, queue_arn)
        target_arn = topic_arn
    else:
        policy = _allow("s3.amazonaws.com", "sqs:SendMessage", queue_arn, bucket_arn)
        sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": policy})
        target_arn = queue_arn
    _ensure_notification(s3, bucket, _notification(bucket, target_arn))


def provision_log_buckets(settings: Settings) -> None:
    for bucket in LOG_BUCKETS:
        provision_log_bucket(settings, bucket)


LAKE_SCHEMES = ("s3a", "s3")


def provision_state_buckets(settings: Settings) -> None:
    """The buckets the lake and checkpoint URIs name, when they are on this endpoint (e.g. s3a://lake/...)."""
    s3 = aws_client(settings, "s3")
    for uri in (settings.lake, settings.checkpoints):
        parsed = urlparse(uri)
        if parsed.scheme in LAKE_SCHEMES and parsed.netloc:
            _ensure_bucket(s3, parsed.netloc)
