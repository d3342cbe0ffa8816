"""`sessionlake generate`: plan a deterministic workload of the reference domain and deliver it.

`--phase main` sends the Kafka messages and the on-time log files, `--phase late` the log files held
back (run it after main), `--phase all` both in turn. `--truth PATH` writes the gold `sessions` rows
expected once the phases delivered so far (main, or main and late) are through the pipeline.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from pathlib import Path

from sessionlake.core.settings import Settings
from sessionlake.generator import LATE, MAIN, GeneratorConfig, deliver, plan, truth, write_truth
from sessionlake.generator.config import DEFAULT_START
from sessionlake.generator.delivery import DeliveryError
from sessionlake.generator.times import parse_iso

PHASE_CHOICES = {MAIN: [MAIN], LATE: [LATE], "all": [MAIN, LATE]}


def config_from_args(args: argparse.Namespace) -> GeneratorConfig:
    return GeneratorConfig(
        seed=args.seed,
        sessions=args.sessions,
        rate=args.rate,
        duplicate_ratio=args.duplicate_ratio,
        late_ratio=args.late_ratio,
        out_of_order_ratio=args.out_of_order_ratio,
        malformed_ratio=args.malformed_ratio,
        gzip_ratio=args.gzip_ratio,
        start=args.start,
        window_minutes=args.window_minutes,
    )


def _start(text: str) -> datetime:
    """An ISO-8601 time, or `now` (to the minute)."""
    return datetime.now(timezone.utc).replace(second=0, microsecond=0) if text == "now" else parse_iso(text)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    config = config_from_args(args)
    workload = plan(config)
    phases = PHASE_CHOICES[args.phase]
    try:
        for phase in phases:
            print(deliver(workload, settings, phase, rate=config.rate).render())
    except DeliveryError as exc:
        print(f"error: {exc}")
        return 1
    if args.truth:
        delivered = [MAIN] if args.phase == MAIN else [MAIN, LATE]
        rows = truth(workload, delivered)
        write_truth(rows, args.truth)
        print(f"truth: {len(rows)} sessions after phases {', '.join(delivered)} -> {args.truth}")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    defaults = GeneratorConfig()
    parser = subparsers.add_parser("generate", help="send a generated workload to Kafka and S3", description=__doc__)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--sessions", type=int, default=defaults.sessions)
    parser.add_argument("--rate", type=float, default=defaults.rate, help="records per second (0: as fast as possible)")
    parser.add_argument("--duplicate-ratio", type=float, default=defaults.duplicate_ratio)
    parser.add_argument("--late-ratio", type=float, default=defaults.late_ratio, help="share of log files held back")
    parser.add_argument("--out-of-order-ratio", type=float, default=defaults.out_of_order_ratio)
    parser.add_argument(
        "--malformed-ratio", type=float, default=defaults.malformed_ratio, help="extra garbage records per valid one"
    )
    parser.add_argument("--gzip-ratio", type=float, default=defaults.gzip_ratio, help="share of log files gzipped")
    parser.add_argument(
        "--start", type=_start, default=DEFAULT_START, help=f"ISO-8601 time or 'now' (default {DEFAULT_START:%FT%TZ})"
    )
    parser.add_argument("--window-minutes", type=int, default=defaults.window_minutes, help="sessions start within it")
    parser.add_argument("--phase", choices=tuple(PHASE_CHOICES), default="all")
    parser.add_argument("--truth", type=Path, help="write the expected gold sessions rows (JSON lines) here")
    parser.set_defaults(func=_run)
