"""Bronze retention of raw PII: bronze rows older than N days (default 7) are deleted, so are bronze rows
of forgotten players and sessions (late data that arrived after an erasure), and both are purged from
every table version. Silver, gold and the vault keep what was built from the old rows."""

from __future__ import annotations

from dataclasses import dataclass, field

from pyspark.sql import SparkSession

from sessionlake.core.errors import InputError
from sessionlake.core.settings import Settings
from sessionlake.privacy.config import PrivacyConfig
from sessionlake.privacy.delta import delta_tables, with_retries
from sessionlake.privacy.operations import OperationError, run_operation


@dataclass(frozen=True)
class RetentionReport:
    days: int
    rows_deleted: dict[str, int] = field(default_factory=dict)  # older than the retention
    forgotten_rows_deleted: dict[str, int] = field(default_factory=dict)  # of forgotten players and sessions
    history_purged: bool = True


def require_hash_secret(settings: Settings, spark: SparkSession) -> None:
    """Fail before anything is deleted when the session cannot compute pseudonymous keys (no hash secret,
    or too short): erasing forgotten players would otherwise match nothing and report success."""
    run_operation(settings, spark, "assert_pii_secret_set", {}, 0)


def apply_retention(
    settings: Settings, spark: SparkSession, days: int | None = None, config: PrivacyConfig | None = None
) -> RetentionReport:
    """Delete every bronze row ingested more than `days` days ago (whole `_ingest_date` partitions, a
    metadata-only delete), then the bronze rows of forgotten players and sessions and vacuum (the
    erase_forgotten run-operation), safely beside a running ingest."""
    config = config or PrivacyConfig.from_settings(settings)
    days = config.bronze_retention_days if days is None else days
    if days < 1:
        raise InputError(f"bronze retention must be at least 1 day, got {days}")
    require_hash_secret(settings, spark)
    rows: dict[str, int] = {}
    for table in delta_tables(spark, "bronze"):
        if "_ingest_date" not in table.columns:
            continue
        statement = f"delete from {table.name} where _ingest_date < date_sub(current_date(), {days})"
        row = with_retries(lambda s=statement: spark.sql(s).first(), config.conflict_retries, statement)
        rows[table.name] = int(row["num_affected_rows"]) if row is not None else 0
    erased = run_operation(settings, spark, "erase_forgotten", {"schemas": ["bronze"]}, config.conflict_retries)
    if erased is None:
        raise OperationError("erase_forgotten logged no report")
    return RetentionReport(
        days=days,
        rows_deleted=rows,
        forgotten_rows_deleted=erased["rows_deleted"],
        history_purged=erased["history_purged"],
    )
