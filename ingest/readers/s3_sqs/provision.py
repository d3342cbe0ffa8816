"""What an s3-sqs source needs in AWS, created idempotently with boto3, as Auto Loader's notification
mode sets it up: the SQS queue with a dead-letter queue and a redrive policy, optionally an SNS topic the
queue subscribes to, the bucket's event notification (with the source's prefix and suffix filters) to the
queue or the topic, and the policies that let S3 (or SNS) send to it.

`provision(..., dry_run=True)` reads the account and returns the changes it would make; otherwise it
makes them and returns what it changed. A second run changes nothing. The local stack provisions its
reference buckets with the same code (sessionlake.stack.aws).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from sessionlake.core.errors import ConfigurationError
from sessionlake.core.settings import Settings

OBJECT_CREATED = "s3:ObjectCreated:*"
DEFAULT_MAX_RECEIVE_COUNT = 5


@dataclass(frozen=True)
class Notification:
    """A bucket announcing new objects to a source's queue, directly or through an SNS topic."""

    bucket: str
    queue: str
    sns_topic: str | None = None
    prefix: str = ""
    suffix: str = ""
    max_receive_count: int = DEFAULT_MAX_RECEIVE_COUNT
    # The raw files expire after this many days (an S3 lifecycle rule on the prefix): bronze keeps raw PII
    # that long, so its landing copy should not outlive it (docs/pii.md). None: no rule.
    expire_after_days: int | None = None

    @property
    def lifecycle_rule_id(self) -> str:
        return f"sessionlake-{self.queue}-raw-expiry"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.queue}-dlq"

    @property
    def notification_id(self) -> str:
        return f"{self.bucket}-{self.queue}-object-created"


def client(settings: Settings, service: str) -> Any:
    """A boto3 client for the configured endpoint (moto on loopback unless overridden, or AWS's own)."""
    return boto3.client(
        service,
        endpoint_url=settings.aws_endpoint,
        region_name=settings.aws_region,
        config=Config(retries={"max_attempts": 3}, connect_timeout=5, read_timeout=30),
    )


def allow(service: str, action: str, resource: str, source_arn: str) -> str:
    """A resource policy letting `service` do `action` on `resource` for events of `source_arn` only."""
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": action,
        "Resource": resource,
        "Condition": {"ArnLike": {"aws:SourceArn": source_arn}},
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


class _Run:
    """Reads the account, and writes only what differs (nothing with dry_run); records every change."""

    def __init__(self, settings: Settings, dry_run: bool) -> None:
        self.settings = settings
        self.dry_run = dry_run
        self.changes: list[str] = []
        self.account = "000000000000"
        self.region = settings.aws_region
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = client(self.settings, service)
        return self._clients[service]

    def change(self, what: str) -> bool:
        """Record a change; True when it is to be made now."""
        self.changes.append(what)
        return not self.dry_run

    def bucket(self, name: str) -> None:
        s3 = self.client("s3")
        try:
            s3.head_bucket(Bucket=name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("404", "NoSuchBucket"):
                raise
            if self.change(f"create bucket {name}"):
                s3.create_bucket(Bucket=name)

    def queue(self, name: str, attributes: dict[str, str]) -> tuple[str | None, str]:
        """(url, arn) of the queue, created or brought to `attributes`; url None in a dry run's new queue."""
        sqs = self.client("sqs")
        try:
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
                raise
            url = None
        if url is None:
            if not self.change(f"create queue {name}"):
                return None, f"arn:aws:sqs:{self.region}:{self.account}:{name}"
            url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.queue_attributes(url, name, attributes)
        return url, arn

    def queue_attributes(self, url: str | None, name: str, attributes: dict[str, str]) -> None:
        current = {} if url is None else self.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
        current = current.get("Attributes", {}) if current else {}
        stale = {k: v for k, v in attributes.items() if not _same_attribute(current.get(k), v)}
        if stale and self.change(f"set {', '.join(sorted(stale))} of queue {name}") and url is not None:
            self.client("sqs").set_queue_attributes(QueueUrl=url, Attributes=stale)

    def topic(self, name: str, bucket_arn: str) -> str:
        sns = self.client("sns")
        arns = [t["TopicArn"] for page in sns.get_paginator("list_topics").paginate() for t in page["Topics"]]
        found = [arn for arn in arns if arn.rsplit(":", 1)[-1] == name]
        if found:
            arn = found[0]
        elif self.change(f"create topic {name}"):
            arn = sns.create_topic(Name=name)["TopicArn"]
        else:
            return f"arn:aws:sns:{self.region}:{self.account}:{name}"
        policy = allow("s3.amazonaws.com", "SNS:Publish", arn, bucket_arn)
        current = sns.get_topic_attributes(TopicArn=arn)["Attributes"].get("Policy")
        if not _same_attribute(current, policy) and self.change(f"let {bucket_arn} publish to topic {name}"):
            sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=policy)
        return arn

    def subscription(self, topic_arn: str, queue_arn: str) -> None:
        sns = self.client("sns")
        try:
            pages = sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn)
            subscribed = any(sub["Endpoint"] == queue_arn for page in pages for sub in page["Subscriptions"])
        except ClientError:
            subscribed = False  # the topic does not exist yet (a dry run)
        if not subscribed and self.change(f"subscribe {queue_arn} to {topic_arn}"):
            sns.subscribe(
                TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "false"}
            )

    def lifecycle(self, source: Notification) -> None:
        """The rule expiring the source's raw files; the bucket's other rules stay as they are."""
        if source.expire_after_days is None or source.expire_after_days < 1:
            raise ConfigurationError(f"{source.bucket}: raw files must expire after at least 1 day")
        s3 = self.client("s3")
        try:
            rules = s3.get_bucket_lifecycle_configuration(Bucket=source.bucket).get("Rules", [])
        except ClientError:
            rules = []  # no lifecycle configuration yet (or no bucket yet, in a dry run)
        rule = {
            "ID": source.lifecycle_rule_id,
            "Filter": {"Prefix": source.prefix},
            "Status": "Enabled",
            "Expiration": {"Days": source.expire_after_days},
        }
        current = next((r for r in rules if r.get("ID") == rule["ID"]), None)
        if (current is None or _lifecycle(current) != _lifecycle(rule)) and self.change(
            f"expire objects of {source.bucket} under {source.prefix!r} after {source.expire_after_days} days"
        ):
            others = [r for r in rules if r.get("ID") != rule["ID"]]
            s3.put_bucket_lifecycle_configuration(
                Bucket=source.bucket, LifecycleConfiguration={"Rules": [*others, rule]}
            )

    def notification(self, source: Notification, target_arn: str) -> None:
        s3 = self.client("s3")
        try:
            current = s3.get_bucket_notification_configuration(Bucket=source.bucket)
        except ClientError:
            current = {}  # the bucket does not exist yet (a dry run)
        current.pop("ResponseMetadata", None)
        entry: dict[str, Any] = {"Id": source.notification_id, "Events": [OBJECT_CREATED]}
        rules = [{"Name": n, "Value": v} for n, v in (("prefix", source.prefix), ("suffix", source.suffix)) if v]
        if rules:
            entry["Filter"] = {"Key": {"FilterRules": rules}}
        key, arn_key = ("TopicConfigurations", "TopicArn") if source.sns_topic else ("QueueConfigurations", "QueueArn")
        entry[arn_key] = target_arn
        # Every other notification of the bucket (other targets, EventBridge) stays as it is.
        wanted = {
            k: ([e for e in v if e.get("Id") != source.notification_id] if k.endswith("Configurations") else v)
            for k, v in current.items()
        }
        wanted = {k: v for k, v in wanted.items() if v or not k.endswith("Configurations")}
        wanted[key] = [*wanted.get(key, []), entry]
        # Only write when different: S3 sends an s3:TestEvent each time the configuration is put.
        if _notifications(current) != _notifications(wanted) and self.change(
            f"notify {arn_key.removesuffix('Arn').lower()} {target_arn} of new objects in {source.bucket}"
            + (f" (prefix {source.prefix!r}, suffix {source.suffix!r})" if rules else "")
        ):
            s3.put_bucket_notification_configuration(Bucket=source.bucket, NotificationConfiguration=wanted)


