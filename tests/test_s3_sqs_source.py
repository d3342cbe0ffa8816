"""The s3-sqs source (jvm/s3-sqs-source) end to end: real Spark, a real moto server (S3 -> SQS
notifications over HTTP), files read by Spark's own file formats."""

from __future__ import annotations

import bz2
import gzip
import json
import threading
import time
import uuid
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from urllib.parse import quote_plus, unquote_plus

import boto3
import pytest
from pyspark.errors import PySparkException
from pyspark.sql import SparkSession
from pyspark.sql.streaming import StreamingQueryException
from pyspark.sql.types import IntegerType, StringType, StructField, StructType

from sessionlake.ingest.readers import s3_sqs
from sessionlake.ingest.readers.s3_sqs.ledger import ledger, register_view

SCHEMA = StructType([StructField("id", StringType()), StructField("n", IntegerType())])
AWKWARD_KEYS = [
    "a dir/with space.json",
    "plus+sign.json",
    "100%.json",
    "t=12:30/x.json.gz",
    "ünï/çødé 日本.json",
    "_underscore.json",
    "q?hash#[x].json",
]


@dataclass
class Feed:
    """A bucket that notifies a queue, plus a quiet bucket (no notifications) for hand-made messages."""

    endpoint: str
    bucket: str
    quiet_bucket: str
    queue_url: str

    @cached_property
    def s3(self):
        return boto3.client("s3", endpoint_url=self.endpoint)

    @cached_property
    def sqs(self):
        return boto3.client("sqs", endpoint_url=self.endpoint)

    def put(self, key: str, rows: list[dict], bucket: str | None = None) -> str:
        return self.put_bytes(key, "".join(json.dumps(r) + "\n" for r in rows).encode(), bucket)

    def put_bytes(self, key: str, body: bytes, bucket: str | None = None) -> str:
        if key.endswith(".gz"):
            body = gzip.compress(body)
        elif key.endswith(".bz2"):
            body = bz2.compress(body)
        self.s3.put_object(Bucket=bucket or self.bucket, Key=key, Body=body)
        return f"s3a://{bucket or self.bucket}/{key}"

    def send(self, body: dict | str) -> None:
        self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body if isinstance(body, str) else json.dumps(body))

    def queue_bodies(self, wait: float) -> list[str]:
        """Every message on the queue once its in-flight ones become visible again (deleted afterwards)."""
        time.sleep(wait)
        bodies = []
        while messages := self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages"):
            bodies += [m["Body"] for m in messages]
            for m in messages:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])
        return bodies


def make_feed(endpoint: str, visibility_timeout: int = 2) -> Feed:
    name = f"t-{uuid.uuid4().hex[:10]}"
    s3 = boto3.client("s3", endpoint_url=endpoint)
    sqs = boto3.client("sqs", endpoint_url=endpoint)
    s3.create_bucket(Bucket=name)
    s3.create_bucket(Bucket=f"{name}-quiet")
    queue_url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": str(visibility_timeout)})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=name,
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    feed = Feed(endpoint, name, f"{name}-quiet", queue_url)
    assert any("s3:TestEvent" in b for b in feed.queue_bodies(0))  # S3 announces the configuration
    return feed


def rows_of(ids: list[str]) -> list[dict]:
    return [{"id": i, "n": n} for n, i in enumerate(ids)]


def s3_record(bucket: str, key: str, event: str = "ObjectCreated:Put", etag: str | None = None) -> dict:
    obj = {"key": quote_plus(key, safe="/"), "size": 1, "eTag": etag or key}
    return {
        "eventTime": "2024-05-01T10:00:00.000Z",
        "eventName": event,
        "s3": {"bucket": {"name": bucket}, "object": obj},
    }


