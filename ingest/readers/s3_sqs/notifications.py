"""Parsing SQS message bodies into the S3 objects they announce (pure functions, no I/O).

Shapes understood: S3 event notifications (any number of Records), the same wrapped by SNS
(Type=Notification) or delivered raw by SNS, EventBridge "Object Created" events, and
s3:TestEvent. Anything else is *foreign*: the caller leaves it on the queue for its redrive policy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import unquote_plus


class ForeignMessage(ValueError):
    """The message is not an S3 notification this source understands; the message says why."""


@dataclass(frozen=True)
class ObjectEvent:
    """One S3 object announced as created."""

    bucket: str
    key: str  # decoded
    size: int
    etag: str
    version_id: str | None
    sequencer: str | None
    event_time: datetime

    @property
    def identity(self) -> tuple[str, str, str]:
        """What makes two notifications announce the same object version (redeliveries, duplicates)."""
        if self.version_id:
            token = f"v:{self.version_id}"
        elif self.sequencer:
            token = f"s:{self.sequencer}"
        else:
            token = f"e:{self.etag}"
        return (self.bucket, self.key, token)

    @property
    def uri(self) -> str:
        return f"s3a://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class ParsedMessage:
    """created: the objects to ingest; empty for messages to acknowledge without data
    (test events, removals, other event types)."""

    created: tuple[ObjectEvent, ...]
    ignored: int = 0  # records acknowledged without data (removals, other event types)


def parse_event_time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (TypeError, ValueError, AttributeError):
        raise ForeignMessage(f"eventTime {value!r} is not an ISO-8601 time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _s3_record(record: object) -> ObjectEvent | None:
    if not isinstance(record, dict) or not isinstance(record.get("s3"), dict):
        raise ForeignMessage("a record has no 's3' object")
    name = str(record.get("eventName", ""))
    if not name.startswith(("ObjectCreated:", "s3:ObjectCreated:")):
        return None
    s3 = record["s3"]
    try:
        bucket = s3["bucket"]["name"]
        obj = s3["object"]
        key = unquote_plus(obj["key"])
    except (KeyError, TypeError):
        raise ForeignMessage("a record lacks s3.bucket.name or s3.object.key") from None
    return ObjectEvent(
        bucket=bucket,
        key=key,
        size=int(obj.get("size") or 0),
        etag=str(obj.get("eTag") or obj.get("etag") or ""),
        version_id=obj.get("versionId") or None,
        sequencer=obj.get("sequencer") or None,
        event_time=parse_event_time(record.get("eventTime", "")),
    )


def _eventbridge(event: dict) -> ParsedMessage:
    if event.get("detail-type") != "Object Created":
        return ParsedMessage(created=(), ignored=1)
    detail = event.get("detail")
    try:
        bucket = detail["bucket"]["name"]
        obj = detail["object"]
        key = obj["key"]  # EventBridge keys are not URL-encoded
    except (KeyError, TypeError):
        raise ForeignMessage("EventBridge event lacks detail.bucket.name or detail.object.key") from None
    created = ObjectEvent(
        bucket=bucket,
        key=key,
        size=int(obj.get("size") or 0),
        etag=str(obj.get("etag") or ""),
        version_id=obj.get("version-id") or None,
        sequencer=obj.get("sequencer") or None,
        event_time=parse_event_time(event.get("time", "")),
    )
    return ParsedMessage(created=(created,))


def _parse_document(doc: object, depth: int = 0) -> ParsedMessage:
    if not isinstance(doc, dict):
        raise ForeignMessage("the body is not a JSON object")
    if doc.get("Type") == "Notification" and "Message" in doc and depth == 0:
        try:
            inner = json.loads(doc["Message"])
        except (TypeError, json.JSONDecodeError):
            raise ForeignMessage("SNS notification whose Message is not JSON") from None
        return _parse_document(inner, depth + 1)
    if doc.get("Event") == "s3:TestEvent":
        return ParsedMessage(created=(), ignored=1)
    if "Records" in doc:
        records = doc["Records"]
        if not isinstance(records, list):
            raise ForeignMessage("'Records' is not a list")
        events = [_s3_record(r) for r in records]
        created = tuple(e for e in events if e is not None)
        return ParsedMessage(created=created, ignored=len(events) - len(created))
    if doc.get("source") == "aws.s3" and "detail-type" in doc:
        return _eventbridge(doc)
    raise ForeignMessage("not an S3 event notification, SNS notification or EventBridge S3 event")


def parse_message(body: str) -> ParsedMessage:
    """Parse one SQS message body; raises ForeignMessage (naming the problem) for anything else."""
    try:
        doc = json.loads(body)
    except (TypeError, json.JSONDecodeError):
        raise ForeignMessage("the body is not JSON") from None
    return _parse_document(doc)
