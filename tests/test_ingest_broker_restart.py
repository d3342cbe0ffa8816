"""The Kafka broker restarted under a running ingest stream: the stream carries on, nothing lost or doubled."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest

from sessionlake import stack
from sessionlake.ingest.runner import IngestReport, run
from tests.test_ingest_kafka import create_topic, metric, produce, write_source

pytestmark = pytest.mark.stack


def _wait_for_rows(spark, path: Path, count: int, timeout: float = 600) -> int:
    deadline = time.monotonic() + timeout
    landed = 0
    while time.monotonic() < deadline:
        if (path / "_delta_log").exists():
            landed = spark.read.format("delta").load(str(path)).count()
            if landed >= count:
                return landed
        time.sleep(2)
    return landed


def test_a_broker_restart_mid_stream_neither_stops_the_stream_nor_loses_records(
    kafka: str, spark, settings, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:8]
    names = {"topic": f"it-restart-{suffix}", "source": f"restart_{suffix}", "table": f"restart_{suffix}"}
    create_topic(kafka, names["topic"])
    produce(kafka, names["topic"], [metric(i) for i in range(10)])
    config_dir = write_source(tmp_path / "src", names)
    table = Path(settings.bronze_path(names["table"]))
    stop = threading.Event()
    reports: list[IngestReport] = []
    options = {"once": False, "config_dir": config_dir, "trigger": "1 second", "stop": stop}
    runner = threading.Thread(target=lambda: reports.append(run(settings, spark, **options)))
    runner.start()
    try:
        assert _wait_for_rows(spark, table, 10) == 10

        stack.down(settings, components=["kafka"])
        time.sleep(5)  # the stream polls a dead broker for a while
        stack.up(settings, components=["kafka"])
        produce(kafka, names["topic"], [metric(i) for i in range(10, 25)])

        assert _wait_for_rows(spark, table, 25) == 25
    finally:
        stop.set()
        runner.join(600)
    assert reports and reports[0].ok, reports and reports[0].errors
    rows = spark.read.format("delta").load(str(table))
    assert rows.count() == 25 and rows.select("event_id").distinct().count() == 25
