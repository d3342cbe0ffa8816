"""Exactly once: a replayed batch lands once per table; `sessionlake ingest` killed with -9 and restarted,
with its lake and checkpoints on S3 (s3a on the stack's moto server)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from delta.tables import DeltaTable
from pyspark.sql.types import LongType, StringType, StructField, StructType

from sessionlake.ingest.parsing import parse
from sessionlake.ingest.prepare import envelope_schema
from sessionlake.ingest.readers.s3_sqs.provision import client as aws_client
from sessionlake.ingest.readers.s3_sqs.provision import ensure_bucket
from sessionlake.ingest.routing import Route
from sessionlake.ingest.schema import RecordRules
from sessionlake.ingest.tables import INGEST_COLUMNS, QUARANTINE_SCHEMA, ensure_table
from sessionlake.ingest.writers.bronze import BronzeWriter
from tests.test_ingest_kafka import create_topic, metric, produce, write_source

pytestmark = pytest.mark.stack


def test_a_replayed_batch_is_written_once_to_every_table(spark, settings, tmp_path: Path) -> None:
    """The crash case between two commits of one batch: the target committed, quarantine not."""
    suffix = uuid.uuid4().hex[:8]
    rules = RecordRules(StructType([StructField("event_id", StringType())]), required=("event_id",))
    target, quarantine = tmp_path / f"t_{suffix}", tmp_path / "quarantine"
    columns = ("event_id", "_rescued_data", "_raw", "_file_path", "_file_size")
    schema = StructType([*(StructField(c, StringType()) for c in columns[:4]), StructField("_file_size", LongType())])
    ensure_table(spark, f"bronze.t_{suffix}", target, StructType([*schema.fields, *INGEST_COLUMNS.fields]))
    ensure_table(spark, f"bronze.q_{suffix}", quarantine, QUARANTINE_SCHEMA)
    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    (checkpoint / "metadata").write_text(json.dumps({"id": str(uuid.uuid4())}))
    results = []

    def writer(quarantine_path: Path) -> BronzeWriter:
        return BronzeWriter(
            source=f"s_{suffix}",
            sql=None,
            routes=[Route(f"t_{suffix}", target, None, columns)],
            quarantine_path=quarantine_path,
            checkpoint=checkpoint,
            event_time=None,
            on_batch=results.append,
        )

    lines = ['{"event_id": "a"}', '{"event_id": "b"}', '{"nope": 1}']
    envelope = spark.createDataFrame(
        [(line, line.encode(), '{"file": "f"}', "f", 10, None, None) for line in lines], envelope_schema("s3-sqs")
    )
    batch = parse(envelope, rules)  # the runner parses the stream; the writer gets parsed batches
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    with pytest.raises(Exception):  # noqa: B017 - whatever the storage raises: the batch fails mid-way
        writer(blocked)(batch, 7)
    read = spark.read.format("delta")
    assert read.load(str(target)).count() == 2  # the target committed batch 7 before the failure

    writer(quarantine)(batch, 7)  # the restarted stream re-runs batch 7
    writer(quarantine)(batch, 7)  # and once more

    assert read.load(str(target)).count() == 2  # skipped, not duplicated
    assert read.load(str(quarantine)).where("_batch_id = 7").count() == 1  # written by the replay, once
    writer(quarantine)(batch, 8)
    assert sorted(r["event_id"] for r in read.load(str(target)).collect()) == ["a", "a", "b", "b"]
    assert results[0].rows_written == {f"bronze.t_{suffix}": 2} and results[0].quarantined == 1


def _ingest_env(settings, lake: str, checkpoints: str) -> dict[str, str]:
    """`sessionlake ingest` as production runs it: lake and checkpoints in their own buckets on the stack's
    S3 endpoint, a metastore of its own (the other tests' tables are registered at local paths)."""
    return {
        **os.environ,
        "SESSIONLAKE_HOME": str(settings.home),
        "SESSIONLAKE_LAKE_URI": lake,
        "SESSIONLAKE_CHECKPOINT_URI": checkpoints,
        "SESSIONLAKE_METASTORE_URL": f"jdbc:derby://127.0.0.1:{settings.ports.derby}/metastore_s3a;create=true",
        "SESSIONLAKE_KAFKA_PORT": str(settings.ports.kafka),
        "SESSIONLAKE_KAFKA_CONTROLLER_PORT": str(settings.ports.kafka_controller),
        "SESSIONLAKE_MOTO_PORT": str(settings.ports.moto),
        "SESSIONLAKE_DERBY_PORT": str(settings.ports.derby),
        "SESSIONLAKE_DRIVER_MEMORY": "1g",
    }


def _ingest_process(env: dict[str, str], config_dir: Path, log: Path, *flags: str) -> subprocess.Popen:
    argv = [sys.executable, "-m", "sessionlake.app.cli", "ingest", "--config-dir", str(config_dir), *flags]
    return subprocess.Popen(argv, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def _commits(s3, uri: str) -> int:
    """Delta commits of the table at an s3a:// URI, listed on the endpoint."""
    bucket, _, prefix = uri.removeprefix("s3a://").partition("/")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/_delta_log/")
    return sum(1 for page in pages for o in page.get("Contents", []) if o["Key"].endswith(".json"))


def _wait_for_commits(s3, table: str, count: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 600
    while _commits(s3, table) < count and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    assert process.poll() is None and _commits(s3, table) >= count, log.read_text()[-3000:]


def test_sigterm_stops_cleanly_and_kill_minus_9_loses_and_duplicates_nothing_with_state_on_s3(
    kafka: str, moto: str, spark, settings, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:8]
    names = {"topic": f"it-kill-{suffix}", "source": f"kill_{suffix}", "table": f"kill_{suffix}"}
    create_topic(kafka, names["topic"])
    good = [metric(i) for i in range(60)]
    bad = [f"bad {i}" for i in range(18)]
    produce(kafka, names["topic"], [r for pair in zip(good[:18], bad, strict=True) for r in pair] + good[18:])
    config_dir = write_source(tmp_path / "src", names)  # max_offsets_per_trigger 7: about 12 batches
    s3 = aws_client(settings, "s3")
    for bucket in ("kill-lake", "kill-checkpoints"):
        ensure_bucket(settings, bucket)
    lake, checkpoints = f"s3a://kill-lake/{suffix}", f"s3a://kill-checkpoints/{suffix}"
    env = _ingest_env(settings, lake, checkpoints)
    table = f"{lake}/bronze/{names['table']}"
    log = tmp_path / "sigterm.log"

    # SIGTERM: the batch in flight finishes, the process exits 0.
    process = _ingest_process(env, config_dir, log, "--trigger", "1 second")
    try:
        _wait_for_commits(s3, table, 3, process, log)
        process.send_signal(signal.SIGTERM)
        assert process.wait(600) == 0, log.read_text()[-3000:]
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert "stop requested" in log.read_text()
    after_sigterm = _commits(s3, table)

    # kill -9 of the whole process group (driver and JVM) at an arbitrary point of a later batch.
    log = tmp_path / "kill.log"
    process = _ingest_process(env, config_dir, log, "--trigger", "1 second")
    try:
        _wait_for_commits(s3, table, after_sigterm + 2, process, log)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(60)
    landed = spark.read.format("delta").load(table).count()
    assert 0 < landed < len(good)  # killed mid-stream
    checkpoint_objects = s3.list_objects_v2(Bucket="kill-checkpoints", Prefix=f"{suffix}/")
    assert checkpoint_objects.get("KeyCount", 0) > 0  # the stream's state is in the bucket
    assert not (settings.home / "checkpoints" / names["source"]).exists()

    log = tmp_path / "restart.log"
    argv = [sys.executable, "-m", "sessionlake.app.cli", "-v", "ingest", "--config-dir", str(config_dir), "--once"]
    restarted = subprocess.Popen(argv, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    assert restarted.wait(600) == 0, log.read_text()[-3000:]
    # -v logs at DEBUG, and still no secret: py4j's DEBUG command log (which carries the PII key's conf set)
    # stays off.
    assert "Command to send" not in log.read_text() and env["SESSIONLAKE_PII_SECRET"] not in log.read_text()

    rows = spark.read.format("delta").load(table)
    assert rows.count() == len(good) and rows.select("event_id").distinct().count() == len(good)
    assert rows.select("_kafka_partition", "_kafka_offset").distinct().count() == len(good)
    quarantined = spark.read.format("delta").load(f"{lake}/bronze/quarantine")
    assert quarantined.where(f"_source = '{names['source']}'").count() == len(bad)


def test_a_registered_table_whose_files_were_deleted_is_created_again(spark, tmp_path: Path) -> None:
    name, path = f"bronze.gone_{uuid.uuid4().hex[:8]}", tmp_path / "gone"
    schema = StructType([StructField("event_id", StringType()), *INGEST_COLUMNS.fields])
    ensure_table(spark, name, path, schema)
    shutil.rmtree(path)  # the lake folder deleted; the metastore still has the registration

    ensure_table(spark, name, path, schema)

    assert DeltaTable.isDeltaTable(spark, str(path))
    assert spark.table(name).columns == schema.fieldNames() and spark.table(name).count() == 0
