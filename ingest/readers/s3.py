"""The s3-sqs source (jvm/s3-sqs-source, docs/s3-sqs-source.md) reading a source's log files line by line."""

from __future__ import annotations

from typing import Any

import boto3
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from sessionlake.core import storage
from sessionlake.core.settings import Settings
from sessionlake.ingest.config import SourceConfig
from sessionlake.ingest.readers import s3_sqs
from sessionlake.ingest.readers.base import PurgeError, Reader, empty_progress
from sessionlake.ingest.readers.s3_sqs import ledger

# The source coordinates every S3 bronze table keeps (docs/contracts.md): the source's lineage columns.
METADATA = s3_sqs.FILE_COLUMNS


def sqs_client(settings: Settings):  # noqa: ANN201 - boto3 clients are dynamically typed
    return boto3.client("sqs", endpoint_url=settings.aws_endpoint, region_name=settings.aws_region)


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
    endpoint = settings.aws_endpoint
    if endpoint:
        opts["endpoint"] = endpoint
    if s3.max_files_per_trigger:
        opts["maxFilesPerTrigger"] = str(s3.max_files_per_trigger)
    # Only objects of the source's bucket (and under its prefix) are read; an announced object elsewhere is
    # acknowledged unread and counted in the source's `filteredFiles` metric.
    if s3.bucket:
        opts["bucket"] = s3.bucket
    if s3.prefix:
        opts["prefix"] = s3.prefix
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


def s3_sqs_metrics(metrics: dict[str, str] | None) -> dict[str, int | float | None]:
    """The s3-sqs source's metrics in a batch's progress (`sources[].metrics`) as metrics columns."""
    metrics = metrics or {}

    def number(name: str, kind: type) -> int | float | None:
        value = metrics.get(name)
        return kind(value) if value not in (None, "") else None

    return {
        "sqs_backlog": number("backlog", int),
        "s3_files": number("batchFiles", int),
        "s3_bytes": number("batchBytes", int),
        "discovery_latency_p50_ms": number("discoveryLatencyP50Ms", float),
        "discovery_latency_max_ms": number("discoveryLatencyMaxMs", float),
    }


class S3SqsReader(Reader):
    kind = "s3-sqs"

    metadata = METADATA

    def read(self, spark: SparkSession, settings: Settings, source: SourceConfig) -> DataFrame:
        return read(spark, settings, source)

    def progress(self, sources: list[dict[str, Any]]) -> dict[str, int | float | None]:
        return empty_progress() | s3_sqs_metrics(sources[0].get("metrics") if sources else None)

    def file_ledger(self, spark: SparkSession, checkpoint: str) -> DataFrame:
        return ledger.ledger(spark, checkpoint)

    def register_views(self, spark: SparkSession, source: str, checkpoint: str) -> None:
        ledger.register_view(spark, source, checkpoint)

    def raw_locations(self, source: SourceConfig) -> list[str]:
        return [f"s3://{source.s3_sqs.bucket}/{source.s3_sqs.prefix}"] if source.s3_sqs.bucket else []

    def purge_committed(self, spark: SparkSession, settings: Settings, source: SourceConfig) -> str | None:
        """Delete every object the source's ledger logged as read in a committed batch, or skipped as a
        duplicate of one: the version read (a versioned bucket), or the key while its ETag is the one read
        (an object overwritten since, not read yet, stays)."""
        from botocore.exceptions import ClientError

        from sessionlake.ingest.readers.s3_sqs.provision import client

        rows = (
            ledger.ledger(spark, storage.join(settings.checkpoints, source.name))
            .where("committed or skipped_reason = 'duplicate'")
            .select("bucket", "key", "etag", "version_id")
            .distinct()
            .collect()
        )
        if not rows:
            return None
        s3, deleted = client(settings, "s3"), 0
        for row in rows:
            try:
                if row["version_id"]:
                    s3.delete_object(Bucket=row["bucket"], Key=row["key"], VersionId=row["version_id"])
                    deleted += 1
                elif s3.head_object(Bucket=row["bucket"], Key=row["key"])["ETag"].strip('"') == (
                    row["etag"] or ""
                ).strip('"'):
                    s3.delete_object(Bucket=row["bucket"], Key=row["key"])
                    deleted += 1
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NoSuchVersion"):
                    continue  # gone already: a lifecycle rule, cleanSource, an earlier forget
                raise PurgeError(f"deleting s3://{row['bucket']}/{row['key']}: {exc}") from None
        return f"{deleted} object(s) read in committed batches deleted"
