"""`sessionlake run`: one pass of the whole pipeline (ingest what has arrived -> dbt build -> export).

For a scheduler (cron, Airflow) that prefers one short job to three long-running ones. Every stage runs
even when an earlier one failed; the pass exits 1 when any failed, naming each failure on stderr.
"""

from __future__ import annotations

import argparse
import sys

from sessionlake.core.errors import ExitCode
from sessionlake.core.settings import Settings


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from sessionlake.app.pipeline import run_cycle  # dbt and Spark: imported by the commands that use them
    from sessionlake.core.spark import get_session

    cycle = run_cycle(settings, get_session(settings, "sessionlake-run"))
    print(f"ingest: {cycle.ingest}")
    print(f"build:  {cycle.build}")
    print(f"export: {cycle.export}")
    print(f"pass took {cycle.seconds:.0f}s")
    for failure in cycle.failures:
        print(f"FAILED {failure}", file=sys.stderr)
    return ExitCode.FAILED if cycle.failures else ExitCode.OK


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="one pass: ingest, build, export", description=__doc__)
    parser.set_defaults(func=_run)
