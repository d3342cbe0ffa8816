"""Bad records, with the bytes as received, where they came from and why they were refused."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from ingest.tables import QUARANTINE_SCHEMA


def quarantine_rows(frame: DataFrame, source: str, reason: Column, batch: DataFrame) -> DataFrame:
    """`frame` (with `_raw_bytes` and `_coordinates`) in the shape of bronze.quarantine; `batch` is the
    batch's one-row table of ingest columns (`ingest.writers.bronze.batch_columns`)."""
    rows = frame.select(
        F.lit(source).alias("_source"),
        reason.alias("_reason"),
        F.col("_raw_bytes").alias("_raw"),
        F.col("_coordinates"),
    )
    return rows.crossJoin(F.broadcast(batch)).select(*QUARANTINE_SCHEMA.fieldNames())
