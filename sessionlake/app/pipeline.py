"""One pass of the whole pipeline: ingest what has arrived, build silver and gold, export changed sessions."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from pyspark.sql import SparkSession

from sessionlake.core.settings import Settings
from sessionlake.exporters.runner import export
from sessionlake.ingest.runner import run as ingest
from sessionlake.transform import build


@dataclass
class CycleReport:
    ingest: Any
    build: Any
    export: Any
    seconds: float


def run_cycle(settings: Settings, spark: SparkSession) -> CycleReport:
    """Ingest (available now) -> dbt build -> export, in one Spark application."""
    started = time.monotonic()
    ingested = ingest(settings, spark, once=True)
    built = build(settings, spark)
    if not built.success:
        raise RuntimeError(f"dbt build failed: {built}")
    exported = export(settings, spark, once=True)
    return CycleReport(ingest=ingested, build=built, export=exported, seconds=time.monotonic() - started)


def layer_counts(spark: SparkSession) -> dict[str, int]:
    """Rows per table in the bronze, silver and gold schemas."""
    counts = {}
    for schema in ("bronze", "silver", "gold"):
        if not spark.catalog.databaseExists(schema):
            continue
        for table in spark.catalog.listTables(schema):
            if table.isTemporary or table.tableType == "VIEW":
                continue
            name = f"{schema}.{table.name}"
            counts[name] = spark.table(name).count()
    return counts
