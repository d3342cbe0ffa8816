"""Kafka -> bronze benchmark: sessionlake ingest against a bare Spark Kafka-to-Delta query, same data, same run.

Throughput: N stream-metrics events are produced to a fresh topic; then the baseline (readStream kafka
-> from_json -> Delta append, Trigger.AvailableNow) and `ingest.runner.run(once=True)` (parsing, rescued
data, quarantine, metadata, exactly-once fan-out writer, metrics) read all of it with the same
maxOffsetsPerTrigger. With --same-properties a third side runs the bare query into a table created with
the bronze tables' properties (optimized writes, auto compaction: ingest.tables.TABLE_PROPERTIES), which
prices the ingest layer apart from the table's write policy; with --same-shape another runs it into a
table of bronze's shape: those properties, the Kafka key and headers that bronze keeps, partitioned by
ingest date. That side costs what the issue asks of the table, so against it the ratio prices the
ingest layer's own work (parsing, rescued data, quarantine, exactly-once fan-out, metrics). Rate =
events / sum of the query's batch durations (Spark's progress), so JVM and session start-up are
excluded. --warmup rounds of every side run uncounted first, then --repeat rounds rotate which side goes
first. Reported against each baseline: the per-run ratios, their median, and the ratio of the best runs.

Latency: the ingest runs continuously (trigger --trigger) while a producer sends --rate events/s for
--seconds with event_time = now; per-event latency = commit time of its batch - event_time; p50/p95.

Needs the local stack (`sessionlake stack up`, or SESSIONLAKE_* endpoints).
    python bench/kafka_ingest/bench.py --events 300000 --warmup 1 --repeat 5 --rate 10000 --seconds 60
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from sessionlake.core.local_env import prepare_local_env
from sessionlake.core.settings import Settings, load
from sessionlake.core.spark import get_session
from sessionlake.ingest.metrics import metrics_path
from sessionlake.ingest.runner import run
from sessionlake.ingest.tables import PARTITION_COLUMN, TABLE_PROPERTIES

SCHEMA = (
    "event_id string, event_time timestamp, session_id string, fps double, bitrate_kbps int,"
    " rtt_ms double, packet_loss_pct double, resolution string"
)
KAFKA_COLUMNS = ["topic", "partition", "offset", "timestamp"]


def create_topic(bootstrap: str, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, 3, 1)]).values():
        future.result(timeout=60)


def event(i: int, when: datetime) -> bytes:
    return json.dumps(
        {
            "event_id": f"e{i}",
            "event_time": when.isoformat().replace("+00:00", "Z"),
            "session_id": f"s{i % 997}",
            "fps": 30 + random.random() * 30,
            "bitrate_kbps": random.randint(2000, 20000),
            "rtt_ms": random.random() * 80,
            "packet_loss_pct": random.random(),
            "resolution": "1920x1080",
        }
    ).encode()


def produce(bootstrap: str, topic: str, count: int, rate: float | None = None) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "queue.buffering.max.messages": 500000})
    started = time.monotonic()
    for i in range(count):
        if rate and i % 100 == 0:
            ahead = i / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
        while True:
            try:
                producer.produce(topic, key=f"s{i % 997}", value=event(i, datetime.now(timezone.utc)))
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    producer.flush(120)


def source_yaml(directory: Path, name: str, topic: str, max_offsets: int, trigger: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.yml").write_text(
        f"kind: kafka\nkafka:\n  topics: [{topic}]\n  max_offsets_per_trigger: {max_offsets}\n"
        f"schema: {SCHEMA}\nrequired: [event_id, session_id]\nevent_time: event_time\n"
        f"trigger: {trigger}\ntargets: [{name}]\n"
    )
    return directory


def create_with_bronze_properties(spark: SparkSession, path: Path, schema: StructType, partitioned: bool) -> None:
    """A Delta table at path with the bronze tables' properties, partitioned by ingest date or not."""
    builder = DeltaTable.create(spark).location(str(path)).addColumns(schema)
    if partitioned:
        builder = builder.partitionedBy(PARTITION_COLUMN)
    for key, value in TABLE_PROPERTIES.items():
        builder = builder.property(key, value)
    builder.execute()


def baseline(
    spark: SparkSession, settings: Settings, topic: str, max_offsets: int, work: Path, table: str = "plain"
) -> float:
    """The bare query: typed columns plus Kafka coordinates, appended to Delta. Returns seconds of batches.

    `table`: "plain", a table with no properties; "properties", a table created first with the bronze
    tables' properties; "shape", bronze's table shape without the ingest layer: those properties, the
    Kafka columns bronze keeps (key and headers too) and the partitioning by ingest date."""
    shape = table == "shape"
    stream = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", settings.kafka_bootstrap)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .option("maxOffsetsPerTrigger", max_offsets)
        .option("includeHeaders", str(shape).lower())
        .load()
    )
    kept = ["key", "topic", "partition", "offset", "timestamp", "headers"] if shape else KAFKA_COLUMNS
    typed = stream.select(
        F.from_json(F.col("value").cast("string"), SCHEMA).alias("v"),
        F.col("value").cast("string").alias("_raw"),
        *[F.col(c).cast("string") if c == "key" else F.col(c) for c in kept],
    ).select("v.*", "_raw", *kept)
    if shape:
        typed = typed.withColumn(PARTITION_COLUMN, F.current_date())
    run_id = uuid.uuid4().hex[:8]
    if table != "plain":
        create_with_bronze_properties(spark, work / f"baseline-{run_id}", typed.schema, partitioned=shape)
    query = (
        typed.writeStream.format("delta")
        .option("checkpointLocation", str(work / f"baseline-{run_id}-checkpoint"))
        .trigger(availableNow=True)
        .start(str(work / f"baseline-{run_id}"))
    )
    query.awaitTermination()
    return sum(p["batchDuration"] for p in query.recentProgress) / 1000


