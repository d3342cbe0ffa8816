"""`sessionlake export [--once | --every 30s] [--reindex]`: push gold.sessions changes to the search index."""

from __future__ import annotations

import argparse

from sessionlake.core.intervals import parse_interval
from sessionlake.core.settings import Settings


def interval(text: str) -> float:
    """Seconds in '30s', '5m', '1h' or a bare number of seconds."""
    try:
        return parse_interval(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from sessionlake.app.signals import stop_on_signals
    from sessionlake.app.state import StateWriter
    from sessionlake.app.supervisor import EXPORT, ExportStage
    from sessionlake.core.spark import get_session
    from sessionlake.exporters.runner import export

    spark = get_session(settings, "sessionlake-export")
    # A loop records each tick (and each failure, such as the engine being down) where `status` reads it.
    state = StateWriter(settings.home, EXPORT) if args.every is not None else None
    try:
        report = export(
            settings,
            spark,
            once=args.every is None,
            every=args.every or 0,
            reindex=args.reindex,
            stop=stop_on_signals() if args.every is not None else None,
            observer=ExportStage(state, args.every) if state else None,
        )
    except KeyboardInterrupt:
        return 130
    finally:
        if state:
            state.stopped()
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
