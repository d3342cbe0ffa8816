"""`sessionlake stack up|down|status [--only NAME ...]`: the local stack on loopback."""

from __future__ import annotations

import argparse

from sessionlake import stack
from sessionlake.core.errors import ExitCode
from sessionlake.core.settings import Settings


def _run(args: argparse.Namespace, settings: Settings) -> int:
    names = args.only or list(stack.COMPONENTS)
    if args.action == "up":
        stack.up(settings, names)
    elif args.action == "down":
        stack.down(settings, names)
    statuses = [s for s in stack.status(settings) if s.name in names]
    for s in statuses:
        pid = str(s.pid) if s.pid else "-"
        print(f"{s.name:<10} {'running' if s.running else 'stopped':<8} pid={pid:<8} {s.endpoint}  {s.detail}")
    if args.action == "status":
        return ExitCode.OK if all(s.running for s in statuses) else ExitCode.NOT_RUNNING
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
