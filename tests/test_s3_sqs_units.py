"""Unit tests of the s3-sqs source's pure parts: notification parsing, options, partition planning, file parsing."""

from __future__ import annotations

import bz2
import gzip
import io
import json
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest.readers.s3_sqs.discovery_log import DiscoveryLog, DiscoveryLogError, LoggedFile
from ingest.readers.s3_sqs.file_reader import FormatReader, MalformedFileError
from ingest.readers.s3_sqs.notifications import ForeignMessage, parse_message
from ingest.readers.s3_sqs.options import OptionError, parse_options
from ingest.readers.s3_sqs.source import plan_partitions


def s3_record(key: str, event: str = "ObjectCreated:Put", bucket: str = "logs", **obj: object) -> dict:
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventTime": "2024-05-01T10:00:00.123Z",
        "eventName": event,
        "s3": {"bucket": {"name": bucket}, "object": {"key": key, "size": 10, "eTag": "abc", **obj}},
    }


def test_raw_notification_with_several_records_decodes_keys() -> None:
    body = json.dumps(
        {
            "Records": [
                s3_record("a+b%2Bc%25d%3Ae%3Df+%C3%A9.json", sequencer="01"),
                s3_record("gone.json", event="ObjectRemoved:Delete"),
                s3_record("two.json.gz", versionId="v2"),
            ]
        }
    )
    parsed = parse_message(body)
    assert [e.key for e in parsed.created] == ["a b+c%d:e=f é.json", "two.json.gz"]
    assert parsed.ignored == 1
    assert parsed.created[0].event_time == datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=timezone.utc)
    assert parsed.created[0].identity == ("logs", "a b+c%d:e=f é.json", "s:01")
    assert parsed.created[1].identity == ("logs", "two.json.gz", "v:v2")


def test_sns_wrapped_and_raw_delivery_parse_alike() -> None:
    inner = json.dumps({"Records": [s3_record("x.json")]})
    wrapped = json.dumps({"Type": "Notification", "TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": inner})
    assert parse_message(wrapped) == parse_message(inner)
    assert parse_message(inner).created[0].uri == "s3a://logs/x.json"


def test_eventbridge_object_created_and_other_detail_types() -> None:
    event = {
        "version": "0",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "time": "2024-05-01T10:00:00Z",
        "detail": {
            "bucket": {"name": "logs"},
            "object": {"key": "dir/a b.json", "size": 5, "etag": "e", "sequencer": "0A"},
        },
    }
    parsed = parse_message(json.dumps(event))
    assert [(e.bucket, e.key, e.size) for e in parsed.created] == [("logs", "dir/a b.json", 5)]
    deleted = parse_message(json.dumps({**event, "detail-type": "Object Deleted"}))
    assert deleted.created == () and deleted.ignored == 1


def test_test_event_is_acknowledged_without_files() -> None:
    parsed = parse_message(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "logs"}))
    assert parsed.created == () and parsed.ignored == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps({"hello": "world"}), "not an S3 event notification"),
        (json.dumps({"Type": "Notification", "Message": "{oops"}), "Message is not JSON"),
        (json.dumps({"Records": [{"eventName": "ObjectCreated:Put"}]}), "no 's3' object"),
        (json.dumps({"Records": [s3_record("k") | {"eventTime": "yesterday"}]}), "eventTime"),
    ],
)
def test_foreign_messages_name_the_problem(body: str, reason: str) -> None:
    with pytest.raises(ForeignMessage, match=reason):
        parse_message(body)


BASE = {"queueUrl": "http://q", "fileFormat": "json", "metadataPath": "/tmp/m"}


def test_options_parse_with_case_insensitive_names() -> None:
    opts = parse_options(
        {**BASE, "MAXFILESPERTRIGGER": "7", "sqsFetchInterval": "250ms", "maxBytesPerTrigger": "2m"}
        | {"mode": "dropmalformed"}
    )
    assert opts.max_files_per_trigger == 7
    assert opts.sqs_fetch_interval == pytest.approx(0.25)
    assert opts.max_bytes_per_trigger == 2 * 1024 * 1024
    assert opts.reader_options == {"mode": "dropmalformed"}


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"queueUrl": ""}, "queueUrl"),
        ({"fileFormat": "xml"}, "fileFormat"),
        ({"maxFilesPerTriger": "5"}, "maxfilespertriger"),
        ({"header": "true"}, "header"),  # a csv option on a json source
        ({"sqsFetchInterval": "soon"}, "sqsFetchInterval"),
        ({"waitTimeSeconds": "21"}, "waitTimeSeconds"),
        ({"pathRegexFilter": "("}, "pathRegexFilter"),
        ({"mode": "lenient"}, "mode"),
    ],
)
def test_invalid_options_fail_naming_the_option(extra: dict, named: str) -> None:
    with pytest.raises(OptionError, match=named):
        parse_options({**BASE, **extra})


