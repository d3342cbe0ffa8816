"""Search export cost, per engine, against baselines measured in the same run.

1. Throughput: `--changed` sessions (100,000) inserted in one commit, exported from the Change Data Feed by
   `Exporter.run_once()` (read, reduce, serialise, look up, bulk with external versions, refresh, cursor);
   baseline: a bare `helpers.streaming_bulk` of the same documents, already in memory, into an index with the
   same mapping. Ratio = exporter docs/s / baseline docs/s (goal: at least 80 %). A warm-up round of both,
   then `--repeat` rounds alternating which side goes first; the median is reported.
2. Flatness: tables of `--sizes` sessions (10k, 100k, 1M); in each, `--touched` (1,000) sessions change in one
   commit after the cursor, and the export of that commit is timed. It must not grow with the table (the
   change feed is read, not the table): the ratio is each size's time over the smallest size's.

Each engine (`--engines elasticsearch opensearch`) is started from the local stack's distribution in a
private state folder, beside a private metastore, and stopped after its part.

    .venv/bin/python bench/export/bench.py [--changed 100000] [--sizes 10000 100000 1000000] [--touched 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from sessionlake import stack
from sessionlake.core.settings import Ports, SearchSettings, Settings
from sessionlake.core.spark import get_session
from sessionlake.exporters.cdf import snapshot, table_state
from sessionlake.exporters.config import ExportConfig, SearchConfig
from sessionlake.exporters.cursor import Cursor, CursorStore
from sessionlake.exporters.runner import Exporter
from sessionlake.exporters.search import SearchIndex, mapping_properties

# A gold.sessions row per id: every contract column, values varied by the id.
ROW = """
    concat('s-', id) as session_id, sha2(concat('u-', id % 5000), 256) as user_key,
    concat('game-', id % 40) as game_id, element_at(array('eu', 'us', 'ap'), cast(id % 3 + 1 as int)) as region,
    'pc' as client_platform, timestamp_seconds(1765000000 + id) as started_at,
    timestamp_seconds(1765003600 + id) as ended_at, 'user_quit' as end_reason, 'ended' as status,
    cast(3600 as double) as duration_seconds, id % 400 as metric_samples, 30 + id % 90 * 1.0d as avg_fps,
    20.0d as min_fps, 8000.0d + id % 100 as avg_bitrate_kbps, 0.1d as max_packet_loss_pct, 21.5d as p95_rtt_ms,
    id % 50 as log_lines, id % 3 as error_lines, id % 97 = 0 as crashed, 'shield' as device_model,
    id % 60 as billed_minutes, 'priority' as tier, timestamp_seconds(1765000000 + id) as first_event_at,
    timestamp_seconds(1765003600 + id) as last_event_at, timestamp_seconds(1765003700 + id) as last_ingested_at,
    current_timestamp() as updated_at
