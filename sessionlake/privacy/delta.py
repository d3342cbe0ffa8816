"""Delta helpers of bronze retention: the Delta tables of a schema, and retries on commit conflicts."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pyspark.sql import SparkSession

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Table:
    name: str  # schema.table
    columns: frozenset[str]


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
