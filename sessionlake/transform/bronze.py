"""The bronze tables dbt reads, with the exact schemas of docs/contracts.md.

Stage 1 (ingest) creates and fills them in production; `create_bronze_tables` lets dbt run on a lake that
ingest has not touched yet (development, tests), and `append_bronze` writes rows the way ingest does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql.types import StructType

from ingest.config import load_sources
from ingest.tables import STATS_COLUMNS, exclude_pii_from_stats, stats_columns
from sessionlake.settings import Settings

PAYLOAD = {
    "session_events": (
        "event_id string, event_type string, event_time timestamp, session_id string, user_id string,"
        " email string, ip_address string, game_id string, region string, client_platform string,"
        " end_reason string"
    ),
    "stream_metrics": (
        "event_id string, event_time timestamp, session_id string, fps double, bitrate_kbps int,"
        " rtt_ms double, packet_loss_pct double, resolution string"
    ),
    "client_logs": (
        "event_id string, log_time timestamp, session_id string, level string, message string,"
        " device_model string, os_version string, ip_address string, crashed boolean"
    ),
    "billing_logs": "event_id string, session_id string, user_id string, billed_minutes int, tier string",
}
METADATA = "_rescued_data string, _raw string, _ingested_at timestamp, _batch_id bigint, _ingest_date date"
KAFKA = (
    "_kafka_key string, _kafka_topic string, _kafka_partition int, _kafka_offset bigint,"
    " _kafka_timestamp timestamp, _kafka_headers array<struct<key:string,value:binary>>"
)
S3 = "_file_path string, _file_size bigint, _file_modification_time timestamp, _file_event_time timestamp"
SOURCE_KIND = {"session_events": KAFKA, "stream_metrics": KAFKA, "client_logs": S3, "billing_logs": S3}


def bronze_schema(table: str) -> StructType:
    return StructType.fromDDL(f"{PAYLOAD[table]}, {METADATA}, {SOURCE_KIND[table]}")


def declared_pii() -> dict[str, tuple[str, ...]]:
    """Bronze table -> the PII fields its ingest source declares (`pii:` in ingest/sources/*.yml)."""
    return {target.table: source.pii for source in load_sources() for target in source.targets}


def create_bronze_tables(spark: SparkSession, settings: Settings) -> None:
    """Create the four bronze Delta tables by path (partitioned by _ingest_date), registered as bronze.<t>,
    with the declared PII fields kept out of the Delta log's file statistics, as ingest creates them."""
    spark.sql("create database if not exists bronze")
    pii = declared_pii()
    for table in PAYLOAD:
        path = settings.bronze_path(table)
        stats = stats_columns(bronze_schema(table), pii[table])
        spark.sql(
            f"create table if not exists bronze.{table} ({PAYLOAD[table]}, {METADATA}, {SOURCE_KIND[table]})"
            f" using delta partitioned by (_ingest_date) location '{path}'"
            f" tblproperties ('{STATS_COLUMNS}' = '{stats}')"
        )
        exclude_pii_from_stats(spark, f"bronze.{table}", bronze_schema(table), pii[table])


def append_bronze(
    spark: SparkSession,
    table: str,
    records: Iterable[Mapping[str, Any]],
    ingested_at: dt.datetime | None = None,
    batch_id: int = 0,
) -> None:
    """Append payload records (dicts of payload fields; times as datetimes) as one ingest batch."""
    ingested_at = ingested_at or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    schema = bronze_schema(table)
    rows = [
        {
            **{name: None for name in schema.fieldNames()},
            **record,
            "_raw": None,
            "_ingested_at": ingested_at,
            "_batch_id": batch_id,
            "_ingest_date": ingested_at.date(),
        }
        for record in records
    ]
    frame = spark.createDataFrame([tuple(r[n] for n in schema.fieldNames()) for r in rows], schema)
    frame.write.format("delta").mode("append").saveAsTable(f"bronze.{table}")
