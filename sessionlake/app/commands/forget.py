"""`sessionlake forget --user-id-from FILE|-`: erase a player everywhere (bronze, silver, gold, vault, index),
destroy their data key, purge old table versions, and record an audit row without PII. The table side is
the dbt run-operation `forget_player`, run in-process with the player's pseudonymous key (docs/pii.md).
Then it deletes from the sources' topics and landing buckets what ingest has committed to bronze (off with
SESSIONLAKE_FORGET_PURGE_RAW=false); the report lists each of those places, what was deleted there and by
when what ingest has not read yet expires there.

Read the raw user id from a file or standard input (`-`), so it stays out of the process list and the
shell history; the positional USER_ID is kept for scripts that cannot do otherwise."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import TextIO

from sessionlake.core.errors import InputError
from sessionlake.core.settings import Settings


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "forget",
        help="right to erasure: remove a player everywhere",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "user_id", nargs="?", help="the player's raw user id (visible in `ps` and shell history: prefer --user-id-from)"
    )
    parser.add_argument(
        "--user-id-from",
        metavar="FILE",
        help="read the raw user id from FILE, or from standard input with `-` (one line; never logged nor stored)",
    )
    parser.add_argument("--request-id", help="id of the erasure request (default: a new UUID), kept in the audit")
    parser.set_defaults(func=run)


def read_user_id(positional: str | None, source: str | None, stdin: TextIO = sys.stdin) -> str:
    """The raw user id from exactly one of the positional argument and `--user-id-from FILE|-`. A file's
    or stdin's one line ending (\\n or \\r\\n) is dropped; nothing else is trimmed, since ids may hold spaces."""
    if (positional is None) == (source is None):
        raise InputError("forget needs the user id either as USER_ID or from --user-id-from FILE|- (exactly one)")
    if source is None:
        text = positional
    elif source == "-":
        text = stdin.read()
    else:
        try:
            with open(source, encoding="utf-8", newline="") as handle:
                text = handle.read()
        except OSError as error:
            raise InputError(f"--user-id-from {source}: cannot read it ({error.strerror})") from None
        except UnicodeDecodeError:
            raise InputError(f"--user-id-from {source}: not UTF-8 text") from None
    if text.endswith("\n"):
        text = text[:-2] if text.endswith("\r\n") else text[:-1]
    if "\n" in text or "\r" in text:
        raise InputError("forget: the user id must be one line (one erasure request per run)")
    if not text.strip():
        raise InputError("forget: the user id is empty or blank")
    return text


def run(args: argparse.Namespace, settings: Settings) -> int:
    from sessionlake.app import raw_copies
    from sessionlake.core.spark import get_session
    from sessionlake.exporters.config import ExportConfig
    from sessionlake.exporters.search import SearchIndex
    from sessionlake.ingest.config import load_sources
    from sessionlake.privacy import forget
    from sessionlake.privacy.erasure import check_request_id

    user_id = read_user_id(args.user_id, args.user_id_from)
    if args.request_id is not None:
        check_request_id(args.request_id)  # before Spark starts
    index = SearchIndex(ExportConfig.from_settings(settings))
    spark = get_session(settings, "sessionlake-forget")
    report = forget(settings, spark, user_id, index, request_id=args.request_id)
    sources, now = load_sources(), datetime.now(UTC)
    if settings.privacy.purge_raw_copies:
        copies = raw_copies.purge(settings, spark, sources, now)
    else:
        copies = raw_copies.unpurged(sources, settings.privacy.bronze_retention_days, now)
    print(
        json.dumps(
            {
                "request_id": report.request_id,
                "rows_deleted": report.rows_deleted,
                "documents_deleted": report.documents_deleted,
                "keys_destroyed": report.keys_destroyed,
                "history_purged": report.history_purged,
                "raw_copies": [copy.as_dict() for copy in copies],
            },
            indent=2,
        )
    )
    return 0
