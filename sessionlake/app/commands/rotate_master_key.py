"""`sessionlake rotate-master-key`: re-wrap every player's data key with a new master key and purge the
old wrapped keys from the table's history (docs/pii.md, "Rotating the master key").

Set SESSIONLAKE_PII_NEXT_MASTER_KEY to the new key (hex of 16, 24 or 32 bytes) beside the current
SESSIONLAKE_PII_MASTER_KEY; afterwards make the new key SESSIONLAKE_PII_MASTER_KEY everywhere before the
next build. Safe to run again after a failure."""

from __future__ import annotations

import argparse
import json
import sys

from sessionlake.core.settings import Settings


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "rotate-master-key",
        help="re-wrap the PII data keys with a new master key",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from sessionlake.core.spark import get_session
    from sessionlake.privacy.config import master_key
    from sessionlake.privacy.rotation import NEXT_KEY_VARIABLE, rotate_master_key

    master_key(NEXT_KEY_VARIABLE)  # a missing or malformed key fails before Spark starts
    report = rotate_master_key(settings, get_session(settings, "sessionlake-rotate-master-key"))
    print(json.dumps({"keys_rewrapped": report.keys_rewrapped, "history_purged": report.history_purged}))
    print(
        f"now set SESSIONLAKE_PII_MASTER_KEY to the value of {NEXT_KEY_VARIABLE} wherever sessionlake runs,"
        " before the next build",
        file=sys.stderr,
    )
    return 0
