"""The whole pipeline as a user runs it, on a private local stack: `sessionlake stack up --cluster`, then
`up` (ingest, the build loop and the exporter, continuously) through the on-time data with one source failing
under it, stopped by SIGTERM; `run` (one pass: ingest -> dbt build with the loop's checks -> export) for the
late logs; then `forget`. Deployed as production runs it:
the lake and the checkpoints in their own buckets on the stack's S3 (s3a://), the streams on the Spark
standalone cluster, dbt through the Spark Thrift Server.

The generator knows the truth: gold `sessions` must equal it column by column, and the search index must
hold the same documents. Bad records must be in quarantine, not lost. The CLI runs in subprocesses with
their own home, ports and catalog, so nothing other tests leave on the shared test stack can leak in; this
process reads the resulting Delta tables by path.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import math
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlparse

import pytest
from pyspark.sql import functions as F

from sessionlake.core import storage
from sessionlake.core.settings import Ports, Settings, environment_overlay
from sessionlake.generator import LATE, MAIN, GeneratorConfig, plan, truth
from sessionlake.generator.workload import LogFile
from sessionlake.ingest.readers.s3 import sqs_client
from sessionlake.ingest.readers.s3_sqs.ledger import ledger as file_ledger
from sessionlake.privacy.keys import pseudonymize
from sessionlake.stack.aws import aws_client
from tests.conftest import PORT_BASE

pytestmark = pytest.mark.stack

TIME_COLUMNS = ("started_at", "ended_at", "first_event_at", "last_event_at")
EXACT_COLUMNS = (
    "game_id",
    "region",
    "client_platform",
    "end_reason",
    "status",
    "metric_samples",
    "log_lines",
    "error_lines",
    "crashed",
    "device_model",
    "billed_minutes",
    "tier",
)
FLOAT_COLUMNS = ("duration_seconds", "avg_fps", "min_fps", "avg_bitrate_kbps", "max_packet_loss_pct")
CONFIG = GeneratorConfig(
    seed=11, sessions=40, duplicate_ratio=0.1, late_ratio=0.3, out_of_order_ratio=0.1, malformed_ratio=0.05
)
GENERATE_ARGS = [
    f"--seed={CONFIG.seed}",
    f"--sessions={CONFIG.sessions}",
    f"--duplicate-ratio={CONFIG.duplicate_ratio}",
    f"--late-ratio={CONFIG.late_ratio}",
    f"--out-of-order-ratio={CONFIG.out_of_order_ratio}",
    f"--malformed-ratio={CONFIG.malformed_ratio}",
]


@dataclass
class Deployment:
    settings: Settings
    env: dict[str, str]
    last_stderr: str = ""

    def cli(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "sessionlake.app.cli", *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=1800,  # a pass on the cluster under a busy two-worker suite took up to ~10 min
        )
        assert done.returncode == 0, f"sessionlake {' '.join(args)} failed:\n{done.stdout}\n{done.stderr[-4000:]}"
        self.last_stderr = done.stderr
        return done.stdout

    def start(self, *args: str) -> subprocess.Popen:
        """A long-running command in the background, its output in a log file under the deployment's home."""
        with (self.settings.home / f"{args[0]}.log").open("w") as log:
            return subprocess.Popen([sys.executable, "-m", "sessionlake.app.cli", *args], env=self.env, stdout=log,
                                    stderr=subprocess.STDOUT)  # fmt: skip

    def stages(self) -> dict[str, dict]:
        """The pipeline's stages as `sessionlake status --json` shows them."""
        pipeline = json.loads(self.cli("status", "--json"))["pipeline"]
        return pipeline["stages"] if pipeline else {}


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    base = PORT_BASE + 500
    ports = Ports(
        kafka=base + 92,
        kafka_controller=base + 93,
        moto=base + 50,
        search=base + 200,
        derby=base + 27,
        thrift=base + 10,
        spark_master=base + 77,
        spark_master_ui=base + 80,
        spark_worker_ui=base + 81,
    )
    home = tmp_path_factory.mktemp("e2e-home")
    run = secrets.token_hex(4)
    env = dict(os.environ)
    env |= {
        "SESSIONLAKE_HOME": str(home),
        "SESSIONLAKE_KAFKA_PORT": str(ports.kafka),
        "SESSIONLAKE_KAFKA_CONTROLLER_PORT": str(ports.kafka_controller),
        "SESSIONLAKE_MOTO_PORT": str(ports.moto),
        "SESSIONLAKE_SEARCH_PORT": str(ports.search),
        "SESSIONLAKE_DERBY_PORT": str(ports.derby),
        "SESSIONLAKE_THRIFT_PORT": str(ports.thrift),
        "SESSIONLAKE_SPARK_MASTER_PORT": str(ports.spark_master),
        "SESSIONLAKE_SPARK_MASTER_UI_PORT": str(ports.spark_master_ui),
        "SESSIONLAKE_SPARK_WORKER_UI_PORT": str(ports.spark_worker_ui),
        "SESSIONLAKE_SPARK_MASTER": "stack",
        "SESSIONLAKE_DBT_TARGET": "thrift",
        "SESSIONLAKE_LAKE_URI": f"s3a://lake-{run}/sessionlake",
        "SESSIONLAKE_CHECKPOINT_URI": f"s3a://checkpoints-{run}/sessionlake",
        "SESSIONLAKE_DRIVER_MEMORY": "2g",
        "SESSIONLAKE_PII_SECRET": secrets.token_hex(32),
    }
    with environment_overlay(env):
        settings = Settings(home=home, ports=ports)
    deployed = Deployment(settings=settings, env=env)
    deployed.cli("stack", "up", "--cluster")
    yield deployed
    deployed.cli("stack", "down")


