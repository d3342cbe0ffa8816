"""The s3-sqs source (jvm/s3-sqs-source, docs/s3-sqs-source.md) reading a source's log files line by line."""

from __future__ import annotations

import os

import boto3
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ingest.config import SourceConfig
from ingest.readers import s3_sqs
from sessionlake.settings import Settings

# The source coordinates every S3 bronze table keeps (docs/contracts.md): the source's lineage columns.
METADATA = s3_sqs.FILE_COLUMNS


def aws_endpoint(settings: Settings) -> str | None:
    """The endpoint to use: the override or the local moto, unless SESSIONLAKE_REAL_AWS says real AWS."""
    if settings.aws_endpoint_override or not os.environ.get("SESSIONLAKE_REAL_AWS"):
        return settings.aws_endpoint
    return None


def sqs_client(settings: Settings):  # noqa: ANN201 - boto3 clients are dynamically typed
    return boto3.client("sqs", endpoint_url=aws_endpoint(settings), region_name=settings.aws_region)


def queue_url(settings: Settings, queue: str) -> str:
    return sqs_client(settings).get_queue_url(QueueName=queue)["QueueUrl"]


def options(settings: Settings, source: SourceConfig) -> dict[str, str]:
    s3 = source.s3_sqs
    opts = {
        "queueUrl": queue_url(settings, s3.queue),
        "fileFormat": "text",
        "region": settings.aws_region,
        **s3.extra,
    }
    endpoint = aws_endpoint(settings)
    if endpoint:
        opts["endpoint"] = endpoint
    if s3.max_files_per_trigger:
        opts["maxFilesPerTrigger"] = str(s3.max_files_per_trigger)
    return opts


def read(spark: SparkSession, settings: Settings, source: SourceConfig) -> DataFrame:
    """The stream as the common envelope: `_value`, `_raw_bytes`, `_coordinates` and METADATA."""
    s3_sqs.require(spark)
    stream = spark.readStream.format("s3-sqs").options(**options(settings, source)).load()
    return stream.select(
        F.col("value").alias("_value"),
        F.col("value").cast("binary").alias("_raw_bytes"),
        F.to_json(F.struct(F.col("_file_path").alias("file"))).alias("_coordinates"),
        *[F.col(f.name) for f in METADATA.fields],
    )
