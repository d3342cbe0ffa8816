"""`sessionlake forget USER_ID`: erase a player everywhere (bronze, silver, gold, vault, index), destroy
their data key, purge old table versions, and record an audit row without PII. The table side is the dbt
run-operation `forget_player`, run in-process with the player's pseudonymous key (docs/pii.md)."""

from __future__ import annotations

import argparse
import json

from sessionlake.core.settings import Settings


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("forget", help="right to erasure: remove a player everywhere", description=__doc__)
    parser.add_argument("user_id", help="the player's raw user id (never logged nor stored)")
    parser.add_argument("--request-id", help="id of the erasure request (default: a new UUID), kept in the audit")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from sessionlake.core.spark import get_session
    from sessionlake.exporters.config import ExportConfig
    from sessionlake.exporters.search import SearchIndex
    from sessionlake.privacy import forget

    index = SearchIndex(ExportConfig.from_settings(settings))
    spark = get_session(settings, "sessionlake-forget")
    report = forget(settings, spark, args.user_id, index, request_id=args.request_id)
    print(
        json.dumps(
            {
                "request_id": report.request_id,
                "rows_deleted": report.rows_deleted,
                "documents_deleted": report.documents_deleted,
                "keys_destroyed": report.keys_destroyed,
                "history_purged": report.history_purged,
            },
            indent=2,
        )
    )
    return 0
