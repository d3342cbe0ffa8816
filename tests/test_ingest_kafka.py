"""Kafka -> bronze with the real broker: typing, rescued data, quarantine reasons, exactly once, fan-out."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from pyspark.sql import functions as F

from sessionlake.ingest.config import SourceConfigError
from sessionlake.ingest.metrics import source_status
from sessionlake.ingest.readers import kafka
from sessionlake.ingest.runner import run

pytestmark = pytest.mark.stack


def create_topic(bootstrap: str, topic: str, partitions: int = 2) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})  # keep a reference until the futures resolve
    for future in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        future.result(timeout=30)


def produce(bootstrap: str, topic: str, values: list[bytes | str | None], key: str = "k") -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for value in values:
        producer.produce(topic, key=key, value=value, headers=[("origin", b"test")])
    assert producer.flush(30) == 0


def metric(i: int, **extra: object) -> str:
    record = {
        "event_id": f"e{i}",
        "event_time": "2026-01-02T03:04:05Z",
        "session_id": f"s{i % 3}",
        "fps": 59.5,
        "bitrate_kbps": 8000,
        "kind": "sample",
    }
    record.update(extra)
    return json.dumps({k: v for k, v in record.items() if v is not None})


@pytest.fixture
def names() -> dict[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return {"topic": f"it-metrics-{suffix}", "source": f"metrics_{suffix}", "table": f"metrics_{suffix}"}


def write_source(
    directory: Path,
    names: dict[str, str],
    extra: str = "",
    targets: str | None = None,
    kafka_options: str = "max_offsets_per_trigger: 7",
) -> Path:
    directory.mkdir(exist_ok=True)
    targets = targets or f"  - table: {names['table']}\n"
    (directory / f"{names['source']}.yml").write_text(
        f"""
kind: kafka
kafka:
  topics: [{names["topic"]}]
  {kafka_options}
schema: event_id string, event_time timestamp, session_id string, fps double, bitrate_kbps int, kind string
required: [event_id, session_id]
accepted_values:
  kind: [sample, summary]
max_lengths:
  session_id: 20
