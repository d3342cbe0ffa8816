"""`sessionlake demo`: start the local stack, send a workload, run the pipeline, print what happened.

The workload is delivered in two phases: first the real-time telemetry and the on-time logs, then log
files that arrive "hours late"; the second pass shows late data landing in sessions already built.
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timedelta, timezone

from pyspark.sql import SparkSession

from sessionlake import stack
from sessionlake.core.errors import SessionlakeError
from sessionlake.core.settings import Settings
from sessionlake.core.spark import get_session
from sessionlake.generator import LATE, MAIN, GeneratorConfig, deliver, plan
from sessionlake.generator.planner import MAX_DURATION_MS

SAMPLE_COLUMNS = (
    "session_id",
    "status",
    "game_id",
    "region",
    "duration_seconds",
    "metric_samples",
    "avg_fps",
    "log_lines",
    "crashed",
    "billed_minutes",
)


def recent_start(window_minutes: int = GeneratorConfig.window_minutes) -> datetime:
    """A time base near now for the demo's workload: its sessions started within the last hours and have
    ended by now, so the freshness `status` reports measures this run, not the generator's fixed date."""
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    return now - timedelta(minutes=window_minutes) - timedelta(milliseconds=MAX_DURATION_MS)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    started = time.monotonic()
    print("== starting the local stack (Derby metastore, Kafka, moto S3/SQS/SNS, Elasticsearch)")
    stack.up(settings)
    workload = plan(
        GeneratorConfig(
            seed=args.seed, sessions=args.sessions, late_ratio=0.2, malformed_ratio=0.02, start=recent_start()
        )
    )
    from sessionlake.app.pipeline import run_cycle  # dbt: imported by the commands that use it

    spark = get_session(settings, "sessionlake-demo")
    for phase in (MAIN, LATE):
        print(f"== phase {phase}: delivering the workload")
        print(deliver(workload, settings, phase).render())
        print(f"== phase {phase}: ingest -> dbt build -> export")
        cycle = run_cycle(settings, spark)
        print(f"   ingest:  {cycle.ingest}")
        print(f"   build:   {cycle.build}")
        print(f"   export:  {cycle.export}")
        print(f"   pass took {cycle.seconds:.0f}s")
        if cycle.failures:
            raise SessionlakeError(f"phase {phase} failed: " + "; ".join(cycle.failures))
    _summary(settings, spark)
    print(f"\ndemo finished in {time.monotonic() - started:.0f}s")
    return 0


def _summary(settings: Settings, spark: SparkSession) -> None:
    from sessionlake.app.pipeline import layer_counts
    from sessionlake.exporters.search import search_client

    print("\n== rows per layer")
    for table, rows in layer_counts(spark).items():
        print(f"   {table:<40} {rows:>8}")
    client = search_client(settings)
    print(f"   {'search index sessions':<40} {client.count(index='sessions')['count']:>8}")
    print("\n== a few sessions (gold.sessions)")
    spark.table("gold.sessions").select(*SAMPLE_COLUMNS).orderBy("session_id").show(5, truncate=False)
    print("== where to look next")
    print("   .venv/bin/sessionlake status                       sources, lag, freshness")
    print('   .venv/bin/sessionlake sql "select * from gold.sessions limit 10"')
    print(f"   curl '{settings.search_url}/sessions/_search?q=status:ended&pretty'")
    print("   .venv/bin/sessionlake build --docs                 dbt docs for analysts")
    print("   .venv/bin/sessionlake stack down                   stop the local stack")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="run the whole pipeline once on the local stack", description=__doc__)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.set_defaults(func=_run)
