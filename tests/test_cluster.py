"""The local stack's Spark standalone cluster: health, a killed worker reported and restarted, and
`sessionlake ingest` submitted with spark-submit running its executors on the cluster."""

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
from sessionlake.core.settings import REPO_ROOT
from sessionlake.stack.process import PidFile, group_alive
from sessionlake.stack.spark_cluster import SparkMaster, spark_home
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


def test_ingest_submitted_with_spark_submit_runs_its_executors_on_the_cluster(
    cluster, kafka, metastore, spark, settings, tmp_path: Path
) -> None:
    """docs/deployment.md's spark-submit entry point, as an operator runs it against an existing cluster:
    `SESSIONLAKE_SPARK_MASTER=provided`, the jars shipped with `--jars`, the catalog confs on the command
    line and the metastore as the cluster's own default (here the stack's)."""
    suffix = uuid.uuid4().hex[:8]
    names = {"topic": f"it-cluster-{suffix}", "source": f"cluster_{suffix}", "table": f"cluster_{suffix}"}
    create_topic(kafka, names["topic"])
    produce(kafka, names["topic"], [metric(i) for i in range(60)] + ["not json"])
    config_dir = write_source(tmp_path / "src", names, kafka_options="max_offsets_per_trigger: 1000")
    env = {
        **os.environ,
        "SESSIONLAKE_HOME": str(settings.home),
        "SESSIONLAKE_SPARK_MASTER": "provided",
        "SESSIONLAKE_KAFKA_PORT": str(settings.ports.kafka),
        "SESSIONLAKE_MOTO_PORT": str(settings.ports.moto),
        "PYSPARK_PYTHON": sys.executable,
    }
    jars = [*(settings.jars_dir / "spark").glob("*.jar")]
    jars += [
        *(settings.jars_dir / "s3-sqs-source").glob("*.jar"),
        *(settings.jars_dir / "spark-functions").glob("*.jar"),
    ]
    conf = {
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension,"
        "org.apache.spark.sql.sessionlake.functions.SessionlakeExtensions",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.streaming.stateStore.providerClass": (
            "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"
        ),
        "spark.pyspark.python": sys.executable,
        # What the operator's cluster has in its own defaults: the metastore, the executors' share.
        "spark.sql.warehouse.dir": str(settings.warehouse),
        "spark.hadoop.javax.jdo.option.ConnectionURL": settings.metastore_url,
        "spark.hadoop.javax.jdo.option.ConnectionDriverName": "org.apache.derby.jdbc.ClientDriver",
        "spark.driver.extraClassPath": str(next((settings.jars_dir / "spark").glob("derbyclient-*.jar"))),
        "spark.driver.host": "127.0.0.1",
        "spark.driver.memory": "1g",
        "spark.executor.memory": "768m",
        "spark.cores.max": "2",
    }
    argv = [str(spark_home() / "bin" / "spark-submit"), "--master", cluster, "--deploy-mode", "client"]
    argv += ["--name", "sessionlake-submitted-ingest", "--jars", ",".join(str(j) for j in jars)]
    argv += [arg for key, value in conf.items() for arg in ("--conf", f"{key}={value}")]
    argv += [str(REPO_ROOT / "sessionlake" / "app" / "cli.py"), "ingest", "--once", "--config-dir", str(config_dir)]
    done = subprocess.run(argv, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    rows = spark.read.format("delta").load(str(settings.bronze_path(names["table"])))
    assert rows.count() == 60 and rows.select("event_id").distinct().count() == 60
    quarantine = spark.read.format("delta").load(str(settings.bronze_path("quarantine")))
    assert quarantine.where(f"_source = '{names['source']}'").count() == 1
    # The application ran on the cluster, and its executors on the worker, from the jar cache's files.
    apps = [a for a in SparkMaster().state(settings)["completedapps"] if a["name"] == "sessionlake-submitted-ingest"]
    assert apps and apps[-1]["cores"] > 0
    executor_dirs = list((settings.stack_dir / "spark-worker-1" / "work" / apps[-1]["id"]).glob("*"))
    assert executor_dirs, "no executor ran on the worker"
    stderr = "".join((d / "stderr").read_text(errors="replace") for d in executor_dirs if (d / "stderr").exists())
    assert "Running task" in stderr  # the executors ran the batches' tasks (reading the topic themselves)
    assert "Ivy" not in done.stderr and "downloading" not in done.stderr.lower()
