"""Provisioning of the reference log buckets: S3 bucket, SQS queue + dead-letter queue, event notifications.

`client-logs` notifies its SQS queue directly; `billing-logs` notifies an SNS topic that the queue
subscribes to (standard SNS envelope, not raw delivery), so both message shapes exist. Idempotent:
running it again changes nothing (and sends no new S3 test event). The same code as `sessionlake provision`
(ingest/readers/s3_sqs/provision.py), fed from the reference domain instead of the sources' YAML.
"""

from __future__ import annotations

from urllib.parse import urlparse

from sessionlake.core.domain import LOG_BUCKETS, LogBucket
from sessionlake.core.settings import Settings
from sessionlake.ingest.readers.s3_sqs.provision import (
    DEFAULT_MAX_RECEIVE_COUNT,
    Notification,
    client,
    ensure_bucket,
    provision,
)

MAX_RECEIVE_COUNT = DEFAULT_MAX_RECEIVE_COUNT
aws_client = client


def notification(settings: Settings, bucket: LogBucket) -> Notification:
    return Notification(
        bucket=bucket.bucket,
        queue=bucket.queue,
        sns_topic=bucket.via_sns_topic,
        expire_after_days=settings.privacy.bronze_retention_days,
    )


def provision_log_bucket(settings: Settings, bucket: LogBucket) -> None:
    provision(settings, [notification(settings, bucket)])


def provision_log_buckets(settings: Settings) -> None:
    provision(settings, [notification(settings, b) for b in LOG_BUCKETS])


LAKE_SCHEMES = ("s3a", "s3")


def provision_state_buckets(settings: Settings) -> None:
    """The buckets the lake and checkpoint URIs name, when they are on this endpoint (e.g. s3a://lake/...)."""
    for uri in (settings.lake, settings.checkpoints):
        parsed = urlparse(uri)
        if parsed.scheme in LAKE_SCHEMES and parsed.netloc:
            ensure_bucket(settings, parsed.netloc)
