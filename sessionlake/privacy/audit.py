"""The erasure audit table (pii.erasure_audit): what was erased, when, and how much; never who.

The forget_player run-operation appends the row (macros/privacy/); `sessionlake forget` completes it with
how many search documents it deleted, which dbt cannot reach, once none of the player's is left.
"""

from __future__ import annotations

import re

from pyspark.sql import SparkSession

AUDIT_TABLE = "pii.erasure_audit"
KEYS_TABLE = "pii.pii_player_keys"  # a row deleted there is a data key destroyed


def complete(spark: SparkSession, request_id: str, documents: int, rows_deleted: dict[str, int]) -> None:
    """Complete the request's audit rows once the index is clean: documents_deleted, completed_at (the
    run-operation leaves it null for `forget`, so no row says done while documents remain), and the rows
    every attempt of the run-operation deleted, keys destroyed included (the row it wrote counts its last
    attempt only)."""
    quoted = request_id.replace("\\", "\\\\").replace("'", "\\'")
    counts = ", ".join(f"'{_identifier(table)}', {int(rows)}" for table, rows in sorted(rows_deleted.items()))
    spark.sql(
        f"update {AUDIT_TABLE} set documents_deleted = {int(documents)}, completed_at = current_timestamp(),"
        f" rows_deleted = cast(map({counts}) as map<string, bigint>),"
        f" keys_destroyed = {int(rows_deleted.get(KEYS_TABLE, 0))}"
        f" where request_id = '{quoted}' and completed_at is null"
    )


def _identifier(table: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.]+", table):
        raise ValueError(f"not a table name: {table!r}")
    return table
