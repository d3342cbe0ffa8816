"""`sessionlake status`: the stack and the live pipeline's stages (`sessionlake up`), in a second, without
Spark; `--tables` adds what only the lake knows (every source's lag, backlog, freshness and last error
from the ingest metrics, gold and the export cursor); `--files SOURCE` looks files up in a file source's
ledger (read, in which batch, or skipped and why); `--json` for machines."""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from typing import Any

from sessionlake import stack
from sessionlake.app.state import PipelineState, read_loops, read_state
from sessionlake.core.durations import human_duration
from sessionlake.core.errors import ExitCode
from sessionlake.core.settings import Settings
from sessionlake.stack.process import pid_alive
from sessionlake.transform.freshness import SourceFreshness, checked_at_epoch, read_freshness, report_path


def _ago(at: float | None, now: float) -> str:
    if at is None:
        return "-"
    return "just now" if now - at < 1 else f"{human_duration(now - at)} ago"


def _until(at: float | None, now: float) -> str:
    return "-" if at is None else ("now" if at <= now else f"in {human_duration(at - now)}")


def pipeline_running(state: PipelineState) -> bool:
    return state.stopped_at is None and pid_alive(state.pid)


def _print_stack(statuses: list[stack.ComponentStatus]) -> None:
    print("stack")
    for s in statuses:
        print(f"  {s.name:<14} {'running' if s.running else 'stopped':<8} {s.endpoint}")


def _print_pipeline(state: PipelineState | None, now: float, title: str = "pipeline") -> None:
    if state is None:
        print(f"\n{title}\n  never started here (`sessionlake up`)")
        return
    if pipeline_running(state):
        header = f"running for {human_duration(now - state.started_at)} (pid {state.pid})"
    elif state.stopped_at is not None:
        header = f"stopped {_ago(state.stopped_at, now)}"
    else:
        header = f"not running: pid {state.pid} is gone (killed?), state as of its last write"
    print(f"\n{title}  {header}")
    print(f"  {'stage':<24} {'state':<9} {'last ok':>12} {'took':>8} {'next':>10}  what it did / last error")
    for stage in sorted(state.stages.values(), key=lambda s: (not s.name.startswith("ingest"), s.name)):
        print(
            f"  {stage.name:<24} {stage.state:<9} {_ago(stage.last_ok_at, now):>12} "
            f"{human_duration(stage.last_seconds):>8} {_until(stage.next_attempt_at, now):>10}  {stage.summary or '-'}"
        )
        if stage.note:
            print(f"  {'':<67}  {stage.note}")
        if stage.last_error:
            when = _ago(stage.last_error_at, now)
            print(f"  {'':<67}  last error {when} ({stage.failures}x): {stage.last_error}")


def _print_sources(settings: Settings, spark: Any) -> None:
    from sessionlake.ingest.metrics import source_status

    print("\ningest sources (metrics)")
    rows = source_status(settings, spark)
    if not rows:
        print("  no ingest metrics yet (run `sessionlake ingest` or `sessionlake up`)")
        return
    print(
        f"  {'source':<16} {'freshness':>10} {'kafka lag':>10} {'sqs backlog':>12} {'s3 files':>9} {'s3 MB':>8} "
        f"{'discovery p50/max':>18} {'p95 latency':>12}  last error"
    )

    def cell(value: object) -> str:
        return "-" if value is None else str(value)

    def millis(value: float | None) -> str:
        return human_duration(None if value is None else value / 1000)

    for r in rows:
        error = f"{r.last_error_at:%F %T} {r.last_error[:60]}" if r.last_error else "-"
        megabytes = None if r.s3_bytes is None else f"{r.s3_bytes / 1e6:.1f}"
        discovery = (
            "-"
            if r.discovery_latency_max_ms is None
            else f"{millis(r.discovery_latency_p50_ms)}/{millis(r.discovery_latency_max_ms)}"
        )
        print(
            f"  {r.source:<16} {human_duration(r.freshness_seconds):>10} {cell(r.kafka_lag):>10} "
            f"{cell(r.sqs_backlog):>12} {cell(r.s3_files):>9} {cell(megabytes):>8} {discovery:>18} "
            f"{millis(r.latency_p95_ms):>12}  {error}"
        )


