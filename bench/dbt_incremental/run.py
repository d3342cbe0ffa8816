"""Incremental build time for one minute of new data as history grows 1x, 10x, 100x, against a full refresh.

    python bench/dbt_incremental/run.py [--base-sessions 200] [--sizes 1 10 100]

Starts its own Derby metastore (stack component) under a temporary SESSIONLAKE_HOME, writes synthetic
bronze rows with Spark (history spread over past ingest dates), and for each history size: catches
silver/gold up, appends one minute of new data (new sessions, late logs for old sessions), times an
incremental `dbt build` of the models, then times a `--full-refresh` build of the same models on the same
data. Prints a table and the ratios; all figures come from the same run on the same machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import tempfile
from pathlib import Path

from sessionlake import stack
from sessionlake.core.settings import Ports, Settings
from sessionlake.core.spark import get_session
from sessionlake.generator.bronze import create_bronze_tables
from sessionlake.transform import Checks, build

MODELS = ["resource_type:model"]
# Per session: 4 session events, 20 stream samples, 10 log lines, 1 billing record.
PER_SESSION = {"session_events": 4, "stream_metrics": 20, "client_logs": 10, "billing_logs": 1}


def _payload(table: str) -> str:
    """Spark SQL select list of synthetic payload columns over (sid, k, t) (session number, row in session, time)."""
    session = "concat('s', sid)"
    event_id = f"concat('{table}-', sid, '-', k)"
    return {
        "session_events": f"""{event_id} as event_id,
            element_at(array('session_started', 'heartbeat', 'heartbeat', 'session_ended'), cast(k + 1 as int))
                as event_type,
            t + make_interval(0, 0, 0, 0, 0, cast(k as int), 0) as event_time, {session} as session_id,
            concat('u', sid % 997) as user_id, concat('u', sid % 997, '@example.com') as email,
            '10.0.0.1' as ip_address, concat('g', sid % 13) as game_id, 'eu-west' as region,
            'pc' as client_platform, if(k = 3, 'user_quit', null) as end_reason""",
        "stream_metrics": f"""{event_id} as event_id, t + make_interval(0, 0, 0, 0, 0, 0, k) as event_time,
            {session} as session_id, 30 + (k % 30) as fps, cast(3000 + k * 10 as int) as bitrate_kbps,
            20.0 + k as rtt_ms, k / 10.0 as packet_loss_pct, '1920x1080' as resolution""",
        "client_logs": f"""{event_id} as event_id, t + make_interval(0, 0, 0, 0, 0, 0, k) as log_time,
            {session} as session_id, if(k = 9, 'ERROR', 'INFO') as level, 'm' as message,
            'pixel-8' as device_model, '14' as os_version, '10.0.0.9' as ip_address, k = 9 as crashed""",
        "billing_logs": f"""{event_id} as event_id, {session} as session_id, concat('u', sid % 997) as user_id,
            cast(5 + sid % 60 as int) as billed_minutes, 'premium' as tier""",
    }[table]


def append_sessions(
    spark, first: int, count: int, ingested_at: dt.datetime, tables: tuple[str, ...] = tuple(PER_SESSION), tag: str = ""
) -> None:
    """Append sessions first..first+count-1 to bronze as one ingest batch at `ingested_at`.

    `tag` makes new event ids for sessions that already exist (late data)."""
    stamp = f"timestamp'{ingested_at:%Y-%m-%d %H:%M:%S}'"
    meta = {"_ingested_at": stamp, "_batch_id": str(first), "_ingest_date": f"date'{ingested_at:%Y-%m-%d}'"}
    for table in tables:
        schema = spark.table(f"bronze.{table}").schema
        rows = (
            spark.range(first, first + count)
            .selectExpr("id as sid")
            .crossJoin(spark.range(PER_SESSION[table]).selectExpr("id as k"))
            .selectExpr("*", f"{stamp} - interval 1 hour as t")
        )
        payload = rows.selectExpr(*_split(_payload(table).replace("'-', k)", f"'-', k, '{tag}')")))
        payload.selectExpr(
            *[
                f"cast({name if name in payload.columns else meta.get(name, 'null')}"
                f" as {schema[name].dataType.simpleString()}) as {name}"
                for name in schema.fieldNames()
            ]
        ).write.format("delta").mode("append").saveAsTable(f"bronze.{table}")


def _split(select_list: str) -> list[str]:
    """Split a select list on top-level commas."""
    parts, depth, current = [], 0, ""
    for char in select_list:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


def new_minute(spark, first: int, count: int, tag: str) -> None:
    """One minute of new data: `count` new sessions from `first` on, plus late client logs (event ids
    made new by `tag`) for as many old sessions."""
    minute = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    append_sessions(spark, first, count, minute)
    append_sessions(spark, 0, count, minute, tables=("client_logs",), tag=tag)


def timed_build(settings, spark, checks: Checks, full_refresh: bool = False) -> float:
    result = build(settings, spark, select=MODELS, full_refresh=full_refresh, checks=checks)
    if not result.success:
        raise RuntimeError(f"build failed: {result.failures}")
    return result.duration_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-sessions", type=int, default=200, help="sessions of history at 1x")
    parser.add_argument("--minute-sessions", type=int, default=20, help="new sessions in the minute of new data")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument(
        "--checks", choices=[c.value for c in Checks], default=Checks.EVERY_BUILD.value, help="the builds' checks"
    )
    parser.add_argument(
        "--baseline-all",
        action="store_true",
        help="also time, after another minute of new data, an incremental build with every check (--checks all)",
    )
    parser.add_argument("--port-base", type=int, default=int(os.environ.get("SESSIONLAKE_BENCH_PORT_BASE", "24500")))
    args = parser.parse_args()

    os.environ.setdefault("SESSIONLAKE_PII_SECRET", secrets.token_hex(32))
    os.environ.setdefault("SESSIONLAKE_PII_MASTER_KEY", secrets.token_hex(32))
    home = Path(tempfile.mkdtemp(prefix="sessionlake-bench-"))
    settings = Settings(home=home, ports=Ports(derby=args.port_base + 27))
    stack.up(settings, components=["metastore"])
    try:
        spark = get_session(settings, "bench-dbt-incremental")
        create_bronze_tables(spark, settings)
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        loaded = 0
        rows = []
        for size in sorted(args.sizes):
            target = size * args.base_sessions
            # History: spread over past days (older ingest dates), then caught up by an untimed build.
            days = max(1, size)
            per_day = (target - loaded) // days
            for day in range(days):
                count = per_day if day < days - 1 else target - loaded
                append_sessions(spark, loaded, count, now - dt.timedelta(days=days - day, hours=1))
                loaded += count
            build(settings, spark, select=MODELS, checks=Checks(args.checks))
            new_minute(spark, loaded, args.minute_sessions, tag=f"late{size}")
            loaded += args.minute_sessions
            incremental = timed_build(settings, spark, Checks(args.checks))
            row = {"size": size, "sessions": loaded, "incremental_s": incremental}
            if args.baseline_all:
                new_minute(spark, loaded, args.minute_sessions, tag=f"late{size}b")
                loaded += args.minute_sessions
                row["incremental_all_s"] = timed_build(settings, spark, Checks.ALL)
            row["full_refresh_s"] = timed_build(settings, spark, Checks(args.checks), full_refresh=True)
            rows.append(row)
            print(json.dumps(rows[-1]), flush=True)
        base = rows[0]["incremental_s"]
        header = ("history", "sessions", "incremental s", "full refresh s", "incr/incr@1x", "incr/full")
        extra = "  incr-all s  incr/incr-all" if args.baseline_all else ""
        print("{:>8} {:>9} {:>14} {:>15} {:>13} {:>10}".format(*header) + extra)
        for row in rows:
            line = (
                f"{row['size']:>7}x {row['sessions']:>9} {row['incremental_s']:>14.1f} {row['full_refresh_s']:>15.1f}"
                f" {row['incremental_s'] / base:>13.2f} {row['incremental_s'] / row['full_refresh_s']:>10.2f}"
            )
            if args.baseline_all:
                line += f" {row['incremental_all_s']:>11.1f} {row['incremental_s'] / row['incremental_all_s']:>14.2f}"
            print(line)
        spark.stop()
    finally:
        stack.down(settings, components=["metastore"])


if __name__ == "__main__":
    main()
