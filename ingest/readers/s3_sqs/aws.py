"""boto3 clients built from the source's options (region, non-AWS endpoint); credentials from the default chain."""

from __future__ import annotations

import boto3
from botocore.config import Config

from ingest.readers.s3_sqs.options import SourceOptions

_CONFIG = Config(retries={"max_attempts": 10, "mode": "standard"}, max_pool_connections=16)


def client(service: str, options: SourceOptions):  # noqa: ANN201 - boto3 clients are dynamically typed
    return boto3.session.Session().client(
        service, region_name=options.region, endpoint_url=options.endpoint, config=_CONFIG
    )
