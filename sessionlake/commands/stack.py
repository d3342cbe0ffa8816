"""`sessionlake stack up|down|status [--only NAME ...]`: the local stack on loopback."""

from __future__ import annotations

import argparse
import sys

from sessionlake import stack
from sessionlake.settings import Settings


def _run(args: argparse.Namespace, settings: Settings) -> int:
    names = args.only or list(stack.COMPONENTS)
    try:
        if args.action == "up":
            stack.up(settings, names)
        elif args.action == "down":
            stack.down(settings, names)
    except stack.StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    statuses = [s for s in stack.status(settings) if s.name in names]
    for s in statuses:
        pid = str(s.pid) if s.pid else "-"
        print(f"{s.name:<10} {'running' if s.running else 'stopped':<8} pid={pid:<8} {s.endpoint}  {s.detail}")
    if args.action == "status":
        return 0 if all(s.running for s in statuses) else 3
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("stack", help="start, stop or inspect the local stack", description=__doc__)
    parser.add_argument("action", choices=("up", "down", "status"))
    parser.add_argument(
        "--only",
        nargs="+",
        choices=stack.COMPONENTS,
        metavar="NAME",
        help=f"only these components (of {', '.join(stack.COMPONENTS)})",
    )
    parser.set_defaults(func=_run)
