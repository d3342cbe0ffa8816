"""`sessionlake build`: run the dbt project (silver, gold) once or on a schedule; maintain its tables."""

from __future__ import annotations

import argparse

from sessionlake.core.errors import ConfigurationError
from sessionlake.core.settings import Settings


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("build", help="dbt build: bronze -> silver -> gold sessions")
    parser.add_argument("--every", metavar="INTERVAL", help="build in a loop, e.g. 5m (never overlapping)")
    parser.add_argument("--select", nargs="+", metavar="SELECTOR", help="dbt node selection")
    parser.add_argument("--full-refresh", action="store_true", help="rebuild incremental models from scratch")
    parser.add_argument(
        "--checks",
        choices=["every-build", "all"],
        default="every-build",
        help="every-build (default): the key tests and the PII value guard over new data; "
        "all: every data and unit test, the guard over all history (CI, nightly)",
    )
    maintenance = parser.add_mutually_exclusive_group()
    maintenance.add_argument("--optimize", metavar="MODEL", help="OPTIMIZE a model's table, Z-ordered by session_id")
    maintenance.add_argument("--vacuum", metavar="MODEL", help="VACUUM a model's table (see --retain-hours)")
    maintenance.add_argument("--history", metavar="MODEL", help="list a model's table versions")
    maintenance.add_argument("--restore", metavar="MODEL", help="roll a model's table back (see --to-version)")
    maintenance.add_argument("--docs", action="store_true", help="dbt docs generate")
    maintenance.add_argument(
        "--freshness", action="store_true", help="dbt source freshness of the bronze sources (status shows it)"
    )
    parser.add_argument("--retain-hours", type=float, default=168.0, help="VACUUM retention (default 168)")
    parser.add_argument("--to-version", type=int, help="version for --restore")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from sessionlake.core.intervals import parse_interval
    from sessionlake.core.spark import get_session
    from sessionlake.ingest.config import bronze_tables
    from sessionlake.transform import Checks, build, maintenance
    from sessionlake.transform.inputs import BronzeInputs
    from sessionlake.transform.schedule import run_every

    if args.restore and args.to_version is None:
        raise ConfigurationError("--restore needs --to-version (see --history)")
    spark = get_session(settings, "sessionlake-build")
    if args.optimize:
        maintenance.optimize(settings, args.optimize)
    elif args.vacuum:
        maintenance.vacuum(settings, args.vacuum, args.retain_hours)
    elif args.history:
        maintenance.history(settings, args.history)
    elif args.restore:
        maintenance.restore(settings, args.restore, args.to_version)
    elif args.docs:
        maintenance.generate_docs(settings)
    elif args.freshness:
        return _freshness(settings)
    elif args.every:
        inputs = BronzeInputs(settings, spark, bronze_tables())
        run_every(
            settings, spark, parse_interval(args.every), select=args.select, checks=Checks(args.checks), inputs=inputs
        )
    else:
        result = build(settings, spark, select=args.select, full_refresh=args.full_refresh, checks=Checks(args.checks))
        return 0 if result.success else 1
    return 0


def _freshness(settings: Settings) -> int:
    """Each bronze source's freshness; exit 1 when one is past its error_after threshold."""
    from sessionlake.transform.freshness import check_freshness

    report = check_freshness(settings)
    for entry in report:
        print(f"{entry.source:<36} {entry.status:<6} {entry.newest_row} ({entry.max_loaded_at or 'none'})")
        if entry.error:
            print(f"{'':<36} {entry.error}")
    return 1 if any(e.status not in ("pass", "warn") for e in report) else 0
