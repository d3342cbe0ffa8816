"""Delta helpers of bronze retention: the Delta tables of a schema, and retries on commit conflicts."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import delta.exceptions.captured  # noqa: F401 - PySpark then raises Delta's own conflict types
from delta import exceptions as delta_errors
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


# Delta's error conditions for commit conflicts (DELTA_CONCURRENT_APPEND, _DELETE_READ, _WRITE, ...): all a
# dbt run-operation hands back is the failure's text, which starts with the condition.
CONFLICT_CONDITION = "DELTA_CONCURRENT_"
# Delta's Python conflict types (delta.exceptions; they share no Python base class).
CONFLICT_TYPES = tuple(getattr(delta_errors, name) for name in delta_errors.__all__)


def is_conflict(exc: BaseException) -> bool:
    """A Delta commit conflict with a concurrent writer: one of Delta's own conflict types
    (ConcurrentAppendException and friends), raised or as the cause of what was raised."""
    seen: set[int] = set()
    error: BaseException | None = exc
    while error is not None and id(error) not in seen:
        if isinstance(error, CONFLICT_TYPES):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def is_conflict_message(text: str) -> bool:
    """A commit conflict, from the text of a failure (dbt's result of a run-operation)."""
    return CONFLICT_CONDITION in text


def with_retries(action: Callable[[], T], retries: int, what: str, initial_delay: float = 0.5) -> T:
    """Run `action`, retrying Delta commit conflicts with exponential backoff."""
    delay = initial_delay
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
