"""`sessionlake` command line: one subcommand per module in sessionlake/app/commands/."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from sessionlake.core import logs
from sessionlake.core.errors import ExitCode, SessionlakeError
from sessionlake.core.local_env import prepare_local_env
from sessionlake.core.settings import load

# Each module exposes add_parser(subparsers) and sets `func(args, settings) -> int` on its parser.
COMMANDS = (
    "stack",
    "provision",
    "generate",
    "ingest",
    "build",
    "export",
    "index",
    "run",
    "up",
    "demo",
    "status",
    "sql",
    "forget",
    "retention",
    "rotate_master_key",
    "add_source",
    "check",
    "docs",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sessionlake", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"sessionlake.app.commands.{name}").add_parser(subparsers)
    args = parser.parse_args(argv)
    logs.configure(args.verbose)
    try:
        settings = load()
        prepare_local_env(settings)
        return int(args.func(args, settings))
    except SessionlakeError as exc:
        # One line a person can act on; the exit code says which kind (docs/configuration.md).
        print(f"sessionlake {args.command}: error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        return 130
    except Exception:
        logging.getLogger("sessionlake").exception("sessionlake %s: unexpected error (a bug)", args.command)
        return int(ExitCode.INTERNAL)


if __name__ == "__main__":
    sys.exit(main())