class Run:
    """Runs the source with Trigger.AvailableNow into a list, on a checkpoint that outlives the run."""

    def __init__(self, spark: SparkSession, feed: Feed, tmp_path: Path, **options: str) -> None:
        self.spark, self.feed, self.tmp_path = spark, feed, tmp_path
        self.options = {"fileFormat": "json", "waitTimeSeconds": "0", "sqsFetchInterval": "0s", **options}
        self.rows: list[dict] = []
        self.progress: list[dict] = []
        s3_sqs.require(spark)

    def reader(self, schema: StructType | None = None):
        reader = (
            self.spark.readStream.format("s3-sqs")
            .option("queueUrl", self.feed.queue_url)
            .option("endpoint", self.feed.endpoint)
            .options(**self.options)
        )
        return reader.schema(schema) if schema else reader

    def once(self, schema: StructType | None = SCHEMA, **trigger: object) -> list[dict]:
        """One query run until it stops (AvailableNow by default); returns the rows it wrote."""
        added: list[dict] = []
        query = (
            self.reader(schema)
            .load()
            .writeStream.foreachBatch(lambda df, _: added.extend(r.asDict() for r in df.collect()))
            .option("checkpointLocation", str(self.tmp_path / "checkpoint"))
            .trigger(**(trigger or {"availableNow": True}))
            .start()
        )
        query.awaitTermination()
        self.progress = query.recentProgress
        self.rows += added
        return added

    def source_metrics(self) -> list[dict]:
        return [p["sources"][0]["metrics"] for p in self.progress if p["sources"]]


