"""`s3-sqs`: the Spark streaming source for files announced by S3 event notifications through SQS.

The source is JVM code (`jvm/s3-sqs-source`, a Structured Streaming `Source` reading the files with
Spark's own file formats), put on every session's classpath by `sessionlake.core.spark`. This package is its
Python side: the lineage columns every row carries, and a check that the jar is loaded. See
docs/s3-sqs-source.md.
"""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql.types import LongType, StringType, StructField, StructType, TimestampType

from sessionlake.core.errors import ConfigurationError

PROVIDER_CLASS = "org.apache.spark.sql.sessionlake.s3sqs.S3SqsSourceProvider"

# Appended by the source to the stream's columns, in this order (docs/contracts.md keeps them in bronze).
FILE_COLUMNS = StructType(
    [
        StructField("_file_path", StringType()),
        StructField("_file_size", LongType()),
        StructField("_file_modification_time", TimestampType()),
        StructField("_file_event_time", TimestampType()),
    ]
)
FILE_COLUMN_NAMES = frozenset(FILE_COLUMNS.fieldNames())

__all__ = ["FILE_COLUMNS", "PROVIDER_CLASS", "SourceNotAvailable", "require", "with_file_columns"]


class SourceNotAvailable(ConfigurationError):
    """The s3-sqs jar is not on the session's classpath."""


def with_file_columns(schema: StructType) -> StructType:
    """The stream's schema for the user's `schema`: its columns, then the _file_* lineage columns."""
    return StructType([f for f in schema.fields if f.name not in FILE_COLUMN_NAMES] + FILE_COLUMNS.fields)


def require(spark: SparkSession) -> None:
    """Fail clearly if spark.readStream.format("s3-sqs") cannot work in this session."""
    jvm = spark.sparkContext._jvm  # noqa: SLF001 - PySpark exposes the JVM view only so
    try:
        jvm.java.lang.Class.forName(PROVIDER_CLASS, False, jvm.java.lang.Thread.currentThread().getContextClassLoader())
    except Exception as exc:
        raise SourceNotAvailable(
            f"{PROVIDER_CLASS} is not on the Spark classpath: build it with `make jars` and create the session "
            "with sessionlake.core.spark.get_session (which adds .cache/jars/s3-sqs-source)"
        ) from exc
