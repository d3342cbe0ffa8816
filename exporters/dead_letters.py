"""The dead-letter Delta table: changes the search engine rejected for good, with the reason.

Writes are idempotent Delta transactions (txnAppId/txnVersion = the batch's last commit version), so a
batch re-exported after a crash records its rejections once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import types as T

SCHEMA = T.StructType(
    [
        T.StructField("source_table", T.StringType(), False),
        T.StructField("index_name", T.StringType(), False),
        T.StructField("session_id", T.StringType(), True),
        T.StructField("commit_version", T.LongType(), False),
        T.StructField("change_type", T.StringType(), False),
        T.StructField("status", T.IntegerType(), True),
        T.StructField("error_type", T.StringType(), False),
        T.StructField("reason", T.StringType(), False),
        T.StructField("document", T.StringType(), True),
        T.StructField("dead_lettered_at", T.TimestampType(), False),
    ]
)


@dataclass(frozen=True)
class DeadLetter:
    session_id: str | None
    commit_version: int
    change_type: str
    status: int | None  # None: refused before reaching the engine
    error_type: str
    reason: str
    document: Mapping[str, Any] | None


def write(
    spark: SparkSession,
    table: str,
    letters: Sequence[DeadLetter],
    *,
    source_table: str,
    index: str,
    app_id: str,
    txn_version: int,
) -> None:
    """Append the letters once per (app_id, txn_version); a repeated call with the same pair is a no-op."""
    if not letters:
        return
    now = datetime.now(timezone.utc)
    rows = [
        (
            source_table,
            index,
            letter.session_id,
            letter.commit_version,
            letter.change_type,
            letter.status,
            letter.error_type,
            letter.reason,
            None if letter.document is None else json.dumps(dict(letter.document), sort_keys=True),
            now,
        )
        for letter in letters
    ]
    schema_name = table.rsplit(".", 1)[0] if "." in table else None
    if schema_name:
        spark.sql(f"CREATE SCHEMA IF NOT EXISTS {schema_name}")
    (
        spark.createDataFrame(rows, SCHEMA)
        .write.format("delta")
        .mode("append")
        .option("txnAppId", app_id)
        .option("txnVersion", txn_version)
        .saveAsTable(table)
    )
