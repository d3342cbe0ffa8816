"""Where the Kafka ingest's time goes, beside the bare query of bench.py (same data, same run).

compiles: classes Spark generates and compiles (its CodegenMetrics count) in each round of the
    baseline and of the ingest. Classes generated anew every batch show up here.
stages: where each side's batches spend their time (the bare query, into a plain table and into one with
    bronze's properties, and the ingest), from Spark's REST API (needs the UI:
    SESSIONLAKE_SPARK_UI=true): the stages of the last of --repeat rounds, grouped by kind (Delta's own
    log and snapshot jobs apart) and by number of tasks, with their executor run time, CPU time and wall
    time. Whatever the batches took beyond the stages' wall time is driver work.
plan: driver time to optimize and plan each side's query (a streaming query does it for every
    micro-batch): the baseline's select and the ingest's parse over the same Kafka relation, each built
    anew --repeat times; median after one warm-up round.
fetch: reading the records alone, with the Kafka client's consumer defaults and with ingest's
    FETCH_DEFAULTS.
layers: batch durations of the bare query into a table of bronze's shape; of the ingest's own parse in
    the stream, its good records written from `foreachBatch` by `append_once` (exactly-once
    transaction ids) and nothing else; and of the whole ingest. The second against the first prices
    parsing, foreachBatch and the exactly-once writes; the third against the second, the writer's
    per-batch extras (statistics, batch columns, quarantine check, metrics). Median of --repeat
    rotated rounds after one warm-up.
commits: seconds per small append (1,000 rows, exactly-once transaction ids) to a table with bronze's
    properties, --commits of them, grouped by what Delta did after the append: wrote a checkpoint (every
    delta.checkpointInterval commits), ran an auto compaction (once 50 small files add up), or nothing.
    Medians.
parse: executor cost of the parsing alone. The same records, read once and cached, are written to
    Spark's `noop` sink by the baseline's select; by Spark's `from_json` (with a corrupt-record column)
    plus `json_object_keys`, and by `sessionlake_parse_json`, which does the work of both in one pass;
    and by `ingest.parsing.parse` with and without `_reason` / `_rescued_data`. Best of --repeat after
    one warm-up.

Needs the local stack (`sessionlake stack up`, or SESSIONLAKE_* endpoints).
    python bench/kafka_ingest/costs.py compiles --events 300000
    python bench/kafka_ingest/costs.py parse --events 300000
    python bench/kafka_ingest/costs.py plan --repeat 10
    python bench/kafka_ingest/costs.py fetch --events 300000 --repeat 5
    SESSIONLAKE_SPARK_UI=true python bench/kafka_ingest/costs.py stages --events 300000
    python bench/kafka_ingest/costs.py layers --events 300000 --repeat 4
    python bench/kafka_ingest/costs.py commits --commits 60
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from unittest import mock

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from bench import SCHEMA, baseline, create_topic, create_with_bronze_properties, ours, produce, source_yaml
from sessionlake.core.local_env import prepare_local_env
from sessionlake.core.settings import Settings, load
from sessionlake.core.spark import get_session
from sessionlake.ingest import parsing
from sessionlake.ingest.config import load_sources
from sessionlake.ingest.prepare import prepare_source
from sessionlake.ingest.readers import kafka
from sessionlake.ingest.tables import PARTITION_COLUMN
from sessionlake.ingest.writers.delta import append_once


def _filled_topic(settings: Settings, events: int) -> str:
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    create_topic(settings.kafka_bootstrap, topic)
    produce(settings.kafka_bootstrap, topic, events)
    return topic


def _compiles(spark: SparkSession) -> int:
    """How many classes Spark has compiled in this JVM so far (its CodegenMetrics source)."""
    return spark._jvm.org.apache.spark.metrics.source.CodegenMetrics.METRIC_COMPILATION_TIME().getCount()  # noqa: SLF001


def compiles(spark: SparkSession, settings: Settings, events: int, rounds: int, work: Path) -> None:
    topic = _filled_topic(settings, events)
    for i in range(rounds):
        for name, query in (("baseline", baseline), ("sessionlake ingest", ours)):
            before = _compiles(spark)
            seconds = query(spark, settings, topic, 50_000, work)
            print(f"round {i}: {name}: batches {seconds:.2f} s, classes compiled {_compiles(spark) - before}")


def _completed_stages(spark: SparkSession) -> list[dict]:
    context = spark.sparkContext
    url = f"{context.uiWebUrl}/api/v1/applications/{context.applicationId}/stages?status=complete"
    with urllib.request.urlopen(url) as response:  # noqa: S310 - the local Spark UI
        return json.load(response)


def _wall(stage: dict) -> float:
    def moment(text: str) -> datetime:
        return datetime.strptime(text.removesuffix("GMT"), "%Y-%m-%dT%H:%M:%S.%f")

    return (moment(stage["completionTime"]) - moment(stage["firstTaskLaunchedTime"])).total_seconds()


def stages(spark: SparkSession, settings: Settings, events: int, rounds: int, work: Path) -> None:
    if not spark.sparkContext.uiWebUrl:
        raise SystemExit("stages needs Spark's UI: run with SESSIONLAKE_SPARK_UI=true")
    topic = _filled_topic(settings, events)
    for i in range(rounds):
        sides: dict[str, Callable[[], float]] = {
            "baseline": lambda: baseline(spark, settings, topic, 50_000, work),
            "baseline, bronze properties": lambda: baseline(spark, settings, topic, 50_000, work, table="properties"),
            "sessionlake ingest": lambda: ours(spark, settings, topic, 50_000, work),
        }
        for name, query in sides.items():
            seen = {(s["stageId"], s["attemptId"]) for s in _completed_stages(spark)}
            seconds = query()
            if i < rounds - 1:
                continue
            groups: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0.0])
            for stage in _completed_stages(spark):
                if (stage["stageId"], stage["attemptId"]) in seen:
                    continue
                kind = "Delta log/snapshot" if (stage.get("description") or "").startswith("Delta") else "query"
                group = groups[f"{kind}, {stage['numTasks']} task(s)"]
                group[0] += 1
                group[1] += stage["executorRunTime"] / 1000
                group[2] += stage["executorCpuTime"] / 1e9
                group[3] += _wall(stage)
            walls = sum(g[3] for g in groups.values())
            print(f"{name}: batches {seconds:.2f} s, stages' wall time {walls:.2f} s, driver {seconds - walls:.2f} s")
            for label, (count, run, cpu, wall) in sorted(groups.items(), key=lambda item: -item[1][3]):
                print(f"  {label}: {count} stages, wall {wall:.2f} s, executor run {run:.2f} s, cpu {cpu:.2f} s")


def fetch(spark: SparkSession, settings: Settings, events: int, repeat: int) -> None:
    """Reading alone (the records' bytes summed): the Kafka client's consumer defaults against
    ingest.readers.kafka.FETCH_DEFAULTS. Median and best of --repeat after one warm-up, alternating."""
    topic = _filled_topic(settings, events)
    variants = {"client defaults": {}, "FETCH_DEFAULTS": kafka.FETCH_DEFAULTS}
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeat + 1):
        for name, extra in variants.items():
            reader = spark.read.format("kafka").option("kafka.bootstrap.servers", settings.kafka_bootstrap)
            records = reader.option("subscribe", topic).option("startingOffsets", "earliest").options(**extra).load()
            started = time.perf_counter()
            records.agg(F.sum(F.length("value"))).collect()
            times[name].append(time.perf_counter() - started)
    for name, seconds in times.items():
        counted = sorted(seconds[1:])
        print(f"{name}: median {counted[len(counted) // 2]:.2f} s, best {counted[0]:.2f} s ({events:,} records)")


def parse_cost(spark: SparkSession, settings: Settings, events: int, repeat: int, work: Path) -> None:
    topic = _filled_topic(settings, events)
    source = load_sources(source_yaml(work / "profile", "profile", topic, 50_000, "1 second"), None)[0]
    rules = prepare_source(spark, settings, source).rules
    records = (
        spark.read.format("kafka")
        .options(**kafka.options(settings, source))
        .option("startingOffsets", "earliest")
        .load()
        .cache()
    )
    records.count()
    envelope = kafka.envelope(records, source)
    none = F.lit(None).cast("string")
    value = F.col("value").cast("string")
    with_corrupt = StructType([*rules.schema.fields, StructField("__json_corrupt", StringType())])
    variants: dict[str, Callable[[], DataFrame]] = {
        "baseline select": lambda: records.select(
            F.from_json(F.col("value").cast("string"), SCHEMA).alias("v"), "topic", "partition", "offset"
        ).select("v.*", "topic", "partition", "offset"),
        "from_json (corrupt column) + json_object_keys": lambda: records.select(
            F.from_json(value, with_corrupt, {"columnNameOfCorruptRecord": "__json_corrupt"}),
            F.json_object_keys(value),
        ),
        "sessionlake_parse_json": lambda: records.select(parsing.parse_json(value, rules.schema)),
        "parse": lambda: parsing.parse(envelope, rules),
    }
    patches = {
        "parse without _reason and _rescued_data": {"reason": lambda _r: none, "rescued_data": lambda _r: none},
    }
    for name, replaced in patches.items():

        def patched(replaced: dict = replaced) -> DataFrame:
            targets = [mock.patch.object(parsing, k, v) for k, v in replaced.items()]
            for target in targets:
                target.start()
            try:
                return parsing.parse(envelope, rules)
            finally:
                for target in targets:
                    target.stop()

        variants[name] = patched
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeat + 1):
        for name, frame in variants.items():
            started = time.perf_counter()
            frame().write.format("noop").mode("overwrite").save()
            times[name].append(time.perf_counter() - started)
    for name, seconds in times.items():
        print(f"{name}: {min(seconds[1:]):.2f} s (best of {repeat}, {events:,} records)")


def _parsed_to_append_once(spark: SparkSession, settings: Settings, topic: str, work: Path) -> float:
    """The ingest's parse in the stream; from `foreachBatch`, its good records appended once with the
    ingest date. Returns seconds of batches."""
    run_id = uuid.uuid4().hex[:8]
    source = load_sources(source_yaml(work / f"layers-{run_id}", "layers", topic, 50_000, "1 second"), None)[0]
    prepared = prepare_source(spark, settings, source)
    columns = prepared.routes[0].columns
    path = work / f"layers-{run_id}-table"

    def good(frame: DataFrame) -> DataFrame:
        kept = frame.where(F.col(parsing.REASON).isNull()).select(*columns)
        return kept.withColumn(PARTITION_COLUMN, F.current_date())

    stream = parsing.parse(kafka.read(spark, settings, source), prepared.rules)
    create_with_bronze_properties(spark, path, good(stream).schema, partitioned=True)
    query = (
        stream.writeStream.option("checkpointLocation", str(work / f"layers-{run_id}-checkpoint"))
        .foreachBatch(lambda frame, batch_id: append_once(good(frame), path, f"layers-{run_id}", batch_id))
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()
    return sum(p["batchDuration"] for p in query.recentProgress) / 1000


def layers(spark: SparkSession, settings: Settings, events: int, repeat: int, work: Path) -> None:
    topic = _filled_topic(settings, events)
    sides: dict[str, Callable[[], float]] = {
        "bare query, bronze shape": lambda: baseline(spark, settings, topic, 50_000, work, table="shape"),
        "ingest parse, foreachBatch append_once": lambda: _parsed_to_append_once(spark, settings, topic, work),
        "sessionlake ingest": lambda: ours(spark, settings, topic, 50_000, work),
    }
    for side in sides.values():  # warm-up
        side()
    seconds: dict[str, list[float]] = {name: [] for name in sides}
    order = list(sides)
    for i in range(repeat):
        for name in order[i % len(order) :] + order[: i % len(order)]:
            seconds[name].append(sides[name]())
    for name, times in seconds.items():
        median = sorted(times)[len(times) // 2]
        print(f"{name}: batches {median:.2f} s, {events / median:,.0f} events/s (median of {repeat})")


def commits(spark: SparkSession, count: int, work: Path) -> None:
    path = work / "commits"
    rows = spark.range(1000).select(F.col("id"), F.current_date().alias(PARTITION_COLUMN))
    create_with_bronze_properties(spark, path, rows.schema, partitioned=True)
    log = path / "_delta_log"
    seconds: dict[str, list[float]] = {}
    for batch_id in range(1, count + 1):
        checkpoints, versions = len(list(log.glob("*.checkpoint*.parquet"))), len(list(log.glob("*.json")))
        started = time.perf_counter()
        append_once(rows, path, "costs-commits", batch_id)
        took = time.perf_counter() - started
        extras = []
        if len(list(log.glob("*.checkpoint*.parquet"))) > checkpoints:
            extras.append("a checkpoint")
        if len(list(log.glob("*.json"))) > versions + 1:  # the append's commit and the compaction's
            extras.append("an auto compaction")
        seconds.setdefault(" and ".join(extras) or "nothing", []).append(took)
    for kind, times in seconds.items():
        median = sorted(times)[len(times) // 2]
        print(f"append followed by {kind}: {median * 1000:.0f} ms (median of {len(times)})")


def plan(spark: SparkSession, settings: Settings, repeat: int, work: Path) -> None:
    topic = _filled_topic(settings, 1000)
    source = load_sources(source_yaml(work / "plan", "plan", topic, 50_000, "1 second"), None)[0]
    rules = prepare_source(spark, settings, source).rules
    records = spark.read.format("kafka").options(**kafka.options(settings, source)).load()
    sides: dict[str, Callable[[], DataFrame]] = {
        "baseline select": lambda: records.select(
            F.from_json(F.col("value").cast("string"), SCHEMA).alias("v"), F.col("value").cast("string").alias("_raw")
        ).select("v.*", "_raw"),
        "ingest parse": lambda: parsing.parse(kafka.envelope(records, source), rules).where(
            F.col(parsing.REASON).isNull()
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(2):  # the first round warms the JVM up
        for name, side in sides.items():
            times[name].clear()
            for _ in range(repeat):
                frame = side()
                started = time.perf_counter()
                frame._jdf.queryExecution().executedPlan()  # noqa: SLF001 - optimized and planned, not run
                times[name].append(time.perf_counter() - started)
    for name, seconds in times.items():
        median = sorted(seconds)[len(seconds) // 2]
        print(f"{name}: optimized and planned in {median * 1000:.0f} ms (median of {repeat})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["compiles", "stages", "fetch", "parse", "plan", "layers", "commits"])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--commits", type=int, default=60, help="appends (commits)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (compiles, stages) or timed runs (fetch, parse)")
    args = parser.parse_args()
    settings = load()
    prepare_local_env(settings)
    spark = get_session(settings, f"sessionlake-costs-{args.what}")
    work = Path(tempfile.mkdtemp(prefix="costs-kafka-ingest-", dir=settings.home))
    if args.what == "compiles":
        compiles(spark, settings, args.events, args.repeat, work)
    elif args.what == "stages":
        stages(spark, settings, args.events, args.repeat, work)
    elif args.what == "fetch":
        fetch(spark, settings, args.events, args.repeat)
    elif args.what == "plan":
        plan(spark, settings, args.repeat, work)
    elif args.what == "layers":
        layers(spark, settings, args.events, args.repeat, work)
    elif args.what == "commits":
        commits(spark, args.commits, work)
    else:
        parse_cost(spark, settings, args.events, args.repeat, work)
    spark.stop()


if __name__ == "__main__":
    main()
