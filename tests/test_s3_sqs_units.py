"""Unit tests of the s3-sqs source's pure parts (Scala objects in jvm/s3-sqs-source, called through
py4j): notification parsing, key decoding, option validation, paths."""

from __future__ import annotations

import json

import pytest
from pyspark.errors.exceptions.captured import IllegalArgumentException

from sessionlake.ingest.readers import s3_sqs

PACKAGE = "org.apache.spark.sql.sessionlake.s3sqs"


@pytest.fixture(scope="module")
def jvm(spark):
    s3_sqs.require(spark)
    return getattr(spark.sparkContext._jvm, PACKAGE)  # noqa: SLF001 - the JVM view, as PySpark offers it


def parse(jvm, body: dict | str) -> dict:
    return json.loads(jvm.Notifications.describe(body if isinstance(body, str) else json.dumps(body)))


def s3_record(key: str, event: str = "ObjectCreated:Put", bucket: str = "logs", **obj: object) -> dict:
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventTime": "2024-05-01T10:00:00.123Z",
        "eventName": event,
        "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 10, "eTag": "abc", **obj}},
    }


def test_raw_notification_with_several_records_decodes_keys(jvm) -> None:
    body = {
        "Records": [
            s3_record("a+b%2Bc%25d%3Ae%3Df+%C3%A9+%E6%97%A5.json", sequencer="01"),
            s3_record("gone.json", event="ObjectRemoved:Delete"),
            s3_record("two.json.gz", versionId="v2", eTag=""),
        ]
    }
    parsed = parse(jvm, body)
    assert [e["key"] for e in parsed["created"]] == ["a b+c%d:e=f é 日.json", "two.json.gz"]
    assert parsed["ignored"] == 1
    assert parsed["created"][0]["eventTimeMs"] == 1714557600123
    assert parsed["created"][0]["identity"] == "logs/a b+c%d:e=f é 日.json\x00e:abc"
    assert parsed["created"][1]["identity"] == "logs/two.json.gz\x00v:v2"  # no ETag: the version id
    assert parsed["created"][0]["uri"] == "s3a://logs/a b+c%d:e=f é 日.json"


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [("a+b", "a b"), ("100%25", "100%"), ("%", "%"), ("%zz%4", "%zz%4"), ("%C3%A9", "é"), ("%FF", "\ufffd")],
)
def test_keys_decode_like_unquote_plus(jvm, encoded: str, decoded: str) -> None:
    assert jvm.Notifications.unquotePlus(encoded) == decoded


def test_sns_wrapped_and_raw_delivery_parse_alike(jvm) -> None:
    inner = json.dumps({"Records": [s3_record("x.json")]})
    wrapped = {"Type": "Notification", "TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": inner}
    assert parse(jvm, wrapped) == parse(jvm, inner)
    assert parse(jvm, inner)["created"][0]["uri"] == "s3a://logs/x.json"


def test_eventbridge_object_created_and_other_detail_types(jvm) -> None:
    event = {
        "version": "0",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "time": "2024-05-01T10:00:00Z",
        "detail": {
            "bucket": {"name": "logs"},
            "object": {"key": "dir/a b+c.json", "size": 5, "etag": "e", "sequencer": "0A"},
        },
    }
    parsed = parse(jvm, event)
    assert [(e["bucket"], e["key"], e["size"]) for e in parsed["created"]] == [("logs", "dir/a b+c.json", 5)]
    deleted = parse(jvm, {**event, "detail-type": "Object Deleted"})
    assert deleted == {"ignored": 1, "created": []}


def test_test_event_is_acknowledged_without_files(jvm) -> None:
    assert parse(jvm, {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "logs"}) == {
        "ignored": 1,
        "created": [],
    }


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps({"hello": "world"}), "not an S3 event notification"),
        (json.dumps({"Type": "Notification", "Message": "{oops"}), "Message is not JSON"),
        (json.dumps({"Records": [{"eventName": "ObjectCreated:Put"}]}), "no 's3' object"),
        (json.dumps({"Records": [s3_record("k") | {"eventTime": "yesterday"}]}), "eventTime"),
        (json.dumps({"Records": "x"}), "not a list"),
    ],
)
def test_foreign_messages_name_the_problem(jvm, body: str, reason: str) -> None:
    assert reason in parse(jvm, body)["foreign"]


BASE = {"queueUrl": "http://q", "fileFormat": "json"}


