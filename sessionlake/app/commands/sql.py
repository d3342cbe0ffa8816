"""`sessionlake sql "QUERY"`: an analyst's ad-hoc Spark SQL query against the shared catalog.

The session holds no PII key, and `${...}` in the query is not substituted: ad-hoc SQL reaches no
secret, neither as `'${spark.sessionlake.pii.masterkey}'` nor through `SET`."""

from __future__ import annotations

import argparse

from sessionlake.core.settings import Settings
from sessionlake.core.spark import get_session


def _run(args: argparse.Namespace, settings: Settings) -> int:
    spark = get_session(settings, "sessionlake-sql", pii_keys=False)
    spark.conf.set("spark.sql.variable.substitute", "false")
    spark.sql(args.query).show(args.limit, truncate=False)
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("sql", help="run an ad-hoc Spark SQL query", description=__doc__)
    parser.add_argument("query")
    parser.add_argument("--limit", type=int, default=50, help="rows to show")
    parser.set_defaults(func=_run)
