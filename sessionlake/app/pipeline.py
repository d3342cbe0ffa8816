"""One pass of the whole pipeline: ingest what has arrived, build silver and gold, export changed sessions."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from pyspark.sql import SparkSession

from sessionlake.core.errors import ConfigurationError, summary
from sessionlake.core.logs import one_line
from sessionlake.core.settings import Settings
from sessionlake.exporters.runner import ExportReport, export
from sessionlake.ingest.runner import IngestReport
from sessionlake.ingest.runner import run as ingest
from sessionlake.transform import BuildResult, build

log = logging.getLogger(__name__)


@dataclass
class CycleReport:
    ingest: IngestReport
    build: BuildResult
    export: ExportReport | None  # None when the export failed
    seconds: float
    failures: list[str] = field(default_factory=list)  # one line per failed source, build node, export


def stage_failures(ingested: IngestReport, built: BuildResult, export_error: str | None) -> list[str]:
    """What failed in a pass, one line each: every failed source, the build's failed nodes, the export."""
    failures = [f"ingest {source}: {error}" for source, error in sorted(ingested.errors.items())]
    if not built.success:
        failures += [f"build: {failure}" for failure in built.failures] or ["build: failed"]
    if export_error is not None:
        failures.append(f"export: {export_error}")
    return [one_line(failure) for failure in failures]


def run_cycle(settings: Settings, spark: SparkSession) -> CycleReport:
    """Ingest (available now) -> dbt build -> export, in one Spark application.

    Every stage runs even when an earlier one failed: what the other sources brought still reaches gold,
    and the exporter publishes what gold has committed (a failed build leaves every table at a committed
    version). `failures` says what failed; `sessionlake run` then exits 1. A configuration error is raised.
    """
    started = time.monotonic()
    ingested = ingest(settings, spark, once=True)
    built = build(settings, spark)
    exported, export_error = None, None
    try:
        exported = export(settings, spark, once=True)
    except ConfigurationError:
        raise
    except Exception as exc:  # the engine down or refusing: reported, the next pass catches up from the cursor
        log.exception("export failed")
        export_error = summary(exc)
    failures = stage_failures(ingested, built, export_error)
    return CycleReport(ingested, built, exported, time.monotonic() - started, failures)


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
