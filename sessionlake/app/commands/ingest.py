"""`sessionlake ingest`: run the configured sources into bronze (stage 1)."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

from sessionlake.core.settings import Settings

log = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("ingest", help="stream Kafka and S3/SQS sources into the bronze tables")
    parser.add_argument("--source", action="append", metavar="NAME", help="only this source (repeatable)")
    parser.add_argument("--once", action="store_true", help="process what is available now, then stop")
    parser.add_argument("--config-dir", type=Path, help="directory of source YAML files (default: shipped)")
    parser.add_argument("--trigger", help="override every source's trigger interval, e.g. '10 seconds'")
    parser.add_argument("--shuffle-partitions", type=int, help="spark.sql.shuffle.partitions")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from sessionlake.core.spark import get_session
    from sessionlake.ingest.config import load_sources
    from sessionlake.ingest.runner import run as run_ingest

    load_sources(args.config_dir, args.source)  # a broken source file fails here, before Spark starts

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    spark = get_session(settings, "sessionlake-ingest")
    if args.shuffle_partitions:
        spark.conf.set("spark.sql.shuffle.partitions", str(args.shuffle_partitions))
    try:
        report = run_ingest(
            settings,
            spark,
            sources=args.source,
            once=args.once,
            config_dir=args.config_dir,
            trigger=args.trigger,
            stop=stop,
        )
    finally:
        spark.stop()
    for table, rows in sorted(report.rows_written.items()):
        log.info("%s: %d rows", table, rows)
    for source, rows in sorted(report.quarantined.items()):
        log.info("%s: %d quarantined", source, rows)
    for source, error in sorted(report.errors.items()):
        log.error("%s failed: %s", source, error)
    return 0 if report.ok else 1
