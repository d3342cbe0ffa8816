"""`sessionlake retention`: delete bronze rows (raw PII) older than the retention period and purge them
from every table version; run it daily."""

from __future__ import annotations

import argparse
import json

from sessionlake.core.settings import Settings


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("retention", help="bronze retention of raw PII", description=__doc__)
    parser.add_argument(
        "--days", type=int, help="keep this many days of bronze (default: SESSIONLAKE_BRONZE_RETENTION_DAYS or 7)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from sessionlake.core.spark import get_session
    from sessionlake.privacy import apply_retention

    report = apply_retention(settings, get_session(settings, "sessionlake-retention"), days=args.days)
    print(
        json.dumps(
            {
                "days": report.days,
                "rows_deleted": report.rows_deleted,
                "kept_back": report.kept_back,
                "forgotten_rows_deleted": report.forgotten_rows_deleted,
                "history_purged": report.history_purged,
            }
        )
    )
    return 0
