"""`sessionlake stack up|down|status [--cluster] [--only NAME ...]`: the local stack on loopback.

`up --cluster` adds a Spark standalone master, its workers and the Spark Thrift Server; from then on
they are part of the stack: `status` reports them and a plain `up` restarts any that died, until `down`.
"""

from __future__ import annotations

import argparse
import re

from sessionlake import stack
from sessionlake.core.errors import ExitCode
from sessionlake.core.settings import Settings


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "up":
        stack.up(settings, args.only or stack.default_names(settings, cluster=args.cluster))
    elif args.action == "down":
        stack.down(settings, args.only)
    names = args.only or stack.default_names(settings, cluster=args.cluster)
    statuses = [s for s in stack.status(settings) if s.name in names]
    for s in statuses:
        pid = str(s.pid) if s.pid else "-"
        print(f"{s.name:<14} {'running' if s.running else 'stopped':<8} pid={pid:<8} {s.endpoint}  {s.detail}")
    if args.action == "status":
        return ExitCode.OK if all(s.running for s in statuses) else ExitCode.NOT_RUNNING
    return 0


_NAME = re.compile(rf"^({'|'.join(stack.COMPONENTS)}|spark-master|spark-worker-[1-9][0-9]*|thrift)$")


def _component_name(value: str) -> str:
    if not _NAME.match(value):
        raise argparse.ArgumentTypeError(
            f"unknown component {value!r}: {', '.join(stack.COMPONENTS)}, spark-master, spark-worker-N or thrift"
        )
    return value


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("stack", help="start, stop or inspect the local stack", description=__doc__)
    parser.add_argument("action", choices=("up", "down", "status"))
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="also a Spark standalone master, SESSIONLAKE_SPARK_WORKERS workers and the Spark Thrift Server",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        type=_component_name,
        metavar="NAME",
        help=f"only these components ({', '.join(stack.COMPONENTS)}, spark-master, spark-worker-N, thrift)",
    )
    parser.set_defaults(func=_run)
