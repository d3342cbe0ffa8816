"""`sessionlake provision [--source NAME] [--dry-run]`: create what the s3-sqs sources need in AWS.

For every s3-sqs source of the configuration (or those named): its SQS queue with a dead-letter queue
and a redrive policy, the SNS topic its YAML names (`s3_sqs.sns_topic`) with the queue's subscription,
the bucket's event notification with the source's `prefix` and `suffix` filters, and the queue (or
topic) policy that lets S3 send to it. Idempotent: a second run changes nothing. `--dry-run` reads the
account and prints what would change. Credentials and region come from the environment as for boto3;
SESSIONLAKE_AWS_ENDPOINT (or the local stack's moto) is the endpoint.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sessionlake.core.errors import ConfigurationError
from sessionlake.core.settings import Settings


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    helptext = "create the s3-sqs sources' queues and notifications in AWS"
    parser = subparsers.add_parser("provision", help=helptext, description=__doc__)
    parser.add_argument("--source", action="append", metavar="NAME", help="only this source (repeatable)")
    parser.add_argument("--config-dir", type=Path, help="directory of source YAML files (default: shipped)")
    parser.add_argument("--dry-run", action="store_true", help="print what would change; change nothing")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from sessionlake.ingest.config import load_sources
    from sessionlake.ingest.readers.s3_sqs.provision import Notification, provision

    wanted = []
    for source in load_sources(args.config_dir, args.source):
        s3 = source.s3_sqs
        if s3 is None:
            continue
        if not s3.bucket:
            raise ConfigurationError(f"{source.name}: s3_sqs.bucket is needed to provision its notification")
        wanted.append(
            Notification(
                s3.bucket,
                s3.queue,
                s3.sns_topic,
                s3.prefix,
                s3.suffix,
                s3.max_receive_count,
                expire_after_days=settings.privacy.bronze_retention_days,
            )
        )
    if not wanted:
        raise ConfigurationError("no s3-sqs source to provision")
    changes = provision(settings, wanted, dry_run=args.dry_run)
    verb = "would" if args.dry_run else "did"
    for change in changes:
        print(f"{verb}: {change}")
    print(f"{len(wanted)} source(s): {len(changes) or 'no'} change(s)" + (" (dry run)" if args.dry_run else ""))
    return 0
