"""Where the ingest runs and where its state lives, priced on the same data in one run.

N stream-metrics events go to one fresh topic; then `sessionlake ingest --once` reads all of it, as a
subprocess, once per side, each side with a source of its own (its own checkpoint, its own table):

- `local`: Spark local[2], lake and checkpoints in a local folder (the baseline);
- `s3a`: local[2], lake and checkpoints in their own buckets on the stack's S3 (moto) through s3a;
- `cluster`: the stack's standalone cluster (`sessionlake stack up --cluster`), local folders.

Rate = events / the sum of the side's batch durations (ops.ingest_metrics), so JVM start-up is out;
the side's wall time is reported beside it. For the s3a side the S3 requests are counted from the moto
server's request log (the stack's `moto.log`), by bucket and kind (LIST, GET, HEAD, PUT, DELETE, POST),
per micro-batch. --rounds repeats the three sides in rotated order; medians are reported.

Needs the local stack with the cluster (`sessionlake stack up --cluster`, Kafka, moto, the metastore).
    python bench/topology/bench.py --events 200000 --max-offsets 20000 --rounds 2
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import boto3
from pyspark.sql import functions as F

from sessionlake.core import storage
from sessionlake.core.local_env import prepare_local_env
from sessionlake.core.settings import Settings, load
from sessionlake.core.spark import get_session

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "kafka_ingest"))
from bench import create_topic, produce, source_yaml  # the Kafka bench's producer and source YAML

REQUEST = re.compile(r'"(GET|PUT|HEAD|DELETE|POST) /([^/?\s]+)(/?[^\s]*) HTTP')


def side_env(settings: Settings, side: str, run: str) -> dict[str, str]:
    env = dict(os.environ) | {"SESSIONLAKE_DRIVER_MEMORY": "2g"}
    if side == "s3a":
        env |= {
            "SESSIONLAKE_LAKE_URI": f"s3a://lake/bench-{run}",
            "SESSIONLAKE_CHECKPOINT_URI": f"s3a://checkpoints/bench-{run}",
        }
    else:
        local = settings.home / "bench-topology" / run / side
        env |= {"SESSIONLAKE_LAKE_URI": str(local / "lake"), "SESSIONLAKE_CHECKPOINT_URI": str(local / "checkpoints")}
    env["SESSIONLAKE_SPARK_MASTER"] = "stack" if side == "cluster" else "local[2]"
    return env


def s3_requests(log: Path, offset: int) -> Counter:
    """Requests in moto's log after byte `offset`, by (bucket, kind)."""
    counts: Counter = Counter()
    with log.open("rb") as handle:
        handle.seek(offset)
        for line in handle.read().decode(errors="replace").splitlines():
            match = REQUEST.search(line)
            if not match:
                continue
            method, bucket, rest = match.groups()
            listing = method == "GET" and (rest in ("", "/") or rest.startswith(("?", "/?")))
            counts[(bucket, "LIST" if listing else method)] += 1
    return counts


def run_side(settings: Settings, side: str, run: str, topic: str, max_offsets: int, work: Path, spark) -> dict:
    name = f"bench_{side}_{uuid.uuid4().hex[:6]}"
    config = source_yaml(work / name, name, topic, max_offsets, "1 second")
    env = side_env(settings, side, run)
    moto_log = settings.stack_dir / "moto" / "moto.log"
    offset = moto_log.stat().st_size
    started = time.monotonic()
    argv = [sys.executable, "-m", "sessionlake.app.cli", "ingest", "--once", "--config-dir", str(config)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"{side}: ingest failed:\n{done.stderr[-3000:]}")
    requests = s3_requests(moto_log, offset)
    lake = env["SESSIONLAKE_LAKE_URI"]
    metrics = spark.read.format("delta").load(storage.join(lake, "ops", "ingest_metrics"))
    metrics = metrics.where((F.col("source") == name) & (F.col("input_rows") > 0))
    row = metrics.agg(F.sum("batch_duration_ms").alias("ms"), F.count("*").alias("batches")).first()
    return {"seconds": row["ms"] / 1000, "batches": row["batches"], "wall": wall, "requests": requests}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--max-offsets", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    settings = load()
    prepare_local_env(settings)
    for bucket in ("lake", "checkpoints"):
        s3 = boto3.client("s3", endpoint_url=settings.aws_endpoint, region_name=settings.aws_region)
        if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
            s3.create_bucket(Bucket=bucket)
    spark = get_session(settings, "bench-topology")
    topic = f"bench-topology-{uuid.uuid4().hex[:8]}"
    create_topic(settings.kafka_bootstrap, topic)
    produce(settings.kafka_bootstrap, topic, args.events)
    run = uuid.uuid4().hex[:8]
    work = settings.home / "bench-topology" / run
    sides = ["local", "s3a", "cluster"]
    results: dict[str, list[dict]] = {side: [] for side in sides}
    for round_ in range(args.rounds):
        for side in sides[round_ % 3 :] + sides[: round_ % 3]:
            result = run_side(settings, side, run, topic, args.max_offsets, work, spark)
            results[side].append(result)
            print(
                f"round {round_ + 1} {side:<8} {args.events / result['seconds']:>9.0f} events/s "
                f"({result['batches']} batches, {result['seconds']:.1f}s in batches, {result['wall']:.1f}s wall)"
            )
    base = statistics.median(args.events / r["seconds"] for r in results["local"])
    print(f"\n{args.events} events, maxOffsetsPerTrigger {args.max_offsets}, {args.rounds} rounds (medians)")
    for side in sides:
        rate = statistics.median(args.events / r["seconds"] for r in results[side])
        wall = statistics.median(r["wall"] for r in results[side])
        print(f"  {side:<8} {rate:>9.0f} events/s  {rate / base:6.0%} of local  wall {wall:.0f}s")
    s3a = results["s3a"]
    batches = sum(r["batches"] for r in s3a)
    total: Counter = sum((r["requests"] for r in s3a), Counter())
    print(f"\nS3 requests per micro-batch on the s3a side ({batches} batches over {len(s3a)} rounds):")
    for bucket in ("checkpoints", "lake"):
        kinds = {kind: n / batches for (b, kind), n in total.items() if b == bucket}
        print(f"  {bucket:<12} " + "  ".join(f"{k} {v:.1f}" for k, v in sorted(kinds.items())))
    spark.stop()


if __name__ == "__main__":
    main()