def _delta(spark, settings: Settings, uri: str):
    """A Delta table of the deployment's lake, read by this process from the deployment's own S3 endpoint."""
    for bucket in {urlparse(settings.lake).netloc, urlparse(settings.checkpoints).netloc}:
        hadoop = spark.sparkContext._jsc.hadoopConfiguration()  # noqa: SLF001
        hadoop.set(f"fs.s3a.bucket.{bucket}.endpoint", settings.aws_endpoint)
    return spark.read.format("delta").load(uri)


def _gold(spark, settings: Settings) -> dict[str, dict]:
    frame = _delta(spark, settings, f"{settings.warehouse}/gold.db/sessions")
    for column in (*TIME_COLUMNS, "last_ingested_at", "updated_at"):
        frame = frame.withColumn(column, F.unix_millis(column))
    return {row["session_id"]: row.asDict() for row in frame.collect()}


def _millis(value: datetime | None) -> int | None:
    return None if value is None else round(value.timestamp() * 1000)


def _close(actual: float | None, expected: float | None, rel: float) -> bool:
    if actual is None or expected is None:
        return actual is expected
    return math.isclose(actual, expected, rel_tol=rel, abs_tol=1e-9)


def _mismatches(gold: dict[str, dict], expected: list[dict], secret: str) -> list[str]:
    problems = []
    for want in expected:
        got = gold.get(want["session_id"])
        if got is None:
            problems.append(f"{want['session_id']}: missing from gold")
            continue
        user_key = pseudonymize(want["user_id"], secret) if want["user_id"] is not None else None
        checks = [("user_key", got["user_key"] == user_key, got["user_key"], user_key)]
        checks += [(c, got[c] == want[c], got[c], want[c]) for c in EXACT_COLUMNS]
        checks += [(c, got[c] == _millis(want[c]), got[c], _millis(want[c])) for c in TIME_COLUMNS]
        checks += [(c, _close(got[c], want[c], 1e-9), got[c], want[c]) for c in FLOAT_COLUMNS]
        p95 = ("p95_rtt_ms", _close(got["p95_rtt_ms"], want["p95_rtt_ms"], 0.01), got["p95_rtt_ms"], want["p95_rtt_ms"])
        checks.append(p95)
        problems += [f"{want['session_id']}.{c}: gold {g!r} != truth {w!r}" for c, ok, g, w in checks if not ok]
    extra = set(gold) - {row["session_id"] for row in expected}
    problems += [f"{session_id}: in gold but not in the truth" for session_id in sorted(extra)]
    return problems