max_record_bytes: 400
event_time: event_time
{extra}
targets:
{targets}"""
    )
    return directory


def bronze(spark, settings, table: str):
    return spark.read.format("delta").load(str(settings.bronze_path(table)))


def quarantine(spark, settings, source: str) -> dict[str, str]:
    rows = bronze(spark, settings, "quarantine").where(f"_source = '{source}' and _raw is not null").collect()
    return {bytes(r["_raw"]).decode(): r["_reason"] for r in rows}


def test_good_records_land_typed_and_bad_ones_are_quarantined_with_reasons(
    kafka: str, spark, settings, tmp_path: Path, names: dict[str, str]
) -> None:
    create_topic(kafka, names["topic"])
    bad = {
        "{not json": "unparsable_json: not a JSON object",
        "[1, 2]": "unparsable_json: not a JSON object",
        metric(100, fps="fast"): "type_mismatch: fps (double)",
        metric(101, event_time="yesterday"): "type_mismatch: event_time (timestamp)",
        metric(102, bitrate_kbps=1.5): "type_mismatch: bitrate_kbps (int)",
        metric(103, event_id=None): "missing_required: event_id",
        metric(104, session_id="x" * 30): "oversized_value: session_id (over 20 characters)",
        metric(105, kind="other"): "unknown_value: kind",
        metric(106, padding="p" * 400): None,  # oversized record: reason carries the size
        "   ": "empty_record",
    }
    good = [metric(i) for i in range(10)] + [metric(10, new_field={"a": [1, 2]}, level=3)]
    produce(kafka, names["topic"], good + list(bad))
    produce(kafka, names["topic"], [None])  # a tombstone

    report = run(settings, spark, once=True, config_dir=write_source(tmp_path / "src", names))

    assert report.ok, report.errors
    table = f"bronze.{names['table']}"
    assert report.rows_written[table] == 11
    assert report.quarantined[names["source"]] == len(bad) + 1
    assert report.batches[names["source"]] >= 3  # max_offsets_per_trigger 7 splits the 23 records

    rows = {r["event_id"]: r for r in bronze(spark, settings, names["table"]).collect()}
    assert sorted(rows) == sorted(f"e{i}" for i in range(11))
    first = rows["e0"]
    assert first["fps"] == 59.5 and first["bitrate_kbps"] == 8000
    assert first["event_time"].isoformat().startswith("2026-01-02T03:04:05")
    assert first["_rescued_data"] is None
    assert json.loads(first["_raw"]) == json.loads(metric(0))
    assert first["_kafka_topic"] == names["topic"] and first["_kafka_key"] == "k"
    assert first["_kafka_headers"][0]["key"] == "origin" and bytes(first["_kafka_headers"][0]["value"]) == b"test"
    assert first["_batch_id"] is not None and first["_ingest_date"] == first["_ingested_at"].date()
    # Schema drift: an undeclared field is kept, with its JSON type, in _rescued_data.
    assert json.loads(rows["e10"]["_rescued_data"]) == {"new_field": {"a": [1, 2]}, "level": 3}

    reasons = quarantine(spark, settings, names["source"])
    assert len(reasons) == len(bad)  # the tombstone has no bytes, checked below
    for raw, reason in bad.items():
        if reason is None:
            assert reasons[raw].startswith("oversized_record: ") and "limit 400" in reasons[raw]
        else:
            assert reasons[raw] == reason, raw
    tombstone = bronze(spark, settings, "quarantine").where(f"_source = '{names['source']}' and _raw is null").collect()
    assert [r["_reason"] for r in tombstone] == ["empty_record"]
    coordinates = json.loads(tombstone[0]["_coordinates"])
    assert coordinates["topic"] == names["topic"] and {"partition", "offset"} <= set(coordinates)

    # The next run reads only what is new, and writes it once.
    produce(kafka, names["topic"], [metric(i) for i in range(11, 14)])
    again = run(settings, spark, once=True, config_dir=tmp_path / "src")
    assert again.rows_written == {table: 3}
    assert bronze(spark, settings, names["table"]).count() == 14
    assert bronze(spark, settings, "quarantine").where(f"_source = '{names['source']}'").count() == len(bad) + 1

    status = {s.source: s for s in source_status(settings, spark)}[names["source"]]
    assert status.kafka_lag == 0
    assert status.last_data_at is not None and status.freshness_seconds < 600
    assert status.latency_p95_ms > 0


def test_one_stream_fans_out_to_several_tables_and_unrouted_records_are_quarantined(
    kafka: str, spark, settings, tmp_path: Path, names: dict[str, str]
) -> None:
    create_topic(kafka, names["topic"])
    fast, slow = f"{names['table']}_fast", f"{names['table']}_slow"
    targets = (
        f"  - table: {fast}\n    where: fps >= 30\n"
        f"  - table: {slow}\n    where: fps < 30\n    columns: [event_id, fps, fps_band]\n"
    )
    transform = "transform: SELECT *, CASE WHEN fps >= 30 THEN 'ok' ELSE 'low' END AS fps_band FROM batch"
    produce(kafka, names["topic"], [metric(1, fps=60), metric(2, fps=12), metric(3, fps=45), metric(4, fps=None)])

    report = run(settings, spark, once=True, config_dir=write_source(tmp_path / "src", names, transform, targets))

    assert report.ok, report.errors
    assert report.rows_written == {f"bronze.{fast}": 2, f"bronze.{slow}": 1}
    fast_rows = bronze(spark, settings, fast)
    assert sorted(r["event_id"] for r in fast_rows.collect()) == ["e1", "e3"]
    assert {r["fps_band"] for r in fast_rows.collect()} == {"ok"}
    slow_rows = bronze(spark, settings, slow)
    assert "bitrate_kbps" not in slow_rows.columns and "_kafka_offset" in slow_rows.columns
    assert [(r["event_id"], r["fps_band"]) for r in slow_rows.collect()] == [("e2", "low")]
    assert spark.table(f"bronze.{slow}").count() == 1  # registered in the metastore
    # fps null matches neither route: quarantined, not lost.
    assert list(quarantine(spark, settings, names["source"]).values()) == [
        "unrouted: no target's `where` selected the record"
    ]


def _operations(spark, path: Path) -> list[str]:
    from delta.tables import DeltaTable

    rows = DeltaTable.forPath(spark, str(path)).history().orderBy("version").collect()
    return [r["operation"] for r in rows]


def test_a_restarted_ingest_compacts_bronze_only_once_small_files_add_up(
    kafka: str, spark, settings, tmp_path: Path, names: dict[str, str]
) -> None:
    """Delta counts a partition's small files in memory; after a restart, per modified partition, it
    compacted the partition after every write (delta-io/delta#4043). The session compacts per table,
    once minNumFiles small files were written (sessionlake.core.spark)."""
    create_topic(kafka, names["topic"])
    config = write_source(tmp_path / "src", names)  # max_offsets_per_trigger 7: three batches of 21 records
    path = settings.bronze_path(names["table"])
    produce(kafka, names["topic"], [metric(i) for i in range(21)])
    assert run(settings, spark, once=True, config_dir=config).ok
    # What a process restart does to Delta's counts (a private[delta] test hook, reached over py4j).
    stats = spark._jvm.org.apache.spark.sql.delta.stats.AutoCompactPartitionStats  # noqa: SLF001
    stats.instance(spark._jsparkSession).resetTestOnly()  # noqa: SLF001

    produce(kafka, names["topic"], [metric(i) for i in range(21, 42)])
    restarted = run(settings, spark, once=True, config_dir=config)

    assert restarted.ok and restarted.batches[names["source"]] == 3
    assert "OPTIMIZE" not in _operations(spark, path)
    assert bronze(spark, settings, names["table"]).count() == 42

    # Compaction still runs once enough small files add up: at the 4th here, then not again before 4 more.
    spark.conf.set("spark.databricks.delta.autoCompact.minNumFiles", "4")
    try:
        produce(kafka, names["topic"], [metric(i) for i in range(42, 63)])
        assert run(settings, spark, once=True, config_dir=config).ok
    finally:
        spark.conf.unset("spark.databricks.delta.autoCompact.minNumFiles")
    operations = _operations(spark, path)
    assert operations.count("OPTIMIZE") == 1, operations
    assert operations.index("OPTIMIZE") == len(operations) - 3  # after the restarted run's 4th write
    assert bronze(spark, settings, names["table"]).count() == 63
    assert sorted(r["event_id"] for r in bronze(spark, settings, names["table"]).collect()) == sorted(
        f"e{i}" for i in range(63)
    )


def test_records_the_transform_fails_on_are_quarantined_and_the_stream_goes_on(
    kafka: str, spark, settings, tmp_path: Path, names: dict[str, str]
) -> None:
    """A UDF that raises and a SQL error (raise_error, whatever the session's ANSI mode: dbt-spark turns it
    off in a session it has run in) fail single records, not the stream."""
    create_topic(kafka, names["topic"])
    ok, low = f"{names['table']}_ok", f"{names['table']}_low"
    extra = (
        "udfs:\n  - {name: fps_band, function: 'tests.ingest_udfs:fps_band', return_type: string}\n"
        "transform: SELECT *, fps_band(fps) AS band,"
        " if(bitrate_kbps > 0, 16000 div bitrate_kbps, raise_error('no bitrate')) AS bitrate_share FROM batch"
    )
    targets = f"  - table: {ok}\n    where: band = 'ok'\n  - table: {low}\n    where: band = 'low'\n"
    values = [metric(1, fps=60), metric(2, fps=12), metric(3, fps=-1.0), metric(4, bitrate_kbps=0), metric(5, fps=45)]
    values += [metric(i, fps=40 + i) for i in range(6, 20)] + [metric(20, fps=-2.5), "{not json"]
    produce(kafka, names["topic"], values)
    source = write_source(tmp_path / "src", names, extra, targets, kafka_options="max_offsets_per_trigger: 1000")

    report = run(settings, spark, once=True, config_dir=source)

    assert report.ok, report.errors
    assert report.rows_written == {f"bronze.{ok}": 16, f"bronze.{low}": 1}
    assert report.quarantined[names["source"]] == 4
    rows = bronze(spark, settings, ok).collect()
    assert sorted(r["event_id"] for r in rows) == sorted(["e1", "e5", *(f"e{i}" for i in range(6, 20))])
    assert {r["bitrate_share"] for r in rows} == {2}
    assert [r["event_id"] for r in bronze(spark, settings, low).collect()] == ["e2"]
    reasons = quarantine(spark, settings, names["source"])
    assert reasons.pop("{not json") == "unparsable_json: not a JSON object"
    by_event = {json.loads(raw)["event_id"]: reason for raw, reason in reasons.items()}
    assert by_event["e3"] == "transform_failed: ValueError: negative fps: -1.0"
    assert by_event["e20"] == "transform_failed: ValueError: negative fps: -2.5"
    assert by_event["e4"].startswith("transform_failed: [USER_RAISED_EXCEPTION] no bitrate")
    assert set(by_event) == {"e3", "e4", "e20"}


def test_a_source_can_start_from_a_point_in_time(
    kafka: str, spark, settings, tmp_path: Path, names: dict[str, str]
) -> None:
    """starting_offsets_by_timestamp: each partition from its first record at or after the given time."""
    create_topic(kafka, names["topic"])
    base = int(time.time() * 1000) - 60_000  # recent: the broker's retention deletes records by timestamp
    producer = Producer({"bootstrap.servers": kafka})
    for i in range(10):
        producer.produce(names["topic"], value=metric(i), partition=i % 2, timestamp=base + i * 1000)
    assert producer.flush(30) == 0
    start = json.dumps({names["topic"]: {"0": base + 4000, "1": base + 4000}})
    source_dir = write_source(tmp_path / "src", names, kafka_options=f"starting_offsets_by_timestamp: {start}")

    report = run(settings, spark, once=True, config_dir=source_dir)

    assert report.ok, report.errors
    rows = bronze(spark, settings, names["table"]).collect()
    assert sorted(r["event_id"] for r in rows) == [f"e{i}" for i in range(4, 10)]
    assert {r["_kafka_timestamp"].timestamp() * 1000 >= base + 4000 for r in rows} == {True}


def test_invalid_configuration_is_rejected_before_anything_starts(
    kafka: str, spark, settings, tmp_path: Path, names: dict[str, str]
) -> None:
    source_dir = write_source(
        tmp_path / "src", names, "transform: SELECT *, no_such_column + 1 AS x FROM batch\ntrigger: often"
    )
    with pytest.raises(SourceConfigError) as error:
        run(settings, spark, once=True, config_dir=source_dir)
    file = source_dir / f"{names['source']}.yml"
    assert f"{file}: trigger: expected an interval" in str(error.value)

    source_dir = write_source(tmp_path / "src", names, "transform: SELECT *, no_such_column + 1 AS x FROM batch")
    with pytest.raises(SourceConfigError) as error:
        run(settings, spark, once=True, config_dir=source_dir)
    assert f"{file}: transform: " in str(error.value) and "no_such_column" in str(error.value)
    assert not Path(settings.bronze_path(names["table"])).exists()


def test_coordinates_are_the_json_of_topic_partition_and_offset(spark) -> None:
    records = spark.createDataFrame(
        [("session-events", 0, 0), ("a.b_c-9", 11, 2**40)], "topic string, partition int, offset long"
    )
    rows = records.select(
        kafka.coordinates().alias("ours"), F.to_json(F.struct("topic", "partition", "offset")).alias("to_json")
    ).collect()
    assert [r["ours"] for r in rows] == [r["to_json"] for r in rows]
    assert json.loads(rows[1]["ours"]) == {"topic": "a.b_c-9", "partition": 11, "offset": 2**40}
