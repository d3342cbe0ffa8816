"""Bad records, with the bytes as received, where they came from and why they were refused."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F


def quarantine_rows(frame: DataFrame, source: str, reason: Column) -> DataFrame:
    """`frame` (with `_raw_bytes` and `_coordinates`) as bronze.quarantine's columns, less the batch's
    ingest columns (`ingest.writers.bronze` adds them)."""
    return frame.select(
        F.lit(source).alias("_source"),
        reason.alias("_reason"),
        F.col("_raw_bytes").alias("_raw"),
        F.col("_coordinates"),
    )