def _print_gold_and_export(settings: Settings, spark: Any) -> None:
    from delta.tables import DeltaTable

    from sessionlake.exporters.config import ExportConfig
    from sessionlake.exporters.cursor import CursorError, CursorStore

    config = ExportConfig.from_settings(settings)
    print("\ngold and export")
    if not spark.catalog.tableExists(config.table):
        print(f"  {config.table} does not exist yet (run `sessionlake build`)")
        return
    last = DeltaTable.forName(spark, config.table).history(1).collect()[0]
    updated = spark.sql(f"select count(*) as n, max(updated_at) as at from {config.table}").collect()[0]
    print(f"  {config.table:<16} {updated['n']} rows, version {last['version']}, last change {updated['at']}")
    _print_freshness(spark, config.table)
    try:
        cursor = CursorStore(config.cursor_dir, config.table, config.index, spark).load()
    except CursorError as exc:
        print(f"  export cursor unreadable: {exc}")
        return
    exported = cursor.version if cursor else None
    behind = last["version"] - exported if exported is not None else None
    print(f"  export -> {config.index:<8} cursor at version {exported}, {behind} versions behind")


def _print_files(settings: Settings, spark: Any, source_name: str, key: str | None, limit: int) -> int:
    from sessionlake.core import storage
    from sessionlake.ingest.config import load_sources
    from sessionlake.ingest.readers import reader_for

    source = next(s for s in load_sources(names=[source_name]) if s.name == source_name)
    ledger = reader_for(source.kind).file_ledger(spark, storage.join(settings.checkpoints, source.name))
    if ledger is None:
        print(f"{source.name} is a {source.kind} source: it reads no files, so it has no file ledger")
        return ExitCode.CONFIGURATION
    if key:
        ledger = ledger.where(ledger.key.contains(key))
    counts = {
        (r["skipped_reason"], r["committed"]): r["n"]
        for r in ledger.groupBy("skipped_reason", "committed").count().withColumnRenamed("count", "n").collect()
    }
    read = sum(n for (reason, _), n in counts.items() if reason is None)
    pending = counts.get((None, False), 0)
    skipped = ", ".join(f"{n} {reason}" for (reason, _), n in sorted(counts.items(), key=str) if reason)
    matching = f" matching {key!r}" if key else ""
    print(f"file ledger of {source.name}{matching}: {read} logged to read ({pending} not committed yet)"
          f"; skipped: {skipped or 'none'}")  # fmt: skip
    rows = ledger.orderBy(ledger.discovered_at.desc()).limit(limit).collect()
    if rows:
        print(f"  {'discovered':<19} {'size':>9}  {'etag':<12} {'batch':>6}  {'state':<24} key")
    for r in rows:
        if r["skipped_reason"]:
            state = f"skipped: {r['skipped_reason']}"
        elif r["committed"]:
            state = "read, committed"
        else:
            state = "logged, not committed"
        name = f"s3://{r['bucket']}/{r['key']}" if r["key"] else "-"
        batch = "-" if r["batch_id"] is None else str(r["batch_id"])
        print(f"  {r['discovered_at']:%F %T} {r['size'] or 0:>9}  {(r['etag'] or '-')[:12]:<12} {batch:>6}  "
              f"{state:<24} {name}")  # fmt: skip
        if r["detail"]:
            print(f"  {'':<19} {r['detail']}")
    if read + sum(n for (reason, _), n in counts.items() if reason) > limit:
        print(f"  (the {limit} most recent; --limit N for more, --key TEXT to narrow)")
    return 0


FRESHNESS_WINDOW_MINUTES = 60


