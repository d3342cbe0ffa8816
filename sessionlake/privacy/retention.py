"""Bronze retention of raw PII: bronze rows older than N days (default 7) are deleted and purged from
every table version. Silver, gold and the vault keep what was built from them."""

from __future__ import annotations

from dataclasses import dataclass, field

from pyspark.sql import SparkSession

from sessionlake.privacy.config import PrivacyConfig
from sessionlake.privacy.delta import delta_tables, purge_history, with_retries


@dataclass(frozen=True)
class RetentionReport:
    days: int
    rows_deleted: dict[str, int] = field(default_factory=dict)
    history_purged: bool = True


def apply_retention(
    spark: SparkSession, days: int | None = None, config: PrivacyConfig | None = None
) -> RetentionReport:
    """Delete every bronze row ingested more than `days` days ago (whole `_ingest_date` partitions, a
    metadata-only delete) and vacuum, safely beside a running ingest."""
    config = config or PrivacyConfig()
    days = config.bronze_retention_days if days is None else days
    if days < 1:
        raise ValueError(f"bronze retention must be at least 1 day, got {days}")
    rows: dict[str, int] = {}
    purged = True
    for table in delta_tables(spark, "bronze"):
        if "_ingest_date" not in table.columns:
            continue
        statement = f"delete from {table.name} where _ingest_date < date_sub(current_date(), {days})"
        row = with_retries(lambda s=statement: spark.sql(s).first(), config.conflict_retries, statement)
        rows[table.name] = int(row["num_affected_rows"]) if row is not None else 0
        purged &= purge_history(spark, table.name, writers_paused=False, retries=config.conflict_retries)
    return RetentionReport(days=days, rows_deleted=rows, history_purged=purged)