def logged(seq: int, size: int) -> LoggedFile:
    return LoggedFile(seq, "b", f"k{seq}", None, size, "e", f"e:{seq}", "2024-01-01T00:00:00+00:00", "x")


def test_partitions_are_deterministic_and_cover_each_file_once() -> None:
    files = [logged(i, size) for i, size in enumerate([50, 1, 1, 30, 2, 400, 3])]
    first = plan_partitions(files, min_partitions=3, max_partition_bytes=1 << 30)
    assert first == plan_partitions(list(reversed(files)), min_partitions=3, max_partition_bytes=1 << 30)
    assert len(first) == 3
    assert sorted(f.seq for p in first for f in p.files) == list(range(7))
    assert plan_partitions(files[:2], min_partitions=8, max_partition_bytes=1 << 30).__len__() == 2
    assert plan_partitions([], min_partitions=2, max_partition_bytes=1) == []


def test_discovery_log_survives_reload_and_rejects_gaps(tmp_path) -> None:
    events = parse_message(json.dumps({"Records": [s3_record(f"f{i}", sequencer=str(i)) for i in range(3)]})).created
    log = DiscoveryLog(str(tmp_path))
    now = datetime.now(timezone.utc)
    log.append(list(events[:2]), now)
    log.append(list(events[2:]), now)
    (tmp_path / "log" / ".00000000000000000009.jsonl.tmp").write_text("half a write")
    again = DiscoveryLog(f"file://{tmp_path}")
    assert again.end == 3 and [f.key for f in again.between(1, 3)] == ["f1", "f2"]
    assert events[0].identity in again.identities
    (tmp_path / "log" / "00000000000000000002.jsonl").unlink()
    with pytest.raises(DiscoveryLogError, match="does not continue"):
        DiscoveryLog(str(tmp_path))


SCHEMA = pa.schema([("id", pa.string()), ("n", pa.int32()), ("_corrupt_record", pa.string())])


def test_json_permissive_keeps_malformed_lines_in_the_corrupt_column() -> None:
    data = b'{"id":"a","n":1}\n{"id":"b", oops\n\n{"id":"c","n":"three"}\n{"id":"d","n":4,"extra":1}\n'
    reader = FormatReader("json", SCHEMA, {})
    rows = reader.read("s3a://b/k.json.gz", "k.json.gz", gzip.compress(data)).to_pylist()
    assert [r["id"] for r in rows] == ["a", None, None, "d"]
    assert rows[1]["_corrupt_record"] == '{"id":"b", oops' and rows[2]["_corrupt_record"] == '{"id":"c","n":"three"}'
    assert rows[3] == {"id": "d", "n": 4, "_corrupt_record": None}
    dropped = FormatReader("json", SCHEMA, {"mode": "DROPMALFORMED"}).read("u", "k.json", data)
    assert dropped.column("id").to_pylist() == ["a", "d"]
    with pytest.raises(MalformedFileError, match="s3a://b/k.json line 2"):
        FormatReader("json", SCHEMA, {"mode": "FAILFAST"}).read("s3a://b/k.json", "k.json", data)


def test_text_splits_lines_like_spark_and_decompresses_bz2() -> None:
    schema = pa.schema([("value", pa.string())])
    data = b"one\r\ntwo\rthree\nfour\x0bstill four\n"
    table = FormatReader("text", schema, {}).read("u", "k.txt.bz2", bz2.compress(data))
    assert table.column("value").to_pylist() == ["one", "two", "three", "four\x0bstill four"]


def test_csv_with_header_and_parquet_subset_of_columns() -> None:
    schema = pa.schema([("id", pa.string()), ("n", pa.int32())])
    csv = FormatReader("csv", schema, {"header": "true", "sep": ";"}).read("u", "k.csv", b"id;n\na;1\nb;\n")
    assert csv.to_pylist() == [{"id": "a", "n": 1}, {"id": "b", "n": None}]
    buffer = io.BytesIO()
    pq.write_table(pa.table({"n": pa.array([5], pa.int64()), "other": ["x"]}), buffer)
    parquet = FormatReader("parquet", schema, {}).read("u", "k.parquet", buffer.getvalue())
    assert parquet.to_pylist() == [{"id": None, "n": 5}]
