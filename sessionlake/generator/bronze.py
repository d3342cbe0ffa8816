"""The bronze tables as ingest creates them, for dbt work on a lake that ingest has not filled
(development, dbt-only tests): created by ingest's own preparation of the shipped sources, so their
schemas, partitioning and properties are exactly ingest's, and rows appended as one ingest batch."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from pyspark.sql import SparkSession

from sessionlake.core.settings import Settings
from sessionlake.ingest.config import load_sources
from sessionlake.ingest.prepare import prepare
from sessionlake.ingest.tables import BRONZE


def create_bronze_tables(spark: SparkSession, settings: Settings) -> None:
    """Create (or evolve) every bronze table of the shipped sources, and bronze.quarantine, as ingest does
    at start."""
    prepare(spark, settings, load_sources())


def append_bronze(
    spark: SparkSession,
    table: str,
    records: Iterable[Mapping[str, Any]],
    ingested_at: dt.datetime | None = None,
    batch_id: int = 0,
) -> None:
    """Append payload records (dicts of payload fields; times as datetimes) as one ingest batch."""
    ingested_at = ingested_at or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    name = f"{BRONZE}.{table}"
    schema = spark.table(name).schema
    rows = [
        {
            **dict.fromkeys(schema.fieldNames()),
            **record,
            "_ingested_at": ingested_at,
            "_batch_id": batch_id,
            "_ingest_date": ingested_at.date(),
        }
        for record in records
    ]
    frame = spark.createDataFrame([tuple(r[n] for n in schema.fieldNames()) for r in rows], schema)
    frame.write.format("delta").mode("append").saveAsTable(name)
