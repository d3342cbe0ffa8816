"""`sessionlake export [--once | --every 30s] [--reindex]`: push gold.sessions changes to the search index."""

from __future__ import annotations

import argparse
import logging
import re

from sessionlake.settings import Settings

log = logging.getLogger(__name__)
_UNITS = {"s": 1, "m": 60, "h": 3600}


def interval(text: str) -> float:
    """Seconds in '30s', '5m', '1h' or a bare number of seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if not match or float(match[1]) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not an interval like 30s, 5m or 1h")
    return float(match[1]) * _UNITS[match[2] or "s"]


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from exporters.runner import export
    from sessionlake.spark import get_session

    spark = get_session(settings, "sessionlake-export")
    try:
        report = export(settings, spark, once=args.every is None, every=args.every or 0, reindex=args.reindex)
    except KeyboardInterrupt:
        return 130
    finally:
        spark.stop()
    print(
        f"versions read {report.versions_read}, upserted {report.upserted}, deleted {report.deleted}, "
        f"already applied {report.already_applied}, dead-lettered {report.dead_lettered}, "
        f"snapshots {report.snapshots}, cursor at {report.last_version}"
    )
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export", help="export gold.sessions changes to Elasticsearch/OpenSearch", description=__doc__
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="export what is committed now, then exit (default)")
    mode.add_argument("--every", type=interval, metavar="INTERVAL", help="keep exporting, e.g. every 30s")
    parser.add_argument("--reindex", action="store_true", help="drop the index and cursor, export a snapshot")
    parser.set_defaults(func=_run)