def _lifecycle(rule: dict[str, Any]) -> tuple:
    """What a lifecycle rule does, whatever shape the service returns it in (Filter.Prefix or Prefix)."""
    prefix = (rule.get("Filter") or {}).get("Prefix", rule.get("Prefix", ""))
    return rule.get("Status"), (rule.get("Expiration") or {}).get("Days"), prefix


def _same_attribute(current: str | None, wanted: str) -> bool:
    """Equal as JSON documents whose numbers may come back as strings or the other way (SQS's redrive)."""
    if current is None:
        return False
    try:
        return _scalars_as_text(json.loads(current)) == _scalars_as_text(json.loads(wanted))
    except ValueError:
        return current == wanted


def _scalars_as_text(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _scalars_as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scalars_as_text(v) for v in value]
    return str(value)


def _notifications(config: dict[str, Any]) -> set[tuple]:
    def rules(entry: dict[str, Any]) -> tuple:
        found = entry.get("Filter", {}).get("Key", {}).get("FilterRules", [])
        return tuple(sorted((r["Name"].lower(), r["Value"]) for r in found))

    return {
        (key, entry.get("Id", ""), _target(entry), tuple(sorted(entry["Events"])), rules(entry))
        for key, entries in config.items()
        if key.endswith("Configurations")
        for entry in entries
    }


def _target(entry: dict[str, Any]) -> str:
    return next(value for key, value in entry.items() if key.endswith("Arn"))


def ensure_bucket(settings: Settings, name: str) -> None:
    """Create the bucket unless it exists (the lake's and checkpoints' buckets on the local stack)."""
    _Run(settings, dry_run=False).bucket(name)


def provision(settings: Settings, sources: list[Notification], dry_run: bool = False) -> list[str]:
    """Bring the account to what the sources need; the changes made (or, with dry_run, to be made)."""
    run = _Run(settings, dry_run)
    for source in sources:
        if source.max_receive_count < 1:
            raise ConfigurationError(f"{source.queue}: max_receive_count must be at least 1")
        run.bucket(source.bucket)
        bucket_arn = f"arn:aws:s3:::{source.bucket}"
        _, dlq_arn = run.queue(source.dead_letter_queue, {})
        redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(source.max_receive_count)})
        queue_url, queue_arn = run.queue(source.queue, {"RedrivePolicy": redrive})
        if source.sns_topic:
            target = run.topic(source.sns_topic, bucket_arn)
            policy = allow("sns.amazonaws.com", "sqs:SendMessage", queue_arn, target)
            run.queue_attributes(queue_url, source.queue, {"Policy": policy})
            run.subscription(target, queue_arn)
        else:
            target = queue_arn
            policy = allow("s3.amazonaws.com", "sqs:SendMessage", queue_arn, bucket_arn)
            run.queue_attributes(queue_url, source.queue, {"Policy": policy})
        run.notification(source, target)
        if source.expire_after_days is not None:
            run.lifecycle(source)
    return run.changes
