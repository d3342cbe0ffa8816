"""The s3-sqs source (jvm/s3-sqs-source, docs/s3-sqs-source.md) reading a source's log files line by line."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import ClientError
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

    def purge_committed(
        self, spark: SparkSession, settings: Settings, source: SourceConfig, sources: list[SourceConfig]
    ) -> str | None:
        """Delete every object the source's ledger logged as read in a committed batch, or skipped as a
        duplicate of one: the version read, or, without a version id, every version of the key whose ETag is
        one read (in an unversioned bucket: the key while its ETag is the one read; an object overwritten
        since, not read yet, stays). Objects another source reads from the same bucket are its own business:
        buckets are not shared between sources here (each source's ledger names its own files)."""
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
        s3 = client(settings, "s3")
        read: dict[tuple[str, str], set[str]] = {}
        versions: list[tuple[str, str, str]] = []
        for row in rows:
            if row["version_id"]:
                versions.append((row["bucket"], row["key"], row["version_id"]))
            else:
                read.setdefault((row["bucket"], row["key"]), set()).add((row["etag"] or "").strip('"'))
        versioned = {b: _versioned(s3, b) for b in {bucket for bucket, _ in read}}
        for (bucket, key), etags in read.items():
            versions += _versions_read(s3, bucket, key, etags, versioned[bucket])
        for bucket, key, version in versions:
            try:
                if version:
                    s3.delete_object(Bucket=bucket, Key=key, VersionId=version)
                else:
                    s3.delete_object(Bucket=bucket, Key=key)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NoSuchVersion"):
                    raise PurgeError(f"deleting s3://{bucket}/{key}: {exc}") from None
        return f"{len(versions)} object version(s) read in committed batches deleted"


def _versioned(s3: Any, bucket: str) -> bool:
    try:
        return s3.get_bucket_versioning(Bucket=bucket).get("Status") in ("Enabled", "Suspended")
    except ClientError as exc:
        raise PurgeError(f"reading the versioning of s3://{bucket}: {exc}") from None


def _versions_read(s3: Any, bucket: str, key: str, etags: set[str], versioned: bool) -> list[tuple[str, str, str]]:
    """(bucket, key, version id or '') of the stored versions of `key` whose ETag is one ingest read."""
    try:
        if versioned:
            pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key)
            return [
                (bucket, key, v["VersionId"])
                for page in pages
                for v in page.get("Versions", [])
                if v["Key"] == key and v["ETag"].strip('"') in etags
            ]
        current = s3.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NoSuchBucket"):
            return []  # gone already: a lifecycle rule, cleanSource, an earlier forget
        raise PurgeError(f"looking up s3://{bucket}/{key}: {exc}") from None
    return [(bucket, key, "")] if current in etags else []