def options(spark, jvm, raw: dict[str, str]):
    scala_map = spark.sparkContext._jvm.PythonUtils.toScalaMap(raw)  # noqa: SLF001 - as above
    return jvm.S3SqsOptions.parse(scala_map)


def test_options_case_insensitive_and_reader_options_passed_through(spark, jvm) -> None:
    opts = options(
        spark,
        jvm,
        {**BASE, "MAXFILESPERTRIGGER": "7", "sqsFetchInterval": "250ms", "maxBytesPerTrigger": "2m"}
        | {"multiLine": "true", "mode": "DROPMALFORMED", "ignoreMissingFiles": "true"},
    )
    assert opts.maxFilesPerTrigger() == 7
    assert opts.sqsFetchIntervalMs() == 250
    assert opts.maxBytesPerTrigger().get() == 2 * 1024 * 1024
    assert {k: opts.readerOptions().apply(k) for k in ("multiLine", "mode", "ignoreMissingFiles")} == {
        "multiLine": "true",
        "mode": "DROPMALFORMED",
        "ignoreMissingFiles": "true",
    }


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"queueUrl": ""}, "queueUrl"),
        ({"maxFilesPerTriger": "5"}, "maxfilespertriger"),
        ({"header": "true"}, "header"),  # a csv option on a json source
        ({"sqsFetchInterval": "soon"}, "sqsFetchInterval"),
        ({"waitTimeSeconds": "21"}, "waitTimeSeconds"),
        ({"pathRegexFilter": "("}, "pathRegexFilter"),
        ({"pathRegexFilter": "a", "pathGlobFilter": "*"}, "exclusive"),
        ({"initialListing": "yes", "bucket": "b"}, "initialListing"),
        ({"backfillInterval": "1h"}, "need option bucket"),
        ({"bucket": "b", "backfillLookback": "30d"}, "backfillLookback"),
        ({"maxBytesPerTrigger": "lots"}, "maxBytesPerTrigger"),
    ],
)
def test_invalid_options_fail_naming_the_option(spark, jvm, extra: dict, named: str) -> None:
    with pytest.raises(IllegalArgumentException, match=named):
        options(spark, jvm, {**BASE, **extra})


def test_csv_and_parquet_reader_options_are_spark_own(spark, jvm) -> None:
    csv = options(spark, jvm, {**BASE, "fileFormat": "csv", "header": "true", "sep": ";", "enforceSchema": "false"})
    assert csv.readerOptions().size() == 3
    options(spark, jvm, {**BASE, "fileFormat": "parquet", "mergeSchema": "true", "datetimeRebaseMode": "CORRECTED"})
    with pytest.raises(IllegalArgumentException, match="header"):
        options(spark, jvm, {**BASE, "fileFormat": "parquet", "header": "true"})


def test_path_filters(spark, jvm) -> None:
    opts = options(spark, jvm, {**BASE, "prefix": "logs/", "pathGlobFilter": "*.json*", "bucket": "b"})
    assert opts.accepts("b", "logs/x/a.json.gz")
    assert not opts.accepts("b", "logs/a.csv") and not opts.accepts("b", "other/a.json")
    assert not opts.accepts("c", "logs/a.json") and not opts.accepts("b", "logs/dir.json/")
    regex = options(spark, jvm, {**BASE, "pathRegexFilter": "dt=2024-\\d\\d"})
    assert regex.accepts("any", "x/dt=2024-05/a") and not regex.accepts("any", "x/dt=2023-05/a")


def test_paths_of_awkward_keys_round_trip_through_hadoop(jvm) -> None:
    for key in ["a dir/with space.json", "plus+sign.json", "100%.json", "t=12:30/x", "ünï/日本.json", "q?#[x]"]:
        path = jvm.S3Paths.path("bucket", key)
        assert jvm.S3Paths.keyOf(path) == key
        assert path.toString() == f"s3a://bucket/{key}"


def test_progress_metrics_become_ingest_metrics_columns() -> None:
    from sessionlake.ingest.readers.s3 import s3_sqs_metrics

    progress = {"backlog": "3", "batchFiles": "2", "batchBytes": "10", "discoveryLatencyP50Ms": "5"}
    assert s3_sqs_metrics(progress) == {
        "sqs_backlog": 3,
        "s3_files": 2,
        "s3_bytes": 10,
        "discovery_latency_p50_ms": 5.0,
        "discovery_latency_max_ms": None,
    }
    assert set(s3_sqs_metrics(None).values()) == {None}
