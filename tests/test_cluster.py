"""The local stack's Spark standalone cluster: health, a killed worker reported and restarted, and
`sessionlake ingest` running its executors on the cluster with the jars from the local cache."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from sessionlake import stack
from sessionlake.stack.process import PidFile, group_alive
from sessionlake.stack.spark_cluster import SparkMaster
from tests.test_ingest_kafka import create_topic, metric, produce, write_source

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def cluster(components, settings) -> str:
    components.require("spark-master")
    components.require("spark-worker-1")
    return settings.stack_master_url


def _status(settings) -> dict[str, stack.ComponentStatus]:
    return {s.name: s for s in stack.status(settings)}


def test_the_cluster_is_part_of_the_stack_with_its_web_uis(cluster, settings) -> None:
    statuses = _status(settings)
    assert statuses["spark-master"].running and statuses["spark-worker-1"].running
    assert "thrift" in statuses  # part of the stack from now on: reported even while stopped
    assert stack.default_names(settings) == [*stack.COMPONENTS, *stack.cluster_names(settings)]
    with urllib.request.urlopen(f"http://127.0.0.1:{settings.ports.spark_master_ui}/json/", timeout=5) as response:
        master = json.load(response)
    assert master["url"] == cluster and master["status"] == "ALIVE"
    assert [w["state"] for w in master["workers"]] == ["ALIVE"]
    assert master["workers"][0]["cores"] == settings.cluster.worker_cores


def test_a_killed_worker_is_reported_then_restarted_by_up(cluster, settings) -> None:
    pidfile = PidFile(settings.stack_dir / "spark-worker-1" / "spark-worker-1.pid", owner="")
    pid = pidfile.read()
    os.killpg(pid, signal.SIGKILL)
    while group_alive(pid):
        time.sleep(0.1)
    statuses = _status(settings)
    assert not statuses["spark-worker-1"].running and statuses["spark-worker-1"].detail == "stopped"
    assert statuses["spark-master"].running

    stack.up(settings, stack.cluster_names(settings)[:2])  # what `stack up` does for a dead component

    assert _status(settings)["spark-worker-1"].running
    alive = [w for w in SparkMaster().state(settings)["workers"] if w["state"] == "ALIVE"]
    assert len(alive) == 1


def test_ingest_runs_its_executors_on_the_cluster(cluster, kafka, metastore, spark, settings, tmp_path: Path) -> None:
    suffix = uuid.uuid4().hex[:8]
    names = {"topic": f"it-cluster-{suffix}", "source": f"cluster_{suffix}", "table": f"cluster_{suffix}"}
    create_topic(kafka, names["topic"])
    produce(kafka, names["topic"], [metric(i) for i in range(60)] + ["not json"])
    config_dir = write_source(tmp_path / "src", names, kafka_options="max_offsets_per_trigger: 1000")
    env = {
        **os.environ,
        "SESSIONLAKE_HOME": str(settings.home),
        "SESSIONLAKE_SPARK_MASTER": "stack",
        "SESSIONLAKE_SPARK_MASTER_PORT": str(settings.ports.spark_master),
        "SESSIONLAKE_KAFKA_PORT": str(settings.ports.kafka),
        "SESSIONLAKE_DERBY_PORT": str(settings.ports.derby),
        "SESSIONLAKE_MOTO_PORT": str(settings.ports.moto),
        "SESSIONLAKE_DRIVER_MEMORY": "1g",
        "SESSIONLAKE_EXECUTOR_MEMORY": "768m",
    }
    argv = [sys.executable, "-m", "sessionlake.app.cli", "ingest", "--once", "--config-dir", str(config_dir)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    rows = spark.read.format("delta").load(str(settings.bronze_path(names["table"])))
    assert rows.count() == 60 and rows.select("event_id").distinct().count() == 60
    quarantine = spark.read.format("delta").load(str(settings.bronze_path("quarantine")))
    assert quarantine.where(f"_source = '{names['source']}'").count() == 1
    # The application ran on the cluster, and its executors on the worker, from the jar cache's files.
    apps = [a for a in SparkMaster().state(settings)["completedapps"] if a["name"] == "sessionlake-ingest"]
    assert apps and apps[-1]["cores"] > 0
    executor_dirs = list((settings.stack_dir / "spark-worker-1" / "work" / apps[-1]["id"]).glob("*"))
    assert executor_dirs, "no executor ran on the worker"
    stderr = "".join((d / "stderr").read_text(errors="replace") for d in executor_dirs if (d / "stderr").exists())
    assert "Running task" in stderr  # the executors ran the batches' tasks (reading the topic themselves)
    assert "Ivy" not in done.stderr and "downloading" not in done.stderr.lower()
