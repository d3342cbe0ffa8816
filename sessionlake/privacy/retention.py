"""Bronze retention of raw PII: bronze rows older than N days (default 7) are deleted, so are bronze rows
of forgotten players and sessions (late data that arrived after an erasure), and both are purged from
every table version. Silver, gold and the vault keep what was built from the old rows."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from pyspark.sql import SparkSession

from sessionlake.core.errors import InputError
from sessionlake.core.settings import Settings
from sessionlake.privacy.config import PrivacyConfig
from sessionlake.privacy.delta import delta_tables, with_retries
from sessionlake.privacy.operations import OperationError, run_operation

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetentionReport:
    days: int
    rows_deleted: dict[str, int] = field(default_factory=dict)  # older than the retention
    kept_back: dict[str, int] = field(default_factory=dict)  # older, but not yet processed by every model
    forgotten_rows_deleted: dict[str, int] = field(default_factory=dict)  # of forgotten players and sessions
    history_purged: bool = True


def require_hash_secret(settings: Settings, spark: SparkSession) -> None:
    """Fail before anything is deleted when the session cannot compute pseudonymous keys (no hash secret,
    or too short): erasing forgotten players would otherwise match nothing and report success."""
    run_operation(settings, spark, "assert_pii_secret_set", {}, 0)


def apply_retention(
    settings: Settings, spark: SparkSession, days: int | None = None, config: PrivacyConfig | None = None
) -> RetentionReport:
    """Delete every bronze row ingested more than `days` days ago that every model reading its table has
    processed (bronze_processed_bounds; the rest is kept back and reported), then the bronze rows of
    forgotten players and sessions, and vacuum (the erase_forgotten run-operation), safely beside a
    running ingest."""
    config = config or PrivacyConfig.from_settings(settings)
    days = config.bronze_retention_days if days is None else days
    if days < 1:
        raise InputError(f"bronze retention must be at least 1 day, got {days}")
    require_hash_secret(settings, spark)
    bounds = run_operation(settings, spark, "bronze_processed_bounds", {}, 0) or {}
    rows: dict[str, int] = {}
    kept: dict[str, int] = {}
    for table in delta_tables(spark, "bronze"):
        if "_ingest_date" not in table.columns:
            continue
        old = f"_ingest_date < date_sub(current_date(), {days})"
        condition = old
        if table.name in bounds:  # rows the models have not processed yet stay, however old
            bound = bounds[table.name]
            condition = f"{old} and _ingested_at < timestamp'{bound}'" if bound else "false"
        statement = f"delete from {table.name} where {condition}"
        row = with_retries(lambda s=statement: spark.sql(s).first(), config.conflict_retries, statement)
        rows[table.name] = int(row["num_affected_rows"]) if row is not None else 0
        if table.name in bounds:
            kept[table.name] = spark.sql(f"select count(*) from {table.name} where {old}").first()[0]
            if kept[table.name]:
                log.warning(
                    "%s: kept %d rows older than %d days that not every model has processed yet (builds behind?)",
                    table.name,
                    kept[table.name],
                    days,
                )
    erased = run_operation(settings, spark, "erase_forgotten", {"schemas": ["bronze"]}, config.conflict_retries)
    if erased is None:
        raise OperationError("erase_forgotten logged no report")
    return RetentionReport(
        days=days,
        rows_deleted=rows,
        kept_back=kept,
        forgotten_rows_deleted=erased["rows_deleted"],
        history_purged=erased["history_purged"],
    )