"""


def sessions(spark: SparkSession, rows: int) -> DataFrame:
    return spark.sql(f"select {ROW} from range({rows})")


def create_table(spark, table: str, rows: int) -> None:
    """The table with its change data feed on (versions 0 and 1), then `rows` sessions in one commit."""
    sessions(spark, 0).write.format("delta").saveAsTable(table)
    spark.sql(f"ALTER TABLE {table} SET TBLPROPERTIES (delta.enableChangeDataFeed = true)")
    if rows:
        sessions(spark, rows).write.format("delta").mode("append").saveAsTable(table)


def engine_settings(engine: str, home: Path, port_base: int) -> Settings:
    ports = Ports(derby=port_base + 27, search=port_base + 200)
    return Settings(home=home, ports=ports, search=SearchSettings(engine=engine))


def config_for(settings: Settings, table: str, index: str, home: Path, threads: int = 2) -> ExportConfig:
    return ExportConfig(
        bulk_threads=threads,
        search=SearchConfig.from_settings(settings),
        cursor_dir=str(home / "cursors" / index),
        table=table,
        index=index,
        dead_letter_table=f"{table}_dead_letters",
    )


def exporter_run(spark: SparkSession, settings: Settings, home: Path, changed: int, threads: int) -> float:
    """Seconds of `Exporter.run_once()` for one commit of `changed` new sessions (index and cursor made before)."""
    table = f"bench.t_{uuid.uuid4().hex[:8]}"
    create_table(spark, table, 0)
    config = config_for(settings, table, f"exp-{uuid.uuid4().hex[:8]}", home, threads)
    exporter = Exporter(spark, config)
    exporter.run_once()  # the empty table: the index and a cursor at version 1
    sessions(spark, changed).write.format("delta").mode("append").saveAsTable(table)
    started = time.perf_counter()
    report = exporter.run_once()
    seconds = time.perf_counter() - started
    assert report.upserted == changed, report
    exporter.index.layout.drop(template=True)
    spark.sql(f"DROP TABLE {table}")
    return seconds


def bare_run(spark: SparkSession, settings: Settings, home: Path, changed: int, threads: int) -> float:
    """Seconds of a bare `helpers.streaming_bulk` of the same documents, already in memory, into an index with
    the same mapping (plain index operations, the client's defaults but the exporter's chunk size)."""
    latest = table_state(spark, "bench.documents").latest_version
    rows = snapshot(spark, "bench.documents", latest).limit(changed).collect()
    documents = [json.loads(r["_document"]) for r in rows]
    config = config_for(settings, "bench.documents", f"bare-{uuid.uuid4().hex[:8]}", home)
    index = SearchIndex(config)
    client, helpers = index.client, index.engine.helpers
    properties = mapping_properties(spark.table("bench.documents").schema)
    index.engine.indices_call(client, "create", index.name, {"mappings": {"dynamic": False, "properties": properties}})
    actions = ({"_index": index.name, "_id": d["session_id"], "_source": d} for d in documents)
    started = time.perf_counter()
    done = sum(ok for ok, _ in helpers.streaming_bulk(client, actions, chunk_size=config.bulk_chunk_size))
    client.indices.refresh(index=index.name)
    seconds = time.perf_counter() - started
    assert done == changed
    client.indices.delete(index=index.name)
    return seconds


def throughput(
    spark: SparkSession, settings: Settings, home: Path, changed: int, repeat: int, threads: int
) -> dict[str, Any]:
    """A warm-up of both sides, then `repeat` rounds with the side that goes first alternating."""
    if not spark.catalog.tableExists("bench.documents"):
        create_table(spark, "bench.documents", changed)
    exporter_run(spark, settings, home, min(changed, 20_000), threads)
    bare_run(spark, settings, home, min(changed, 20_000), threads)
    ratios, exporter_rates, bare_rates = [], [], []
    for round_ in range(repeat):
        sides = [("exporter", exporter_run), ("bare", bare_run)]
        order = sides if round_ % 2 == 0 else sides[::-1]
        times = {name: run(spark, settings, home, changed, threads) for name, run in order}
        ratios.append(times["bare"] / times["exporter"])
        exporter_rates.append(changed / times["exporter"])
        bare_rates.append(changed / times["bare"])
    return {
        "exporter_docs_per_s": statistics.median(exporter_rates),
        "bare_docs_per_s": statistics.median(bare_rates),
        "ratio": statistics.median(ratios),
        "ratios": [round(r, 2) for r in ratios],
    }


def flatness(spark, settings: Settings, home: Path, sizes: list[int], touched: int) -> list[dict[str, float]]:
    rows = []
    for size in sizes:
        table = f"bench.f_{uuid.uuid4().hex[:8]}"
        create_table(spark, table, size)
        config = config_for(settings, table, f"flat-{uuid.uuid4().hex[:8]}", home)
        exporter = Exporter(spark, config)
        state = table_state(spark, table)
        exporter.index.ensure(state.schema)
        # The index already holds the table (as if exported): the cursor is set at the latest version.
        CursorStore(config.cursor_dir, table, config.index, spark).save(
            Cursor(table, state.table_id, config.index, state.latest_version, state.commit_millis[state.latest_version])
        )
        touch = f"cast(substr(session_id, 3) as bigint) < {touched}"
        spark.sql(f"UPDATE {table} SET log_lines = log_lines + 1 WHERE {touch}")
        started = time.perf_counter()
        report = exporter.run_once()
        seconds = time.perf_counter() - started
        assert report.upserted == touched, report
        exporter.index.layout.drop(template=True)
        rows.append({"sessions": size, "seconds": seconds})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", nargs="+", default=["elasticsearch", "opensearch"])
    parser.add_argument("--changed", type=int, default=100_000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--touched", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3, help="throughput rounds after the warm-up")
    parser.add_argument("--threads", type=int, default=2, help="the exporter's bulks in flight (the baseline: 1)")
    parser.add_argument("--port-base", type=int, default=int(os.environ.get("SESSIONLAKE_BENCH_PORT_BASE", "24500")))
    args = parser.parse_args()
    os.environ.setdefault("SESSIONLAKE_PII_SECRET", secrets.token_hex(32))
    os.environ.setdefault("SESSIONLAKE_PII_MASTER_KEY", secrets.token_hex(32))

    home = Path(tempfile.mkdtemp(prefix="sessionlake-bench-export-"))
    base = engine_settings(args.engines[0], home, args.port_base)
    stack.up(base, components=["metastore"])
    results = {}
    try:
        spark = get_session(base, "bench-export")
        spark.sql("CREATE DATABASE IF NOT EXISTS bench")
        for engine in args.engines:
            settings = engine_settings(engine, home / engine, args.port_base)
            stack.up(settings, components=["search"])
            try:
                results[engine] = {
                    "throughput": throughput(spark, settings, home, args.changed, args.repeat, args.threads),
                    "flatness": flatness(spark, settings, home, sorted(args.sizes), args.touched),
                }
                print(json.dumps({engine: results[engine]}), flush=True)
            finally:
                stack.down(settings, components=["search"])
        spark.stop()
    finally:
        stack.down(base, components=["metastore"])

    for engine, result in results.items():
        t = result["throughput"]
        print(f"\n{engine}: {args.changed} changed sessions")
        print(f"  exporter {t['exporter_docs_per_s']:>9.0f} docs/s   bare streaming_bulk {t['bare_docs_per_s']:>9.0f} "
              f"docs/s   ratio {t['ratio']:.2f} (median of {t['ratios']})")  # fmt: skip
        first = result["flatness"][0]["seconds"]
        print(f"  export of {args.touched} changed sessions as the table grows:")
        for row in result["flatness"]:
            print(f"    {row['sessions']:>9} sessions  {row['seconds']:>6.2f} s  x{row['seconds'] / first:.2f}")


if __name__ == "__main__":
    main()
