"""Driver side of the source: receives notifications, logs new files durably, deletes messages on commit.

Runs in the long-lived Python process Spark keeps for a streaming Python data source, so the receipt
handles of messages awaiting their batch's commit are held in memory; after a restart they are simply
redelivered once their visibility timeout expires, recognised as already logged, and deleted.
"""

from __future__ import annotations

import fnmatch
import logging
import posixpath
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from ingest.readers.s3_sqs import aws
from ingest.readers.s3_sqs.discovery_log import DiscoveryLog, LoggedFile
from ingest.readers.s3_sqs.metrics import BatchMetrics, SourceMetrics
from ingest.readers.s3_sqs.notifications import ForeignMessage, ObjectEvent, parse_message
from ingest.readers.s3_sqs.options import SourceOptions

log = logging.getLogger(__name__)

SQS_BATCH = 10  # the most messages one ReceiveMessage / DeleteMessageBatch call handles


@dataclass
class _Pending:
    """A message whose files are logged: deleted once the batch holding its last file commits."""

    receipt_handle: str
    last_seq: int


@dataclass
class _Poll:
    new_events: list[ObjectEvent] = field(default_factory=list)
    identities: set[tuple[str, str, str]] = field(default_factory=set)
    bytes: int = 0
    acknowledge: list[str] = field(default_factory=list)  # receipt handles to delete once the log is durable
    carrying: list[tuple[str, int]] = field(default_factory=list)  # (receipt handle, count of new events so far)


class PathFilter:
    """prefix, pathGlobFilter (on the file name, like Spark's) and pathRegexFilter (searched in the key)."""

    def __init__(self, options: SourceOptions) -> None:
        self.prefix = options.prefix
        self.glob = options.path_glob_filter
        self.regex = re.compile(options.path_regex_filter) if options.path_regex_filter else None

    def accepts(self, key: str) -> bool:
        if not key.startswith(self.prefix) or key.endswith("/"):
            return False
        if self.glob and not fnmatch.fnmatchcase(posixpath.basename(key), self.glob):
            return False
        return not (self.regex and not self.regex.search(key))


class Discovery:
    def __init__(self, options: SourceOptions) -> None:
        self.options = options
        self.log = DiscoveryLog(options.metadata_path)
        self.sqs = aws.client("sqs", options)
        self.filter = PathFilter(options)
        self.pending: list[_Pending] = []
        self.idle_until = 0.0
        self.metrics = SourceMetrics.load(options.metadata_path)

    def poll(self) -> int:
        """Receive notifications until a trigger's worth of new files is logged; returns the log's end."""
        if time.monotonic() < self.idle_until:
            return self.log.end
        poll = _Poll()
        received = 0
        while len(poll.new_events) < self.options.max_files_per_trigger and (
            self.options.max_bytes_per_trigger is None or poll.bytes < self.options.max_bytes_per_trigger
        ):
            messages = self._receive()
            if not messages:
                break
            received += len(messages)
            for message in messages:
                self._sort(message, poll)
        entries = self.log.append(poll.new_events, datetime.now(timezone.utc))
        first = entries[0].seq if entries else self.log.end
        self.pending += [_Pending(handle, first + count - 1) for handle, count in poll.carrying]
        self._delete(poll.acknowledge)
        if received == 0:
            self.idle_until = time.monotonic() + self.options.sqs_fetch_interval
        return self.log.end

    def _receive(self) -> list[dict]:
        request = {
            "QueueUrl": self.options.queue_url,
            "MaxNumberOfMessages": SQS_BATCH,
            "WaitTimeSeconds": self.options.wait_time_seconds,
            "MessageSystemAttributeNames": ["ApproximateReceiveCount"],
        }
        if self.options.visibility_timeout is not None:
            request["VisibilityTimeout"] = self.options.visibility_timeout
        return self.sqs.receive_message(**request).get("Messages", [])

    def _sort(self, message: dict, poll: _Poll) -> None:
        try:
            parsed = parse_message(message.get("Body", ""))
        except ForeignMessage as exc:
            receives = message.get("Attributes", {}).get("ApproximateReceiveCount", "?")
            log.warning(
                "s3-sqs: leaving message %s on %s for the redrive policy (received %s times): %s",
                message.get("MessageId"),
                self.options.queue_url,
                receives,
                exc,
            )
            self.metrics.foreign_messages += 1
            return
        wanted = [e for e in parsed.created if self.filter.accepts(e.key)]
        new = []
        for event in wanted:
            if event.identity not in self.log.identities and event.identity not in poll.identities:
                poll.identities.add(event.identity)
                new.append(event)
        self.metrics.filtered_files += len(parsed.created) - len(wanted)
        self.metrics.duplicate_notifications += len(wanted) - len(new)
        if new:
            poll.new_events += new
            poll.bytes += sum(e.size for e in new)
            poll.carrying.append((message["ReceiptHandle"], len(poll.new_events)))
        else:
            poll.acknowledge.append(message["ReceiptHandle"])

    def _delete(self, receipt_handles: list[str]) -> None:
        for i in range(0, len(receipt_handles), SQS_BATCH):
            chunk = receipt_handles[i : i + SQS_BATCH]
            response = self.sqs.delete_message_batch(
                QueueUrl=self.options.queue_url,
                Entries=[{"Id": str(n), "ReceiptHandle": h} for n, h in enumerate(chunk)],
            )
            for failure in response.get("Failed", []):
                # An expired receipt handle: the message comes back, is recognised as logged, and is deleted then.
                log.warning("s3-sqs: could not delete a message (%s); it will be redelivered", failure)

    def plan(self, start: int, end: int) -> list[LoggedFile]:
        """The files of the batch (start, end]; records the batch's metrics the first time it is planned."""
        files = self.log.between(start, end)
        if end > self.metrics.planned:
            batch = BatchMetrics.of(self.log.between(max(start, self.metrics.planned), end), datetime.now(timezone.utc))
            self.metrics.record_batch(batch, end, self._backlog())
            self.metrics.save(self.options.metadata_path)
        return files

    def commit(self, end: int) -> None:
        """The batch ending at `end` is committed: delete the messages of its files."""
        done = [p for p in self.pending if p.last_seq < end]
        self.pending = [p for p in self.pending if p.last_seq >= end]
        self._delete([p.receipt_handle for p in done])

    def _backlog(self) -> dict[str, int]:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        try:
            attributes = self.sqs.get_queue_attributes(QueueUrl=self.options.queue_url, AttributeNames=names)
        except Exception as exc:  # metrics must never stop the stream
            log.warning("s3-sqs: could not read the queue backlog: %s", exc)
            return {}
        return {name: int(value) for name, value in attributes.get("Attributes", {}).items()}
