"""kill -9 of a stream writing bronze (Delta, foreachBatch with txnAppId/txnVersion) at each crash point,
then restart: every file's rows are in the table exactly once, and the queue ends empty."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sessionlake.core.settings import REPO_ROOT, Settings
from tests.test_s3_sqs_source import Feed, make_feed

# The job under test. Crash points in the source (before_discovery: messages received, nothing logged;
# after_discovery: files logged, offset not yet written; before_sqs_delete: batch committed, messages not
# deleted) are the JVM's test hook (CrashPoints.scala, env SESSIONLAKE_S3SQS_CRASH_AT); mid_read and
# after_delta_commit are reached here, in the job.
JOB = r'''
import os, sys, time
from pathlib import Path

from pyspark.sql.types import IntegerType, StringType, StructField, StructType

from sessionlake.core.settings import load
from sessionlake.core.spark import get_session

CRASH_AT = os.environ.get("SESSIONLAKE_S3SQS_CRASH_AT", "")
MARKER = Path(os.environ["SESSIONLAKE_S3SQS_CRASH_MARKER"])
TABLE, CHECKPOINT, QUEUE, ENDPOINT = sys.argv[1:5]
EXPECTED_ROWS = int(sys.argv[5])


def crash_point(name):
    """Tell the test we reached the point, then wait for its kill -9."""
    if name == CRASH_AT:
        MARKER.write_text(name)
        time.sleep(600)


def read_slowly(rows):
    """A task of the batch's file scan: crash once it has read a row of its file."""
    for _ in rows:
        crash_point("mid_read")


spark = get_session(load(), "s3-sqs-crash")
schema = StructType([StructField("id", StringType()), StructField("n", IntegerType())])
stream = (
    spark.readStream.format("s3-sqs")
    .option("fileFormat", "json")
    .option("queueUrl", QUEUE)
    .option("endpoint", ENDPOINT)
    .option("waitTimeSeconds", "0")
    .option("sqsFetchInterval", "0s")
    .option("maxFilesPerTrigger", os.environ.get("S3SQS_MAX_FILES", "1000"))
    .schema(schema)
    .load()
)


def write(df, batch_id):
    if CRASH_AT == "mid_read":
        df.foreachPartition(read_slowly)
    writer = df.write.format("delta").mode("append").option("txnAppId", "s3-sqs-crash")
    writer.option("txnVersion", batch_id).save(TABLE)
    crash_point("after_delta_commit")


query = (
    stream.writeStream.foreachBatch(write)
    .option("checkpointLocation", CHECKPOINT)
    .trigger(processingTime="1 second")
    .start()
)
deadline = time.monotonic() + 300
while time.monotonic() < deadline:
    time.sleep(1)
    if query.exception():
        raise query.exception()
    committed = any(Path(TABLE, "_delta_log").glob("*.json"))
    if committed and spark.read.format("delta").load(TABLE).count() >= EXPECTED_ROWS:
        break
time.sleep(4)  # long enough for redelivered messages to come back: they must not add rows
query.stop()
spark.stop()
'''

ROWS_PER_FILE = 3


def put_files(feed: Feed, names: list[str]) -> None:
    for name in names:
        feed.put(f"crash/{name}.json", [{"id": f"{name}-{i}", "n": i} for i in range(ROWS_PER_FILE)])


def _errors(log: Path) -> str:
    return "\n".join(line for line in log.read_text().splitlines() if "Error" in line or "Exception" in line)[-4000:]


def run_job(settings: Settings, tmp_path: Path, feed: Feed, expected_rows: int, crash_at: str = "", **env: str) -> None:
    job = tmp_path / "job.py"
    job.write_text(JOB)
    marker = tmp_path / "marker"
    marker.unlink(missing_ok=True)
    log = tmp_path / f"job-{crash_at or 'final'}.log"
    environment = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "SESSIONLAKE_HOME": str(tmp_path / "home"),
        "SESSIONLAKE_MOTO_PORT": str(settings.ports.moto),
        "SESSIONLAKE_DERBY_PORT": str(settings.ports.derby),
        "SESSIONLAKE_SPARK_LOG_LEVEL": "ERROR",
        "SESSIONLAKE_S3SQS_CRASH_AT": crash_at,
        "SESSIONLAKE_S3SQS_CRASH_MARKER": str(marker),
        **env,
    }
    args = [str(tmp_path / "bronze"), str(tmp_path / "checkpoint"), feed.queue_url, feed.endpoint, str(expected_rows)]
    process = subprocess.Popen(
        [sys.executable, str(job), *args], env=environment, start_new_session=True, stderr=log.open("w")
    )
    try:
        deadline = time.monotonic() + 360
        while time.monotonic() < deadline and process.poll() is None and not (crash_at and marker.exists()):
            time.sleep(0.2)
        if crash_at:
            assert marker.exists(), f"the job never reached {crash_at}: {_errors(log)}"
        else:
            assert process.wait(timeout=max(1, deadline - time.monotonic())) == 0, _errors(log)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # kill -9 of the driver, its JVM and Python workers
        process.wait()


def test_kill_9_at_every_crash_point_then_restart_exactly_once(
    moto: str, spark, settings: Settings, tmp_path: Path
) -> None:
    feed = make_feed(moto, visibility_timeout=2)
    files: list[str] = []
    points = ["before_discovery", "after_discovery", "mid_read", "after_delta_commit", "before_sqs_delete"]
    for step, crash_at in enumerate(points):
        names = [f"s{step}-{i}" for i in range(3)]
        put_files(feed, names)
        files += names
        max_files = {"S3SQS_MAX_FILES": "2"} if crash_at == "before_sqs_delete" else {}
        run_job(settings, tmp_path, feed, len(files) * ROWS_PER_FILE, crash_at, **max_files)
    put_files(feed, ["last"])
    files.append("last")
    run_job(settings, tmp_path, feed, len(files) * ROWS_PER_FILE)

    rows = spark.read.format("delta").load(str(tmp_path / "bronze")).select("id", "_file_path").collect()
    ids = sorted(r["id"] for r in rows)
    assert ids == sorted(f"{name}-{i}" for name in files for i in range(ROWS_PER_FILE)), json.dumps(ids)
    assert {r["_file_path"] for r in rows} == {f"s3a://{feed.bucket}/crash/{name}.json" for name in files}
    assert feed.queue_bodies(2.5) == []  # every message deleted, by the run that committed it or a later one