def by_file(rows: list[dict]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for row in rows:
        out.setdefault(row["_file_path"], []).append(row["id"])
    return out


def test_every_message_shape_once_foreign_left_for_the_dead_letter_queue(moto: str, spark, tmp_path: Path) -> None:
    feed = make_feed(moto)
    expected: dict[str, list[dict]] = {}
    for key in AWKWARD_KEYS:  # real S3 -> SQS notifications, keys URL-encoded by S3
        expected[feed.put(key, rows_of([f"{key}#{i}" for i in range(3)]))] = []
    sns_uri = feed.put("sns/one.json", rows_of(["sns"]), bucket=feed.quiet_bucket)
    sns_body = {
        "Type": "Notification",
        "Message": json.dumps({"Records": [s3_record(feed.quiet_bucket, "sns/one.json")]}),
    }
    feed.send(sns_body)
    feed.send(sns_body)  # a duplicate notification of the same object version
    raw_uri = feed.put("raw/sns raw.json", rows_of(["raw"]), bucket=feed.quiet_bucket)
    feed.send({"Records": [s3_record(feed.quiet_bucket, "raw/sns raw.json")]})  # SNS raw message delivery
    eb_uri = feed.put("eb/two words+plus.json", rows_of(["eb"]), bucket=feed.quiet_bucket)
    feed.send(
        {
            "version": "0",
            "detail-type": "Object Created",
            "source": "aws.s3",
            "time": "2024-05-01T10:00:00Z",
            "detail": {
                "bucket": {"name": feed.quiet_bucket},
                "object": {"key": "eb/two words+plus.json", "size": 1, "etag": "eb"},
            },
        }
    )
    twice = feed.put("twice.json", rows_of(["twice"]), bucket=feed.quiet_bucket)
    for version in ("v1", "v2"):  # two versions of a key announced in one batch: read once, as it is now
        feed.send({"Records": [s3_record(feed.quiet_bucket, "twice.json", etag=version)]})
    many = [feed.put(f"many/{i}.json", rows_of([f"many{i}"]), bucket=feed.quiet_bucket) for i in range(2)]
    feed.send({"Records": [s3_record(feed.quiet_bucket, f"many/{i}.json") for i in range(2)]})
    feed.send({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": feed.bucket})
    feed.send({"Records": [s3_record(feed.bucket, "deleted.json", event="ObjectRemoved:Delete")]})
    feed.send({"version": "0", "detail-type": "Object Deleted", "source": "aws.s3", "detail": {}})
    feed.send("this is not a notification")
    feed.send({"Records": [{"eventName": "ObjectCreated:Put"}]})  # an S3 record without its s3 object

    run = Run(spark, feed, tmp_path)
    rows = run.once()
    files = by_file(rows)
    assert sorted(files) == sorted([*expected, sns_uri, raw_uri, eb_uri, twice, *many])
    assert files[twice] == ["twice"]
    for key in AWKWARD_KEYS:
        assert sorted(files[f"s3a://{feed.bucket}/{key}"]) == [f"{key}#{i}" for i in range(3)]
    assert all(r["_file_size"] > 0 and r["_file_event_time"] and r["_file_modification_time"] for r in rows)
    assert sum(p["numInputRows"] for p in run.progress) == len(rows)  # the progress counts the rows read

    # The source deletes the messages of committed batches (at the latest when the query stops); the
    # foreign messages stay for the redrive policy.
    metrics = run.source_metrics()
    assert sum(int(m.get("batchFiles", 0)) for m in metrics) == len(files)
    assert max(int(m["foreignMessages"]) for m in metrics) == 2
    assert max(int(m["duplicateNotifications"]) for m in metrics) >= 1
    assert run.once() == []
    assert sorted(feed.queue_bodies(2.5)) == sorted(
        ["this is not a notification", json.dumps({"Records": [{"eventName": "ObjectCreated:Put"}]})]
    )

    # The file ledger answers for every file: read (in a committed batch) or skipped, with the reason.
    entries = [r.asDict() for r in ledger(spark, str(tmp_path / "checkpoint")).collect()]
    read = [e for e in entries if e["skipped_reason"] is None]
    assert {f"s3a://{e['bucket']}/{e['key']}" for e in read} == set(files)
    assert all(e["committed"] and e["batch_id"] is not None and e["segment"] is not None for e in read)
    assert all(e["origin"] == "sqs" and e["discovered_at"] and e["event_time"] for e in read)
    assert sorted(e["etag"] for e in read if e["key"] == "twice.json") == ["v1", "v2"]
    skipped = [(e["skipped_reason"], e["key"]) for e in entries if e["skipped_reason"]]
    assert ("duplicate", "sns/one.json") in skipped
    assert len([reason for reason, key in skipped if reason == "foreign message" and key is None]) >= 2
    assert set(skipped) <= {("duplicate", "sns/one.json"), ("foreign message", None)}
    # ... and as a view in the metastore, for SQL clients (reading the same logs by path).
    register_view(spark, "s3_sqs_test", str(tmp_path / "checkpoint"))
    assert spark.table("ops.files_s3_sqs_test").count() == len(entries)


def test_text_format_default_schema_path_filters_and_compression(moto: str, spark, tmp_path: Path) -> None:
    feed = make_feed(moto)
    gz = feed.put_bytes("logs/a.json.gz", b'{"line": 1}\n{"line": 2}\n')
    bz = feed.put_bytes("logs/b.json.bz2", b'{"line": 3}\n')
    feed.put("logs/skip.csv", [{"line": 4}])
    feed.put("other/b.json", [{"line": 5}])
    rows = Run(spark, feed, tmp_path, fileFormat="text", prefix="logs/", pathGlobFilter="*.json*").once(schema=None)
    assert sorted((r["value"], r["_file_path"]) for r in rows) == [
        ('{"line": 1}', gz),
        ('{"line": 2}', gz),
        ('{"line": 3}', bz),
    ]
    filtered = ledger(spark, str(tmp_path / "checkpoint")).where("skipped_reason = 'filtered'").collect()
    assert sorted(r["key"] for r in filtered) == ["logs/skip.csv", "other/b.json"]


def test_reader_options_pass_through_to_spark_readers(moto: str, spark, tmp_path: Path) -> None:
    feed = make_feed(moto)
    csv = feed.put_bytes("in/a.csv", b"id;n\nx;1\ny;2\n")
    rows = Run(spark, feed, tmp_path / "csv", fileFormat="csv", header="true", sep=";").once()
    assert sorted((r["id"], r["n"], r["_file_path"]) for r in rows) == [("x", 1, csv), ("y", 2, csv)]

    feed = make_feed(moto)
    multi = feed.put_bytes("in/multi.json", b'[{"id": "m1",\n "n": 1},\n {"id": "m2", "n": 2}]\n')
    rows = Run(spark, feed, tmp_path / "multi", multiLine="true").once()
    assert sorted((r["id"], r["n"], r["_file_path"]) for r in rows) == [("m1", 1, multi), ("m2", 2, multi)]

    feed = make_feed(moto)
    feed.put_bytes("in/bad.json", b'{"id": "ok", "n": 3}\n{"id": oops}\n')
    schema = StructType([*SCHEMA.fields, StructField("bad", StringType())])
    rows = Run(spark, feed, tmp_path / "bad", columnNameOfCorruptRecord="bad").once(schema=schema)
    assert sorted((r["id"] or "", r["bad"] or "") for r in rows) == [("", '{"id": oops}'), ("ok", "")]
    feed = make_feed(moto)
    feed.put_bytes("in/bad.json", b'{"id": "ok", "n": 3}\n{"id": oops}\n')
    assert [r["id"] for r in Run(spark, feed, tmp_path / "drop", mode="DROPMALFORMED").once()] == ["ok"]


def test_unknown_or_invalid_options_fail_at_start(moto: str, spark, tmp_path: Path) -> None:
    feed = make_feed(moto)
    with pytest.raises(PySparkException, match="unknown option.*maxfilespertriger"):
        Run(spark, feed, tmp_path, maxFilesPerTriger="5").once()
    with pytest.raises(PySparkException, match="unknown option.*header"):  # a csv option on a json source
        Run(spark, feed, tmp_path, header="true").once()
    with pytest.raises(PySparkException, match="option waitTimeSeconds='30': must be between 0 and 20"):
        Run(spark, feed, tmp_path, waitTimeSeconds="30").once()
    with pytest.raises(PySparkException, match="option sqsFetchInterval='soon'"):
        Run(spark, feed, tmp_path, sqsFetchInterval="soon").once()
    with pytest.raises(PySparkException, match="option pathRegexFilter='\\('"):
        Run(spark, feed, tmp_path, pathRegexFilter="(").once()
    with pytest.raises(PySparkException, match="option fileFormat=nosuchformat"):
        Run(spark, feed, tmp_path, fileFormat="nosuchformat").once()
    with pytest.raises(PySparkException, match="need option bucket"):
        Run(spark, feed, tmp_path, initialListing="true").once()
    with pytest.raises(PySparkException, match="fileFormat=json needs a schema"):
        Run(spark, feed, tmp_path).once(schema=None)
    with pytest.raises(PySparkException, match="option cleanSource='rm': expected off, delete, archive"):
        Run(spark, feed, tmp_path, cleanSource="rm").once()
    with pytest.raises(PySparkException, match="cleanSource=archive needs option sourceArchiveDir"):
        Run(spark, feed, tmp_path, cleanSource="archive", bucket=feed.bucket).once()
    with pytest.raises(PySparkException, match="sourceArchiveDir='s3a://.*/archive' must lie outside"):
        Run(spark, feed, tmp_path, cleanSource="archive", bucket=feed.bucket,
            sourceArchiveDir=f"s3a://{feed.bucket}/archive").once()  # fmt: skip


def test_clean_source_deletes_then_archives_the_files_no_restart_can_read_again(moto: str, spark, tmp_path: Path):
    """A file goes once the batch after the one that read it has committed (a restart may plan the last
    committed batch again); a key overwritten since it was read is left for its new version."""
    feed = make_feed(moto)

    def keys(bucket: str, prefix: str) -> dict[str, str]:
        """The objects under prefix, each by the id of its (one) row."""
        listed = feed.s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        bodies = {o["Key"]: feed.s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}
        return {key: json.loads(body)["id"] for key, body in bodies.items()}

    for i in range(3):
        feed.put(f"c/{i}.json", rows_of([f"c{i}"]))
    deleting = Run(spark, feed, tmp_path, bucket=feed.bucket, cleanSource="delete", maxFilesPerTrigger="1")
    assert sorted(r["id"] for r in deleting.once()) == ["c0", "c1", "c2"]  # three batches
    assert set(keys(feed.bucket, "c/")) == {"c/2.json"}
    assert max(int(m.get("cleanedFiles", 0)) for m in deleting.source_metrics()) >= 1

    feed.put("c/2.json", rows_of(["c2-new"]))  # overwritten: its first version's clean-up must keep it
    feed.put("c/3.json", rows_of(["c3"]))
    next_run = Run(spark, feed, tmp_path, bucket=feed.bucket, cleanSource="delete")
    assert sorted(r["id"] for r in next_run.once()) == ["c2-new", "c3"]  # one batch
    assert keys(feed.bucket, "c/") == {"c/2.json": "c2-new", "c/3.json": "c3"}

    feed.put("c/4.json", rows_of(["c4"]))
    archive = f"s3a://{feed.quiet_bucket}/archive"
    archiving = Run(spark, feed, tmp_path, bucket=feed.bucket, cleanSource="archive", sourceArchiveDir=archive)
    assert [r["id"] for r in archiving.once()] == ["c4"]
    assert set(keys(feed.bucket, "c/")) == {"c/4.json"}
    assert keys(feed.quiet_bucket, "archive/") == {
        f"archive/{feed.bucket}/c/2.json": "c2-new",
        f"archive/{feed.bucket}/c/3.json": "c3",
    }


def test_the_file_ledger_forgets_what_is_older_than_the_dedupe_retention(moto: str, spark, tmp_path: Path) -> None:
    feed = make_feed(moto)
    feed.put("r/0.json", rows_of(["r0"]))
    feed.send({"Records": [s3_record(feed.quiet_bucket, "elsewhere.json")]})  # another bucket: filtered
    run = Run(spark, feed, tmp_path, bucket=feed.bucket, dedupeRetention="3s")
    run.once()

    def entries() -> list[tuple]:
        rows = ledger(spark, str(tmp_path / "checkpoint")).collect()
        return sorted((r["key"], r["skipped_reason"] or "read") for r in rows)

    assert entries() == [("elsewhere.json", "filtered"), ("r/0.json", "read")]
    time.sleep(4)
    feed.put("r/1.json", rows_of(["r1"]))
    run.once()  # the skip log expires at start; segment 0 is still the last committed batch's
    assert entries() == [("r/0.json", "read"), ("r/1.json", "read")]
    run.once()  # now segment 0 belongs to a batch no restart plans again, and has expired
    assert entries() == [("r/1.json", "read")]


def test_missing_object_fails_naming_it_unless_ignore_missing_files(moto: str, spark, tmp_path: Path) -> None:
    feed = make_feed(moto)
    kept = feed.put("kept.json", rows_of(["kept"]))
    gone = feed.put("gone file.json", rows_of(["gone"]))
    feed.s3.delete_object(Bucket=feed.bucket, Key="gone file.json")
    run = Run(spark, feed, tmp_path, fileFormat="json")
    with pytest.raises(StreamingQueryException, match=f"{gone} was deleted before it was read"):
        run.once()
    spark.conf.set("spark.sql.files.ignoreMissingFiles", "true")
    try:
        rows = run.once()  # the same batch, replayed from the checkpoint
    finally:
        spark.conf.unset("spark.sql.files.ignoreMissingFiles")
    assert [(r["id"], r["_file_path"]) for r in rows] == [("kept", kept)]
    assert run.source_metrics()[0]["batchMissingFiles"] == "1"
    missing = ledger(spark, str(tmp_path / "checkpoint")).where("skipped_reason = 'missing'").collect()
    assert {r["key"] for r in missing} == {"gone file.json"}
    assert "deleted before the batch" in missing[0]["detail"]


def test_redelivery_after_the_visibility_timeout_does_not_duplicate(moto: str, spark, tmp_path: Path) -> None:
    feed = make_feed(moto, visibility_timeout=1)
    uris = [feed.put(f"slow/{i}.json", rows_of([f"r{i}"])) for i in range(3)]
    run = Run(spark, feed, tmp_path, fileFormat="json")
    rows: list[dict] = []

    def slow_sink(df, batch_id: int) -> None:
        rows.extend(r.asDict() for r in df.collect())
        if batch_id == 0:
            time.sleep(3)  # the messages of batch 0 become visible again meanwhile

    query = (
        run.reader(SCHEMA)
        .load()
        .writeStream.foreachBatch(slow_sink)
        .option("checkpointLocation", str(tmp_path / "checkpoint"))
        .trigger(processingTime="500 milliseconds")
        .start()
    )
    try:
        deadline = time.monotonic() + 60
        while len(rows) < 3 and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(4)  # redelivered messages are polled, recognised as logged and deleted
        uris.append(feed.put("slow/late.json", rows_of(["late"])))
        while len(rows) < 4 and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(2)
    finally:
        query.stop()
    assert sorted(r["_file_path"] for r in rows) == sorted(uris)
    assert feed.queue_bodies(1.5) == []  # every message deleted once its batch committed


def test_initial_listing_then_backfill_listing_catch_files_never_announced(moto: str, spark, tmp_path: Path) -> None:
    feed = make_feed(moto)
    old = [feed.put(f"hist/old-{i}.json", rows_of([f"old{i}"]), bucket=feed.quiet_bucket) for i in range(3)]
    feed.put("elsewhere/x.json", rows_of(["x"]), bucket=feed.quiet_bucket)
    options = {"bucket": feed.quiet_bucket, "prefix": "hist/", "maxFilesPerTrigger": "2"}
    run = Run(spark, feed, tmp_path, initialListing="true", backfillInterval="1s", **options)
    assert sorted(by_file(run.once())) == sorted(old)  # in two batches of at most 2 files
    assert len([m for m in run.source_metrics() if "batchFiles" in m]) == 2

    # A file whose notification was lost: the next run's backfill listing (due: the interval has passed
    # since the last listing, which the source keeps in its checkpoint) logs it.
    lost = feed.put("hist/lost.json", rows_of(["lost"]), bucket=feed.quiet_bucket)
    time.sleep(1.5)
    assert by_file(run.once()) == {lost: ["lost"]}
    assert max(int(m.get("backfilledFiles", 0)) for m in run.source_metrics()) == 1
    # Its notification arriving late is recognised as the same object version (bucket, key, ETag).
    etag = feed.s3.head_object(Bucket=feed.quiet_bucket, Key="hist/lost.json")["ETag"].strip('"')
    feed.send({"Records": [s3_record(feed.quiet_bucket, "hist/lost.json", etag=etag)]})
    assert run.once() == []
    assert feed.queue_bodies(2.5) == []  # acknowledged: its file is in a committed batch


def test_a_thousand_small_files(moto: str, spark, tmp_path: Path) -> None:
    feed = make_feed(moto, visibility_timeout=60)

    def put_range(start: int) -> None:
        for i in range(start, start + 250):
            feed.put(f"small/{i:04d}.json", [{"id": f"f{i}", "n": i}], bucket=feed.quiet_bucket)

    threads = [threading.Thread(target=put_range, args=(s,)) for s in range(0, 1000, 250)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Ten records per message: moto's ReceiveMessage scans the whole queue, so a thousand one-record
    # messages would measure moto rather than the source.
    for first in range(0, 1000, 10):
        feed.send({"Records": [s3_record(feed.quiet_bucket, f"small/{i:04d}.json") for i in range(first, first + 10)]})
    run = Run(spark, feed, tmp_path, fileFormat="json", maxFilesPerTrigger="400")
    rows = run.once()
    assert sorted(r["n"] for r in rows) == list(range(1000))
    assert len({r["_file_path"] for r in rows}) == 1000
    batches = [int(m["batchFiles"]) for m in run.source_metrics() if "batchFiles" in m]
    assert sum(batches) == 1000 and max(batches) <= 410  # AvailableNow drains in batches within the limit


def test_a_key_no_s3a_path_addresses_is_left_for_the_dead_letter_queue_not_read_as_another(moto, spark, tmp_path):
    """Hadoop's Path folds `//` and drops `./` and `../`: announced keys like these would read another
    object (here: decoys at the folded keys, announced too) or none. They are not read; their messages stay
    on the queue for its redrive policy, named in the driver's log and counted in `unreadableKeys`."""
    feed = make_feed(moto)
    folded = {"a//b.json": "a/b.json", "x/./c.json": "x/c.json", "x/../d.json": "d.json", "./e.json": "e.json"}
    decoys = [feed.put(decoy, rows_of([f"decoy {decoy}"])) for decoy in folded.values()]
    for key in folded:
        feed.put(key, rows_of([f"exact {key}"]))
    run = Run(spark, feed, tmp_path)
    rows = run.once()
    assert by_file(rows) == {uri: [f"decoy {uri.split('/', 3)[3]}"] for uri in decoys}  # each decoy once
    assert max(int(m["unreadableKeys"]) for m in run.source_metrics()) == len(folded)
    left = [json.loads(body)["Records"][0]["s3"]["object"]["key"] for body in feed.queue_bodies(2.5)]
    assert sorted(unquote_plus(k) for k in left) == sorted(folded)
