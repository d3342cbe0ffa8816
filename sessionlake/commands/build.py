"""`sessionlake build`: run the dbt project (silver, gold) once or on a schedule."""

from __future__ import annotations

import argparse

from sessionlake.settings import Settings


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("build", help="dbt build: bronze -> silver -> gold sessions")
    parser.add_argument("--every", metavar="INTERVAL", help="build in a loop, e.g. 5m (never overlapping)")
    parser.add_argument("--select", nargs="+", metavar="SELECTOR", help="dbt node selection")
    parser.add_argument("--full-refresh", action="store_true", help="rebuild incremental models from scratch")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from sessionlake.spark import get_session
    from sessionlake.transform import build
    from sessionlake.transform.schedule import parse_interval, run_every

    spark = get_session(settings, "sessionlake-build")
    if args.every:
        run_every(settings, spark, parse_interval(args.every), select=args.select)
        return 0
    result = build(settings, spark, select=args.select, full_refresh=args.full_refresh)
    return 0 if result.success else 1