def _rows_merged(run_output: str, table: str) -> int:
    """The rows `sessionlake run` reports its build merged into `table` (its `build:` line)."""
    match = re.search(rf"'{re.escape(table)}': (\d+)", run_output)
    assert match, run_output
    return int(match.group(1))


def _index_documents(settings: Settings) -> dict[str, dict]:
    from sessionlake.exporters.search import search_client

    client = search_client(settings)
    client.indices.refresh(index="sessions")
    hits = client.search(index="sessions", size=10_000, query={"match_all": {}})["hits"]["hits"]
    return {hit["_id"]: hit["_source"] for hit in hits}


def _wait_for(what: str, condition: Callable[[], object], timeout: float = 1200.0, poll: float = 5.0) -> object:
    """The first truthy value of `condition`, polled; an exception (a table not created yet) counts as not yet."""
    deadline, last_error = time.monotonic() + timeout, None
    while True:
        try:
            if value := condition():
                return value
        except Exception as exc:  # noqa: BLE001 (reported if it lasts until the deadline)
            last_error = exc
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f}s waiting for {what} ({last_error!r})"
        time.sleep(poll)


def _always_on(deployment: Deployment, spark, workload) -> None:
    """`sessionlake up` through the on-time data: the client-logs queue is deleted under its running source,
    which is retried with backoff (status shows it) while the other sources run; once the queue is back it
    catches up, and gold reaches the truth and the index gold with no pass run by hand. SIGTERM ends it."""
    settings, secret = deployment.settings, deployment.env["SESSIONLAKE_PII_SECRET"]
    pipeline = deployment.start("up", "--build-every", "20s", "--export-every", "5s")
    try:
        build_states = []

        def sources_started() -> bool:
            stages = deployment.stages()
            build_states.append(stages.get("build", {}).get("state"))
            return len([s for s in stages if s.startswith("ingest")]) == 4

        _wait_for("every source to start", sources_started)
        assert "waiting" in build_states  # no build over bronze tables ingest has not created yet
        with environment_overlay(deployment.env):
            sqs = sqs_client(settings)
        sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName="client-logs-events")["QueueUrl"])
        failing = _wait_for(
            "client-logs to fail and be retried",
            lambda: (s := deployment.stages()["ingest client_logs"])["state"] == "retrying" and s,
        )
        assert "QueueDoesNotExist" in failing["last_error"] or "queue does not exist" in failing["last_error"].lower()
        assert deployment.stages()["ingest session_events"]["state"] == "running"  # the others go on
        deployment.cli("provision")  # the queue and the bucket's notification are back
        deployment.cli("generate", *GENERATE_ARGS, "--phase", MAIN)

        def gold_and_index_caught_up() -> bool:
            gold = _gold(spark, settings)
            return _mismatches(gold, truth(workload, [MAIN]), secret) == [] and set(_index_documents(settings)) == set(
                gold
            )

        # A build on the cluster takes minutes: each look reads gold over s3a, so look less often.
        _wait_for("gold to equal the truth and the index gold", gold_and_index_caught_up, poll=15.0)
        stages = deployment.stages()
        assert stages["ingest client_logs"]["state"] == "running" and stages["ingest client_logs"]["failures"] >= 1
        assert stages["build"]["last_ok_at"] and stages["export"]["last_ok_at"]
        # Caught up, the loop builds no more: a tick with no new bronze version skips dbt.
        idle = {"state": "idle", "note": "no new bronze data since the last build"}
        _wait_for("the build loop to skip a tick", lambda: deployment.stages()["build"].items() >= idle.items())
    finally:
        pipeline.send_signal(signal.SIGTERM)
        returncode = pipeline.wait(timeout=900)
    assert returncode == 0, (settings.home / "up.log").read_text()[-4000:]
    pipeline_state = json.loads(deployment.cli("status", "--json"))["pipeline"]
    assert not pipeline_state["running"] and {s["state"] for s in pipeline_state["stages"].values()} == {"stopped"}