def ours(spark: SparkSession, settings: Settings, topic: str, max_offsets: int, work: Path) -> float:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    report = run(settings, spark, once=True, config_dir=source_yaml(work / name, name, topic, max_offsets, "1 second"))
    assert report.ok, report.errors
    metrics = spark.read.format("delta").load(str(metrics_path(settings))).where(F.col("source") == name)
    return metrics.agg(F.sum("batch_duration_ms")).first()[0] / 1000


def latency(spark: SparkSession, settings: Settings, rate: int, seconds: int, trigger: str, work: Path) -> dict:
    topic = f"bench-latency-{uuid.uuid4().hex[:8]}"
    create_topic(settings.kafka_bootstrap, topic)
    name = f"bench_latency_{uuid.uuid4().hex[:8]}"
    directory = source_yaml(work / name, name, topic, rate * 10, trigger)
    stop = threading.Event()
    options = {"once": False, "config_dir": directory, "stop": stop, "sources": [name]}
    runner = threading.Thread(target=run, args=(settings, spark), kwargs=options)
    runner.start()
    time.sleep(15)  # let the query start before the clock runs
    produce(settings.kafka_bootstrap, topic, rate * seconds, rate)
    table = str(settings.bronze_path(name))
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        time.sleep(2)
        try:
            if spark.read.format("delta").load(table).count() >= rate * seconds:
                break
        except Exception:  # noqa: BLE001 - the table may not have its first commit yet
            continue
    stop.set()
    runner.join()
    metrics = spark.read.format("delta").load(str(metrics_path(settings))).where(F.col("source") == name)
    commits = metrics.select(F.col("batch_id").alias("_batch_id"), "committed_at")
    rows = spark.read.format("delta").load(table).join(commits, "_batch_id")
    lat = rows.select(((F.unix_micros("committed_at") - F.unix_micros("event_time")) / 1000).alias("ms"))
    p50, p95 = lat.agg(F.percentile_approx("ms", [0.5, 0.95], 10000)).first()[0]
    return {"events": rows.count(), "p50_ms": p50, "p95_ms": p95}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--max-offsets", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1, help="uncounted runs of both sides first")
    parser.add_argument("--rate", type=int, default=10_000, help="events/s for the latency run (0: skip)")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--trigger", default="2 seconds")
    parser.add_argument(
        "--same-properties", action="store_true", help="also run the bare query into a table with bronze's properties"
    )
    parser.add_argument(
        "--same-shape",
        action="store_true",
        help="also run the bare query into a table of bronze's shape: properties, Kafka key and headers, "
        "partitioned by ingest date",
    )
    args = parser.parse_args()
    settings = load()
    prepare_local_env(settings)
    spark = get_session(settings, "sessionlake-bench-kafka-ingest")
    work = Path(tempfile.mkdtemp(prefix="bench-kafka-ingest-", dir=settings.home))
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    create_topic(settings.kafka_bootstrap, topic)
    produce(settings.kafka_bootstrap, topic, args.events)
    sides: dict[str, Callable[[], float]] = {
        "baseline": lambda: baseline(spark, settings, topic, args.max_offsets, work),
        "sessionlake ingest": lambda: ours(spark, settings, topic, args.max_offsets, work),
    }
    if args.same_properties:
        sides["baseline, bronze properties"] = lambda: baseline(
            spark, settings, topic, args.max_offsets, work, table="properties"
        )
    if args.same_shape:
        sides["baseline, bronze shape"] = lambda: baseline(
            spark, settings, topic, args.max_offsets, work, table="shape"
        )
    for _ in range(args.warmup):  # JIT and class loading: every side keeps warming for several runs
        for query in sides.values():
            query()
    rates: dict[str, list[float]] = {name: [] for name in sides}
    order = list(sides)
    for i in range(args.repeat):  # rotate which side runs first: the JVM is warmer for the later ones
        for name in order[i % len(order) :] + order[: i % len(order)]:
            rates[name].append(args.events / sides[name]())
        print("run: " + ", ".join(f"{name} {r[-1]:,.0f} events/s" for name, r in rates.items()), flush=True)
    mine = rates["sessionlake ingest"]
    for name, base in rates.items():
        if name == "sessionlake ingest" or not base:  # --repeat 0: the latency run alone
            continue
        ratios = sorted(m / b for m, b in zip(mine, base, strict=True))
        print(f"throughput against {name} ({args.events:,} events, {args.warmup} warm-up + {args.repeat} runs): "
              f"per-run ratios {', '.join(f'{r:.0%}' for r in ratios)}; best {name} {max(base):,.0f} events/s, "
              f"best sessionlake ingest {max(mine):,.0f} events/s, ratio of bests {max(mine) / max(base):.0%}, "
              f"median ratio {ratios[len(ratios) // 2]:.0%}")  # fmt: skip
    if args.rate:
        result = latency(spark, settings, args.rate, args.seconds, args.trigger, work)
        print(f"latency at {args.rate:,} events/s for {args.seconds}s (trigger {args.trigger}): {result}")
    spark.stop()


if __name__ == "__main__":
    main()
