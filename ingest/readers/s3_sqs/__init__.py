"""`s3-sqs`: a Spark streaming source for files announced by S3 event notifications through SQS."""

from __future__ import annotations

from pyspark.sql import SparkSession

from ingest.readers.s3_sqs.metrics import read_metrics
from ingest.readers.s3_sqs.options import OptionError
from ingest.readers.s3_sqs.source import FILE_COLUMNS, S3SqsDataSource, with_file_columns

__all__ = ["FILE_COLUMNS", "OptionError", "S3SqsDataSource", "read_metrics", "register", "with_file_columns"]


def register(spark: SparkSession) -> None:
    """Make spark.readStream.format("s3-sqs") available in this session."""
    spark.dataSource.register(S3SqsDataSource)
