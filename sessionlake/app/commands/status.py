"""`sessionlake status`: the stack, every ingest source (lag, backlog, freshness, last error), gold and the export."""

from __future__ import annotations

import argparse

from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from sessionlake import stack
from sessionlake.core.errors import ExitCode
from sessionlake.core.settings import Settings
from sessionlake.core.spark import get_session
from sessionlake.exporters.config import ExportConfig
from sessionlake.exporters.cursor import CursorError, CursorStore
from sessionlake.ingest.metrics import source_status


def _cell(value: object, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.0f}{unit}"
    return f"{value}{unit}"


def _print_stack(settings: Settings) -> bool:
    print("stack")
    statuses = stack.status(settings)
    for s in statuses:
        print(f"  {s.name:<10} {'running' if s.running else 'stopped':<8} {s.endpoint}")
    return all(s.running for s in statuses if s.name == "metastore")


def _print_sources(settings: Settings, spark: SparkSession) -> None:
    print("\ningest sources")
    rows = source_status(settings, spark)
    if not rows:
        print("  no ingest metrics yet (run `sessionlake ingest`)")
        return
    print(
        f"  {'source':<16} {'freshness':>10} {'kafka lag':>10} {'sqs backlog':>12} {'s3 files':>9} {'s3 MB':>8} "
        f"{'discovery p50/max':>18} {'p95 latency':>12}  last error"
    )
    for r in rows:
        error = f"{r.last_error_at:%F %T} {r.last_error[:60]}" if r.last_error else "-"
        megabytes = None if r.s3_bytes is None else f"{r.s3_bytes / 1e6:.1f}"
        discovery = (
            "-"
            if r.discovery_latency_max_ms is None
            else f"{_cell(r.discovery_latency_p50_ms, 'ms')}/{_cell(r.discovery_latency_max_ms, 'ms')}"
        )
        print(
            f"  {r.source:<16} {_cell(r.freshness_seconds, 's'):>10} {_cell(r.kafka_lag):>10} "
            f"{_cell(r.sqs_backlog):>12} {_cell(r.s3_files):>9} {_cell(megabytes):>8} {discovery:>18} "
            f"{_cell(r.latency_p95_ms, 'ms'):>12}  {error}"
        )


def _print_gold_and_export(settings: Settings, spark: SparkSession) -> None:
    config = ExportConfig.from_settings(settings)
    print("\ngold and export")
    if not spark.catalog.tableExists(config.table):
        print(f"  {config.table} does not exist yet (run `sessionlake build`)")
        return
    last = DeltaTable.forName(spark, config.table).history(1).collect()[0]
    updated = spark.sql(f"select count(*) as n, max(updated_at) as at from {config.table}").collect()[0]
    print(f"  {config.table:<16} {updated['n']} rows, version {last['version']}, last change {updated['at']}")
    try:
        cursor = CursorStore(config.cursor_dir, config.table, config.index, spark).load()
    except CursorError as exc:
        print(f"  export cursor unreadable: {exc}")
        return
    exported = cursor.version if cursor else None
    behind = last["version"] - exported if exported is not None else None
    print(f"  export -> {config.index:<8} cursor at version {_cell(exported)}, {_cell(behind)} versions behind")


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if not _print_stack(settings) and not settings.metastore_url_override:
        print("\nthe metastore is not running: start the stack (`sessionlake stack up`) to see sources and gold")
        return ExitCode.NOT_RUNNING
    spark = get_session(settings, "sessionlake-status")
    _print_sources(settings, spark)
    _print_gold_and_export(settings, spark)
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("status", help="stack, sources, freshness, export lag", description=__doc__)
    parser.set_defaults(func=_run)