def _overwrite_with_one_more_line(deployment: Deployment, workload) -> tuple[LogFile, dict]:
    """Overwrite a valid, uncompressed client-logs file of the main phase with its lines plus a new event
    (a copy of the session's earliest line under a new id: one more log line, nothing else changes)."""
    candidates = [
        f for f in workload.files_in(MAIN)
        if f.bucket == "client-logs" and not f.gzip and f.records and all(r.event for r in f.records)
        and len({r.event["log_time"] for r in f.records}) > 1
    ]  # fmt: skip
    chosen = candidates[0]
    earliest = min((r.event for r in chosen.records), key=lambda e: e["log_time"])
    extra = {**earliest, "event_id": f"{earliest['event_id']}-reuploaded", "level": "INFO", "crashed": False}
    body = chosen.body() + (json.dumps(extra) + "\n").encode()
    with environment_overlay(deployment.env):
        aws_client(deployment.settings, "s3").put_object(Bucket=chosen.bucket, Key=chosen.key, Body=body)
    return chosen, extra


def _assert_the_file_ledgers_answer_for_every_file(
    deployment: Deployment, spark, workload, overwritten: LogFile, unchanged: LogFile
) -> None:
    """Every log file of the run is in its source's ledger, read in a committed batch; the overwritten key
    twice (two versions), the unchanged re-upload as a skipped duplicate; `status --files` finds them."""
    settings = deployment.settings
    for source, bucket in (("client_logs", "client-logs"), ("billing_logs", "billing-logs")):
        entries = [r.asDict() for r in file_ledger(spark, storage.join(settings.checkpoints, source)).collect()]
        read = [e for e in entries if e["skipped_reason"] is None]
        assert all(e["committed"] for e in read), [e for e in read if not e["committed"]]
        expected = {f.key for phase in (MAIN, LATE) for f in workload.files_in(phase) if f.bucket == bucket}
        assert {e["key"] for e in read} == expected
        versions = Counter(e["key"] for e in read)
        if bucket == overwritten.bucket:
            assert versions[overwritten.key] == 2 and versions.total() == len(expected) + 1
        else:
            assert versions.total() == len(expected)
    skipped = file_ledger(spark, storage.join(settings.checkpoints, "billing_logs")).where(
        f"skipped_reason = 'duplicate' and key = '{unchanged.key}'"
    )
    assert skipped.count() == 1
    shown = deployment.cli("status", "--files", "client_logs", "--key", overwritten.key)
    assert overwritten.key in shown and "read, committed" in shown


def _holds(text: str, value: str) -> bool:
    """`value` in `text` as a whole token (10.0.0.1 is not in 10.0.0.12)."""
    return re.search(rf"(?<![\w.]){re.escape(value)}(?![\w.])", text) is not None


def _raw_values_of(workload, player: str) -> set[str]:
    """The player's id, and the e-mail and IP values of the player's records no other player's record has."""
    records = [r for phase in (MAIN, LATE) for r in workload.records_in([phase]) if r.event is not None]
    sessions = {r.session_id for r in records if r.event.get("user_id") == player}
    own = {
        str(r.event[f]) for r in records if r.session_id in sessions for f in ("email", "ip_address") if r.event.get(f)
    }
    others = {str(v) for r in records if r.session_id not in sessions for v in r.event.values()}
    return {player} | (own - others)


