"""The erasure audit table: what was erased, when, and how much; never who."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pyspark.sql import SparkSession

SCHEMA = (
    "request_id string, requested_at timestamp, completed_at timestamp, rows_deleted map<string,bigint>,"
    " documents_deleted bigint, keys_destroyed bigint, tables_purged array<string>, history_purged boolean"
)


@dataclass(frozen=True)
class AuditRow:
    """One completed erasure run. No PII and no pseudonymous key: the request id links it to the ticket."""

    request_id: str
    requested_at: dt.datetime
    completed_at: dt.datetime
    rows_deleted: dict[str, int]
    documents_deleted: int
    keys_destroyed: int
    tables_purged: list[str]
    history_purged: bool


def record(spark: SparkSession, table: str, row: AuditRow) -> None:
    """Append the row to the audit table (created on first use)."""
    spark.sql(f"create database if not exists {table.split('.', 1)[0]}")
    spark.sql(f"create table if not exists {table} ({SCHEMA}) using delta")
    values = (
        row.request_id,
        row.requested_at,
        row.completed_at,
        row.rows_deleted,
        row.documents_deleted,
        row.keys_destroyed,
        row.tables_purged,
        row.history_purged,
    )
    spark.createDataFrame([values], SCHEMA).write.format("delta").mode("append").saveAsTable(table)
