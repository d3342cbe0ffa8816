"""The `s3-sqs` streaming source, on Spark 4's Python Data Source API.

Offsets are positions in the discovery log ({"files": n}). latestOffset() receives notifications and
logs new files durably before returning; partitions(start, end) reads the files [start, end) back from
the log; read() fetches and parses them on the executors; commit(end) deletes their SQS messages.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
from botocore.exceptions import ClientError
from pyspark import TaskContext
from pyspark.sql.datasource import DataSource, DataSourceStreamReader, InputPartition
from pyspark.sql.pandas.types import to_arrow_schema
from pyspark.sql.types import LongType, StringType, StructField, StructType, TimestampType

from ingest.readers.s3_sqs import aws
from ingest.readers.s3_sqs.discovery import Discovery
from ingest.readers.s3_sqs.discovery_log import LoggedFile
from ingest.readers.s3_sqs.file_reader import FormatReader, batches_with_file_columns
from ingest.readers.s3_sqs.options import OptionError, SourceOptions, parse_options

log = logging.getLogger(__name__)

FILE_COLUMNS = StructType(
    [
        StructField("_file_path", StringType()),
        StructField("_file_size", LongType()),
        StructField("_file_modification_time", TimestampType()),
        StructField("_file_event_time", TimestampType()),
    ]
)
FILE_COLUMN_NAMES = frozenset(FILE_COLUMNS.fieldNames())
OPEN_COST_BYTES = 4 * 1024 * 1024  # as spark.sql.files.openCostInBytes: a file costs this much on top of its size
MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "404"})


def with_file_columns(schema: StructType) -> StructType:
    """The schema followed by the _file_* lineage columns (pass it to .schema() to get them)."""
    return StructType([f for f in schema.fields if f.name not in FILE_COLUMN_NAMES] + FILE_COLUMNS.fields)


@dataclass(frozen=True)
class FilesPartition(InputPartition):
    files: tuple[LoggedFile, ...]


def plan_partitions(files: list[LoggedFile], min_partitions: int, max_partition_bytes: int) -> list[FilesPartition]:
    """Spread files over partitions of similar cost (size + open cost), deterministically."""
    if not files:
        return []
    total = sum(f.size + OPEN_COST_BYTES for f in files)
    count = min(len(files), max(min_partitions, -(-total // max_partition_bytes)))
    bins: list[tuple[int, int, list[LoggedFile]]] = [(0, i, []) for i in range(count)]
    for file in sorted(files, key=lambda f: (-f.size, f.seq)):
        cost, index, members = heapq.heappop(bins)
        members.append(file)
        heapq.heappush(bins, (cost + file.size + OPEN_COST_BYTES, index, members))
    ordered = sorted(bins, key=lambda b: b[1])
    return [FilesPartition(tuple(sorted(members, key=lambda f: f.seq))) for _, _, members in ordered]


def _ignore_missing_files() -> bool:
    """spark.sql.files.ignoreMissingFiles, which Spark propagates to tasks as a local property."""
    context = TaskContext.get()
    value = context.getLocalProperty("spark.sql.files.ignoreMissingFiles") if context else None
    return (value or "false").lower() == "true"


class S3SqsStreamReader(DataSourceStreamReader):
    def __init__(self, options: SourceOptions, schema: StructType) -> None:
        self.options = options
        self.schema = schema
        data_fields = [f for f in schema.fields if f.name not in FILE_COLUMN_NAMES]
        for field in schema.fields:
            if field.name in FILE_COLUMN_NAMES and field.dataType != FILE_COLUMNS[field.name].dataType:
                raise OptionError(f"column {field.name} must be {FILE_COLUMNS[field.name].dataType.simpleString()}")
        if options.file_format == "text" and (len(data_fields) != 1 or data_fields[0].dataType != StringType()):
            raise OptionError("fileFormat=text needs exactly one string column besides the _file_* columns")
        self.data_schema = to_arrow_schema(StructType(data_fields))
        self._discovery: Discovery | None = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_discovery": None}

    @property
    def discovery(self) -> Discovery:
        if self._discovery is None:
            self._discovery = Discovery(self.options)
        return self._discovery

    def initialOffset(self) -> dict:
        return {"files": 0}

    def latestOffset(self) -> dict:
        return {"files": self.discovery.poll()}

    def partitions(self, start: dict, end: dict) -> list[FilesPartition]:
        files = self.discovery.plan(start["files"], end["files"])
        return plan_partitions(files, self.options.min_partitions, self.options.max_partition_bytes)

    def commit(self, end: dict) -> None:
        self.discovery.commit(end["files"])

    def read(self, partition: FilesPartition) -> Iterator[pa.RecordBatch]:
        s3 = aws.client("s3", self.options)
        parser = FormatReader(self.options.file_format, self.data_schema, self.options.reader_options)
        output = to_arrow_schema(self.schema)
        ignore_missing = _ignore_missing_files()
        for file in partition.files:
            request = {"Bucket": file.bucket, "Key": file.key}
            if file.version_id:
                request["VersionId"] = file.version_id
            try:
                response = s3.get_object(**request)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in MISSING_OBJECT_CODES:
                    raise
                if ignore_missing:
                    log.warning("s3-sqs: skipping %s, deleted before it was read", file.uri)
                    continue
                raise FileNotFoundError(
                    f"{file.uri} was deleted before it was read "
                    "(set spark.sql.files.ignoreMissingFiles=true to skip such files)"
                ) from None
            table = parser.read(file.uri, file.key, response["Body"].read())
            file_columns = {
                "_file_path": pa.scalar(file.uri, pa.string()),
                "_file_size": pa.scalar(response["ContentLength"], pa.int64()),
                "_file_modification_time": pa.scalar(response["LastModified"], pa.timestamp("us", tz="UTC")),
                "_file_event_time": pa.scalar(datetime.fromisoformat(file.event_time), pa.timestamp("us", tz="UTC")),
            }
            wanted = {name: value for name, value in file_columns.items() if name in output.names}
            for batch in batches_with_file_columns(table, wanted):
                yield batch.select(output.names).cast(output)


class S3SqsDataSource(DataSource):
    """spark.readStream.format("s3-sqs"): files announced by S3 event notifications on an SQS queue."""

    def __init__(self, options: dict[str, str]) -> None:
        super().__init__(options)
        self.source_options = parse_options(options)

    @classmethod
    def name(cls) -> str:
        return "s3-sqs"

    def schema(self) -> StructType:
        if self.source_options.file_format != "text":
            raise OptionError(
                f"fileFormat={self.source_options.file_format} needs a schema: .schema(with_file_columns(your_schema))"
            )
        return with_file_columns(StructType([StructField("value", StringType())]))

    def streamReader(self, schema: StructType) -> S3SqsStreamReader:
        return S3SqsStreamReader(self.source_options, schema)