def _raw_values_outside_the_lake(deployment: Deployment, raw: set[str]) -> list[str]:
    """Where a record still in the deployment's topics or an object in its landing buckets holds one of
    `raw` (named by place only: the values may be secrets)."""
    from confluent_kafka import Consumer, TopicPartition

    settings, found = deployment.settings, []
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"scan-{secrets.token_hex(4)}",
                         "enable.auto.commit": False})  # fmt: skip
    try:
        for topic in ("session-events", "stream-metrics"):
            partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
            for partition in partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=30)
                consumer.assign([TopicPartition(topic, partition, low)])
                for _ in range(low, high):
                    message = consumer.poll(30)
                    assert message is not None and message.error() is None, (topic, partition)
                    text = (message.value() or b"").decode("utf-8", errors="replace")
                    found += [f"{topic}[{partition}]@{message.offset()}" for v in raw if _holds(text, v)]
    finally:
        consumer.close()
    with environment_overlay(deployment.env):
        s3 = aws_client(settings, "s3")
    for bucket in ("client-logs", "billing-logs"):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                if body[:2] == b"\x1f\x8b":  # a gzipped log file (a truncated one is scanned as it is)
                    with contextlib.suppress(OSError, EOFError):
                        body = gzip.decompress(body)
                text = body.decode("utf-8", errors="replace")
                found += [f"s3://{bucket}/{item['Key']}" for v in raw if _holds(text, v)]
    return found


def _values_in_bucket(deployment: Deployment, bucket: str, values: set[str]) -> list[str]:
    """Each (object, value) of a bucket where an object's text, or a Parquet file's values, holds a value."""
    import io

    import pyarrow.parquet as pq

    with environment_overlay(deployment.env):
        s3 = aws_client(deployment.settings, "s3")
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            if item["Key"].endswith(".parquet"):  # its values, as text
                text = str(pq.read_table(io.BytesIO(body)).to_pylist())
                found += [f"s3://{bucket}/{item['Key']}" for value in values if _holds(text, value)]
            else:  # logs, checksums, deletion vectors: any bytes around a value
                found += [f"s3://{bucket}/{item['Key']}" for value in values if value.encode() in body]
    return found


