"""`sessionlake add-source NAME --kind kafka|s3-sqs --sample FILE`: everything a new service's source needs,
from a sample of its records (newline-delimited JSON): the ingest source YAML with the inferred schema, the
dbt source and staging model with every column documented, PII candidates declared for the team to
confirm, and with --session-metrics a session aggregate registered for gold. It never overwrites a file.

For a source that exists, the sample's new fields are proposed as a diff (--write applies it)."""

from __future__ import annotations

import argparse
from pathlib import Path

from sessionlake.core.settings import REPO_ROOT, Settings
from sessionlake.scaffold.pii import PiiCandidate, pii_candidates
from sessionlake.scaffold.render import TEMPLATES


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "add-source",
        help="scaffold a new source (or propose a schema change) from a sample",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", help="the source and its bronze table, lower_snake_case (e.g. matchmaking_events)")
    parser.add_argument("--sample", type=Path, required=True, help="newline-delimited JSON records of the source")
    parser.add_argument("--kind", choices=sorted(TEMPLATES), help="required for a new source")
    parser.add_argument("--service", help="the dbt source and staging folder (default: NAME before its last _part)")
    parser.add_argument("--topic", help="kafka: the topic (default: NAME with dashes)")
    parser.add_argument("--bucket", help="s3-sqs: the bucket (default: NAME with dashes)")
    parser.add_argument("--queue", help="s3-sqs: the SQS queue announcing its files (default: BUCKET-events)")
    parser.add_argument(
        "--session-metrics", action="store_true", help="also a session aggregate gold.sessions reads (registered)"
    )
    parser.add_argument("--write", action="store_true", help="an existing source: apply the proposed change")
    parser.add_argument("--project-dir", type=Path, default=REPO_ROOT, help=argparse.SUPPRESS)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from sessionlake.core.errors import ConfigurationError
    from sessionlake.scaffold import SourceSpec, new_source, read_sample, schema_change

    root: Path = args.project_dir
    sample = read_sample(args.sample)
    if (root / "ingest" / "sources" / f"{args.name}.yml").exists():
        plan = schema_change(root, args.name, sample, args.sample.name)
        for note in plan.notes:
            print(f"note: {note}")
        if not plan.changes:
            print(f"{args.name}: the sample has no field the source does not declare")
            return 0
        print(plan.diff(), end="")
        _print_pii(plan.pii)
        if args.write:
            for path in plan.apply(root):
                print(f"changed {path}")
        else:
            print("add-source: this is a proposal; --write applies it")
        return 0
    if args.kind is None:
        raise ConfigurationError(f"{args.name} is a new source: --kind kafka or --kind s3-sqs is required")
    spec = SourceSpec(
        name=args.name,
        service=args.service or (args.name.rsplit("_", 1)[0] if "_" in args.name else args.name),
        kind=args.kind,
        sample=sample,
        sample_name=args.sample.name,
        pii=tuple(pii_candidates(sample.fields)),
        location=args.topic or args.bucket or args.name.replace("_", "-"),
        queue=args.queue,
        session_metrics=args.session_metrics,
    )
    plan = new_source(root, spec)
    for path in plan.apply(root):
        print(f"{'changed' if path == 'dbt_project.yml' else 'wrote'} {path}")
    print(f"{sample.records} sample records, {len(sample.fields)} fields")
    for entry in sample.fields:
        for note in entry.notes:
            print(f"note: {entry.name}: {note}")
    _print_pii(plan.pii)
    print("next: review the files, then `sessionlake check` (docs/contributing.md)")
    return 0


def _print_pii(candidates: tuple[PiiCandidate, ...]) -> None:
    for candidate in candidates:
        print(f"PII candidate: {candidate.field} ({candidate.reason}) -> hashed as {candidate.pseudonym}; confirm it")