def _print_freshness(spark: Any, table: str) -> None:
    """End-to-end freshness of the sessions gold changed in the last hour: event time -> gold and bronze
    -> gold (p50 / p95 of updated_at minus last_event_at, minus last_ingested_at)."""
    if "last_ingested_at" not in spark.table(table).columns:
        print("  freshness: gold has no last_ingested_at yet (its next build adds it)")
        return

    def lag(since: str) -> str:
        seconds = f"(unix_micros(updated_at) - unix_micros({since})) / 1e6d"
        return f"percentile_approx({seconds}, array(0.5, 0.95)) as {since}"

    row = spark.sql(
        f"select count(*) as n, {lag('last_event_at')}, {lag('last_ingested_at')} from {table} "
        f"where updated_at > current_timestamp() - interval {FRESHNESS_WINDOW_MINUTES} minutes"
    ).first()
    if not row["n"]:
        print(f"  freshness: no session changed in the last {FRESHNESS_WINDOW_MINUTES} minutes")
        return

    def pair(values: list[float] | None) -> str:
        return "-" if not values else f"p50 {human_duration(values[0])}, p95 {human_duration(values[1])}"

    print(
        f"  freshness of the {row['n']} sessions changed in the last {FRESHNESS_WINDOW_MINUTES} minutes: "
        f"event -> gold {pair(row['last_event_at'])}; bronze -> gold {pair(row['last_ingested_at'])}"
    )


def _print_source_freshness(report: list[SourceFreshness], now: float) -> None:
    """The last `sessionlake build --freshness` (dbt source freshness), read from its report."""
    if not report:
        print("\nsource freshness\n  never checked here (`sessionlake build --freshness`)")
        return
    checked = max((at for e in report if (at := checked_at_epoch(e)) is not None), default=None)
    print(f"\nsource freshness (dbt, checked {_ago(checked, now)})")
    for entry in report:
        print(
            f"  {entry.source:<36} {entry.status:<6} {entry.newest_row}" + (f": {entry.error}" if entry.error else "")
        )


def _as_json(
    statuses: list[stack.ComponentStatus],
    state: PipelineState | None,
    loops: dict[str, PipelineState],
    freshness: list[SourceFreshness],
) -> str:
    def described(process: PipelineState) -> dict[str, Any]:
        return dataclasses.asdict(process) | {"running": pipeline_running(process)}

    components = [{"name": s.name, "running": s.running, "endpoint": s.endpoint} for s in statuses]
    pipeline = None if state is None else described(state)
    loop_states = {name: described(loop) for name, loop in loops.items()}
    document = {
        "stack": components,
        "pipeline": pipeline,
        "loops": loop_states,
        "source_freshness": [dataclasses.asdict(e) for e in freshness],
    }
    return json.dumps(document, indent=2, sort_keys=True)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    statuses = stack.status(settings)
    state = read_state(settings.home)
    loops = read_loops(settings.home)
    freshness = read_freshness(report_path(settings))
    if args.json:
        print(_as_json(statuses, state, loops, freshness))
        return 0
    if args.files:
        from sessionlake.core.spark import get_session

        return _print_files(settings, get_session(settings, "sessionlake-status", pii_keys=False), args.files,
                            args.key, args.limit)  # fmt: skip
    _print_stack(statuses)
    _print_pipeline(state, time.time())
    for name, loop in loops.items():
        _print_pipeline(loop, time.time(), title=f"{name} --every")
    _print_source_freshness(freshness, time.time())
    if not args.tables:
        return 0
    metastore_up = all(s.running for s in statuses if s.name == "metastore")
    if not metastore_up and not settings.metastore_url_override:
        print("\nthe metastore is not running: start the stack (`sessionlake stack up`) to see sources and gold")
        return ExitCode.NOT_RUNNING
    from sessionlake.core.spark import get_session

    spark = get_session(settings, "sessionlake-status", pii_keys=False)
    _print_sources(settings, spark)
    _print_gold_and_export(settings, spark)
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("status", help="stack, pipeline stages, freshness, export lag", description=__doc__)
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--tables", action="store_true", help="also read the lake (starts Spark): sources, gold")
    output.add_argument("--json", action="store_true", help="the stack and the pipeline as JSON")
    output.add_argument(
        "--files", metavar="SOURCE", help="a file source's ledger (starts Spark): what was read, when, or why not"
    )
    parser.add_argument("--key", metavar="TEXT", help="with --files: only the objects whose key contains TEXT")
    parser.add_argument("--limit", type=int, default=20, help="with --files: how many files to list (default 20)")
    parser.set_defaults(func=_run)
