"""`sessionlake up`: run the whole pipeline continuously in the foreground (ingest every source, build on
an interval, export), until Ctrl-C or SIGTERM. See `sessionlake status` for each stage's state."""

from __future__ import annotations

import argparse
from pathlib import Path

from sessionlake.core.settings import Settings


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from sessionlake.app.commands.export import interval

    parser = subparsers.add_parser(
        "up", help="run ingest, the build loop and the exporter together", description=__doc__
    )
    parser.add_argument("--build-every", type=interval, default=300.0, metavar="INTERVAL", help="default 5m")
    parser.add_argument("--export-every", type=interval, default=30.0, metavar="INTERVAL", help="default 30s")
    parser.add_argument("--source", action="append", metavar="NAME", help="only this source (repeatable)")
    parser.add_argument("--config-dir", type=Path, help="directory of source YAML files (default: shipped)")
    parser.add_argument("--trigger", help="override every source's trigger interval, e.g. '10 seconds'")
    parser.add_argument(
        "--checks", choices=["every-build", "all"], default="every-build", help="the build loop's tests (see build)"
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from sessionlake.app.signals import stop_on_signals
    from sessionlake.app.supervisor import PipelineOptions, run_pipeline
    from sessionlake.core.spark import get_session
    from sessionlake.ingest.config import load_sources
    from sessionlake.transform import Checks

    load_sources(args.config_dir, args.source)  # a broken source file fails here, before Spark starts
    stop = stop_on_signals()
    options = PipelineOptions(
        build_every=args.build_every,
        export_every=args.export_every,
        sources=args.source,
        config_dir=args.config_dir,
        trigger=args.trigger,
        checks=Checks(args.checks),
    )
    spark = get_session(settings, "sessionlake-up")
    try:
        run_pipeline(settings, spark, options, stop)
    finally:
        spark.stop()
    return 0
