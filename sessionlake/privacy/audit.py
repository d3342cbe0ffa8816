"""The erasure audit table (pii.erasure_audit): what was erased, when, and how much; never who.

The forget_player run-operation appends the row (macros/privacy/); `sessionlake forget` completes it with
how many search documents it deleted, which dbt cannot reach, once none of the player's is left.
"""

from __future__ import annotations

from pyspark.sql import SparkSession

AUDIT_TABLE = "pii.erasure_audit"


def record_documents(spark: SparkSession, request_id: str, documents: int) -> None:
    """Complete the request's audit rows once the index is clean: documents_deleted and completed_at (the
    run-operation leaves completed_at null for `forget`, so no row says done while documents remain)."""
    quoted = request_id.replace("\\", "\\\\").replace("'", "\\'")
    spark.sql(
        f"update {AUDIT_TABLE} set documents_deleted = {int(documents)}, completed_at = current_timestamp()"
        f" where request_id = '{quoted}' and completed_at is null"
    )