def test_pipeline_matches_the_generators_truth(deployment: Deployment, spark):
    settings, secret = deployment.settings, deployment.env["SESSIONLAKE_PII_SECRET"]
    workload = plan(CONFIG)

    _always_on(deployment, spark, workload)
    after_main = _gold(spark, settings)
    assert _mismatches(after_main, truth(workload, [MAIN]), secret) == []

    deployment.cli("generate", *GENERATE_ARGS, "--phase", LATE)
    # A log file overwritten with its lines plus one (read again as a new object version: only the new
    # line's event is new), and another uploaded again unchanged (same ETag: read nothing).
    overwritten, extra_event = _overwrite_with_one_more_line(deployment, workload)
    unchanged = next(f for f in workload.files_in(MAIN) if f.bucket == "billing-logs")
    with environment_overlay(deployment.env):
        aws_client(settings, "s3").put_object(Bucket=unchanged.bucket, Key=unchanged.key, Body=unchanged.body())
    second_run = deployment.cli("run")
    gold = _gold(spark, settings)
    expected = truth(workload, [MAIN, LATE])
    for row in expected:
        if row["session_id"] == extra_event["session_id"]:
            row["log_lines"] += 1
    assert _mismatches(gold, expected, secret) == []

    # Late logs (and the extra line) changed only the sessions they belong to (updated_at included).
    late_sessions = {record.session_id for f in workload.files_in(LATE) for record in f.records}
    changed = {s for s, row in gold.items() if after_main.get(s) != row}
    assert extra_event["session_id"] in changed
    assert changed and changed <= late_sessions | {extra_event["session_id"]}
    _assert_the_file_ledgers_answer_for_every_file(deployment, spark, workload, overwritten, unchanged)
    # Freshness: every gold row says when its newest data reached bronze (epoch millis here).
    assert all(row["last_ingested_at"] and row["last_ingested_at"] <= row["updated_at"] for row in gold.values())
    # The build's report counts what its Delta commits on the Thrift Server wrote.
    assert _rows_merged(second_run, "gold.sessions") == len(changed)
    # The terminal shows the pass; the driver JVM's own logging (Spark, Hive, Delta) went to its log file.
    assert not re.search(r"^\d\d/\d\d/\d\d \d\d:\d\d:\d\d (WARN|INFO) ", deployment.last_stderr, re.MULTILINE)
    assert "NativeCodeLoader" in (settings.home / "logs" / "sessionlake-run.log").read_text()

    # Bad records are quarantined with a reason, one row per malformed record delivered.
    quarantine = _delta(spark, settings, settings.bronze_path("quarantine"))
    assert quarantine.count() == sum(workload.malformed_counts([MAIN, LATE]).values())
    assert quarantine.where("_reason is null or _reason = ''").count() == 0

    # The search index holds one document per gold session, with the same values and no raw PII.
    documents = _index_documents(settings)
    assert set(documents) == set(gold)
    for session_id, doc in documents.items():
        row = gold[session_id]
        assert doc["user_key"] == row["user_key"]
        assert doc["status"] == row["status"]
        assert doc["metric_samples"] == row["metric_samples"]
        assert doc["log_lines"] == row["log_lines"]
        assert not {"user_id", "email", "ip_address"} & set(doc)
        assert doc["exported_at"] >= doc["updated_at"]  # ISO-8601 UTC strings compare as times

    # The right to erasure over the Thrift Server with the lake on S3: the player is gone from bronze,
    # gold and the index (table versions vacuumed); every other session is untouched.
    player = next(row["user_id"] for row in truth(workload, [MAIN, LATE]) if row["user_id"])
    player_key = pseudonymize(player, secret)
    assert any(row["user_key"] == player_key for row in gold.values())
    out = deployment.cli("forget", "--user-id-from", "-", stdin=f"{player}\n")
    forgotten = json.loads(out[re.search(r"^\{$", out, re.MULTILINE).start() :])  # the report, after dbt's lines
    after_forget = _gold(spark, settings)
    assert after_forget == {s: row for s, row in gold.items() if row["user_key"] != player_key}
    bronze = _delta(spark, settings, settings.bronze_path("session_events"))
    assert bronze.where(F.col("user_id") == player).count() == 0 and bronze.count() > 0
    assert set(_index_documents(settings)) == set(after_forget)
    # The raw copies outside the lake: what ingest committed is gone from the topics and the landing
    # buckets, so none of the player's raw values is left there.
    purged = {copy["where"]: copy for copy in forgotten["raw_copies"]}
    assert set(purged) == {"kafka topic session-events", "kafka topic stream-metrics", "s3://client-logs/",
                           "s3://billing-logs/"} and all(copy.get("purged") for copy in purged.values())  # fmt: skip
    raw = _raw_values_of(workload, player)
    keys = {deployment.env["SESSIONLAKE_PII_SECRET"], os.environ["SESSIONLAKE_PII_MASTER_KEY"]}
    assert _raw_values_outside_the_lake(deployment, raw | keys) == []
    # And in the lake on S3: no object of any table (data, change data, logs, checkpoints; bronze with its
    # quarantine, ops metrics, silver, gold, the vault) holds a raw value of the player or either secret,
    # nor does any document of the index.
    assert _values_in_bucket(deployment, urlparse(settings.lake).netloc, raw | keys) == []
    indexed = str(list(_index_documents(settings).values()))
    assert sum(_holds(indexed, value) for value in raw | keys) == 0  # a count: the values may be secrets
