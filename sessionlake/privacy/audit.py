"""The erasure audit table (pii.erasure_audit): what was erased, when, and how much; never who.

The forget_player run-operation appends the row (macros/privacy/); `sessionlake forget` then records how
many search documents it deleted, which dbt cannot reach.
"""

from __future__ import annotations

from pyspark.sql import SparkSession

AUDIT_TABLE = "pii.erasure_audit"


def record_documents(spark: SparkSession, request_id: str, documents: int) -> None:
    """Set documents_deleted on the request's audit rows that do not have it yet."""
    quoted = request_id.replace("\\", "\\\\").replace("'", "\\'")
    spark.sql(
        f"update {AUDIT_TABLE} set documents_deleted = {int(documents)}"
        f" where request_id = '{quoted}' and documents_deleted is null"
    )
