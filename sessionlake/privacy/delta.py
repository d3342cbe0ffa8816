"""Delta operations of erasure and retention: deletes that log no PII, retried on conflicts, and purges
of every older table version's files."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pyspark.sql import SparkSession

log = logging.getLogger(__name__)
T = TypeVar("T")

_RETENTION_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"


@dataclass(frozen=True)
class Table:
    name: str  # schema.table
    columns: frozenset[str]

    @property
    def schema(self) -> str:
        return self.name.split(".", 1)[0]


def delta_tables(spark: SparkSession, schema: str) -> list[Table]:
    """The Delta tables of a schema (views and other formats skipped), with their lower-case column names."""
    if not spark.catalog.databaseExists(schema):
        return []
    tables = []
    for entry in spark.catalog.listTables(schema):
        if entry.tableType == "VIEW" or entry.isTemporary:
            continue
        name = f"{schema}.{entry.name}"
        provider = spark.sql(f"describe detail {name}").first()["format"]
        if provider == "delta":
            tables.append(Table(name, frozenset(c.lower() for c in spark.table(name).columns)))
    return tables


def is_conflict(exc: BaseException) -> bool:
    """A Delta commit conflict with a concurrent writer (ConcurrentAppendException and friends)."""
    return "Concurrent" in type(exc).__name__ or "DELTA_CONCURRENT" in str(exc)


def with_retries(action: Callable[[], T], retries: int, what: str) -> T:
    """Run `action`, retrying Delta commit conflicts with exponential backoff."""
    delay = 0.5
    for attempt in range(retries + 1):
        try:
            return action()
        except Exception as exc:
            if attempt == retries or not is_conflict(exc):
                raise
            log.warning("%s: concurrent commit, retry %d/%d in %.1fs", what, attempt + 1, retries, delay)
            time.sleep(delay)
            delay = min(delay * 2, 30.0)
    raise AssertionError("unreachable")


def merge_delete(spark: SparkSession, table: str, victims_view: str, condition: str, retries: int) -> int:
    """Delete the rows of `table` matching `victims_view` on `condition` (over aliases t and v).

    A MERGE, not a DELETE: Delta logs a DELETE's predicate with its literal values, while a MERGE logs
    only `condition`, so no identifier of the player lands in the transaction log."""
    statement = f"merge into {table} as t using {victims_view} as v on {condition} when matched then delete"
    row = with_retries(lambda: spark.sql(statement).first(), retries, f"delete from {table}")
    return int(row["num_deleted_rows"]) if row is not None else 0


def purge_history(spark: SparkSession, table: str, writers_paused: bool, retries: int) -> bool:
    """Physically delete the files that only older versions of `table` use; True when all of them went.

    Deletion vectors are purged first (a delete behind a deletion vector leaves the row in its file).
    `VACUUM ... LITE RETAIN 0 HOURS` deletes exactly the files the log marks as removed, never a file a
    concurrent writer has written but not yet committed, so it is safe while ingest appends. When LITE
    cannot run (log entries already cleaned up), FULL with zero retention is used only if no writer can
    be in flight (`writers_paused`); else FULL keeps an hour for in-flight files and this returns False.
    """
    properties = {r["key"]: r["value"] for r in spark.sql(f"show tblproperties {table}").collect()}
    if properties.get("delta.enableDeletionVectors", "false").lower() == "true":
        with_retries(lambda: spark.sql(f"reorg table {table} apply (purge)").collect(), retries, f"purge {table}")
    previous = spark.conf.get(_RETENTION_CHECK, "true")
    spark.conf.set(_RETENTION_CHECK, "false")
    try:
        try:
            spark.sql(f"vacuum {table} lite retain 0 hours").collect()
            return True
        except Exception as exc:
            if "DELTA_CANNOT_VACUUM_LITE" not in str(exc):
                raise
        hours = 0 if writers_paused else 1
        log.warning("%s: VACUUM LITE impossible (log cleaned up); VACUUM FULL RETAIN %d HOURS", table, hours)
        spark.sql(f"vacuum {table} retain {hours} hours").collect()
        return writers_paused
    finally:
        spark.conf.set(_RETENTION_CHECK, previous)
