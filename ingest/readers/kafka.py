"""Spark's built-in Kafka source, configured from a source's `kafka:` section."""

from __future__ import annotations

import json
import re
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from sessionlake.core import storage
from sessionlake.core.errors import ConfigurationError
from sessionlake.core.settings import Settings
from sessionlake.ingest.config import SourceConfig
from sessionlake.ingest.readers.base import PurgeError, Reader, empty_progress

HEADERS_TYPE = ArrayType(StructType([StructField("key", StringType()), StructField("value", BinaryType())]))

# The source coordinates every Kafka bronze table keeps (docs/contracts.md).
METADATA = StructType(
    [
        StructField("_kafka_key", StringType()),
        StructField("_kafka_topic", StringType()),
        StructField("_kafka_partition", IntegerType()),
        StructField("_kafka_offset", LongType()),
        StructField("_kafka_timestamp", TimestampType()),
        StructField("_kafka_headers", HEADERS_TYPE),
    ]
)


# Consumer defaults for reading offset ranges in bulk. The client's own (1 MiB per partition per fetch, a
# 64 KiB socket buffer) suit consumers that keep up record by record; a micro-batch reads tens of MiB
# per partition, and with them spends part of each batch waiting on fetch round trips (docs/ingest.md,
# "Benchmark"). A source's `options` override them.
FETCH_DEFAULTS = {
    "kafka.max.partition.fetch.bytes": str(16 << 20),
    "kafka.receive.buffer.bytes": str(4 << 20),
}


def options(settings: Settings, source: SourceConfig) -> dict[str, str]:
    """The Kafka source options, by Spark's names."""
    k = source.kafka
    given = {key.lower() for key in k.extra}
    defaults = {key: value for key, value in FETCH_DEFAULTS.items() if key not in given}
    opts = {"kafka.bootstrap.servers": settings.kafka_bootstrap, **defaults, **k.extra}
    if k.topics:
        opts["subscribe"] = ",".join(k.topics)
    else:
        opts["subscribePattern"] = k.topic_pattern
    opts["startingOffsets"] = k.starting_offsets
    if k.starting_offsets_by_timestamp:
        opts["startingOffsetsByTimestamp"] = k.starting_offsets_by_timestamp
    if k.max_offsets_per_trigger:
        opts["maxOffsetsPerTrigger"] = str(k.max_offsets_per_trigger)
    if k.min_offsets_per_trigger:
        opts["minOffsetsPerTrigger"] = str(k.min_offsets_per_trigger)
    if k.max_trigger_delay:
        opts["maxTriggerDelay"] = k.max_trigger_delay
    opts["failOnDataLoss"] = str(k.fail_on_data_loss).lower()
    opts["includeHeaders"] = str(k.include_headers).lower()
    return opts


def coordinates() -> Column:
    """`{"topic":...,"partition":...,"offset":...}`, as `to_json` of the three writes it, by concatenation:
    a topic name is only ASCII letters, digits, '.', '_' and '-', so it needs no escaping, and `to_json`
    would cost every record a JSON generator."""
    return F.concat(
        F.lit('{"topic":"'),
        F.col("topic"),
        F.lit('","partition":'),
        F.col("partition").cast("string"),
        F.lit(',"offset":'),
        F.col("offset").cast("string"),
        F.lit("}"),
    )


def envelope(records: DataFrame, source: SourceConfig) -> DataFrame:
    """Kafka records (the source's columns) as the common envelope: `_value`, `_raw_bytes`,
    `_coordinates` and METADATA."""
    headers = F.col("headers") if source.kafka.include_headers else F.lit(None).cast(HEADERS_TYPE)
    return records.select(
        F.col("value").cast("string").alias("_value"),
        F.col("value").alias("_raw_bytes"),
        coordinates().alias("_coordinates"),
        F.col("key").cast("string").alias("_kafka_key"),
        F.col("topic").alias("_kafka_topic"),
        F.col("partition").alias("_kafka_partition"),
        F.col("offset").alias("_kafka_offset"),
        F.col("timestamp").alias("_kafka_timestamp"),
        headers.alias("_kafka_headers"),
    )


def read(spark: SparkSession, settings: Settings, source: SourceConfig) -> DataFrame:
    """The stream as the common envelope (see `envelope`)."""
    return envelope(spark.readStream.format("kafka").options(**options(settings, source)).load(), source)


def kafka_lag(end: dict | None, latest: dict | None) -> int | None:
    """Sum over partitions of latest minus processed offset, from a Kafka source's progress offsets
    (`{topic: {partition: offset}}`)."""
    if not end or not latest:
        return None
    lag = 0
    for topic, partitions in latest.items():
        for partition, offset in partitions.items():
            lag += max(0, offset - end.get(topic, {}).get(partition, 0))
    return lag


# Spark 4.1.1 bug SPARK-55271: when a restarted Kafka query re-runs the batch a crash interrupted, the
# source's progress metrics dereference offsets it has not fetched yet and the query fails with this
# NullPointerException, after the batch and its commit log entry are written. Starting it again is safe.
SPARK_55271 = 'because the return value of "scala.Option.get()" is null'


class KafkaReader(Reader):
    kind = "kafka"
    metadata = METADATA

    def read(self, spark: SparkSession, settings: Settings, source: SourceConfig) -> DataFrame:
        return read(spark, settings, source)

    def progress(self, sources: list[dict[str, Any]]) -> dict[str, int | float | None]:
        lags = [kafka_lag(s.get("endOffset"), s.get("latestOffset")) for s in sources]
        known = [lag for lag in lags if lag is not None]
        return empty_progress() | {"kafka_lag": sum(known) if known else None}

    def restart_safely(self, error: str) -> bool:
        return SPARK_55271 in error

    def raw_locations(self, source: SourceConfig) -> list[str]:
        return [f"kafka topic {t}" for t in source.kafka.topics or (f"pattern {source.kafka.topic_pattern}",)]

    def purge_committed(
        self, spark: SparkSession, settings: Settings, source: SourceConfig, sources: list[SourceConfig]
    ) -> str | None:
        """Truncate each partition of the source's topics (Kafka's DeleteRecords) below the end offsets of the
        last batch its query committed: every record below is in bronze. Where several sources read a topic,
        below the smallest of their offsets (none loses what it has not read). Other consumers lose them."""
        from confluent_kafka import KafkaException, TopicPartition

        offsets = committed_offsets(spark, storage.join(settings.checkpoints, source.name))
        for other in sources:
            if other.name == source.name or other.kafka is None:
                continue
            theirs = committed_offsets(spark, storage.join(settings.checkpoints, other.name))
            for topic, parts in offsets.items():
                subscribed = topic in (other.kafka.topics or ()) or (
                    other.kafka.topic_pattern and re.fullmatch(other.kafka.topic_pattern, topic)
                )
                for partition in parts if subscribed else ():
                    parts[partition] = min(parts[partition], theirs.get(topic, {}).get(partition, 0))
        partitions = [
            TopicPartition(topic, int(partition), offset)
            for topic, parts in sorted(offsets.items())
            for partition, offset in sorted(parts.items())
            if offset > 0
        ]
        if not partitions:
            return None
        admin = _admin(settings, source)  # kept referenced: its futures resolve only while the client lives
        for partition, future in admin.delete_records(partitions, request_timeout=60).items():
            try:
                future.result(timeout=120)
            except (KafkaException, TimeoutError) as exc:
                raise PurgeError(f"deleting records of {partition.topic}[{partition.partition}]: {exc}") from None
        purged = {t: {p: o for p, o in parts.items() if o > 0} for t, parts in offsets.items()}
        return f"records below the offsets ingest committed: {json.dumps(purged, sort_keys=True)}"


# Source options the admin client that truncates topics takes (librdkafka names them as the Java client).
_ADMIN_OPTION_PREFIXES = ("kafka.bootstrap.", "kafka.security.", "kafka.sasl.", "kafka.ssl.")


def _admin(settings: Settings, source: SourceConfig) -> Any:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    conf = {
        key.removeprefix("kafka."): value
        for key, value in options(settings, source).items()
        if key.startswith(_ADMIN_OPTION_PREFIXES)
    }
    try:
        return AdminClient(conf)
    except KafkaException as exc:
        raise ConfigurationError(
            f"{source.file.name}: kafka options for the admin client that truncates topics on forget: {exc}"
            " (give them as librdkafka names them, or set SESSIONLAKE_FORGET_PURGE_RAW=false)"
        ) from None


def _log_files(spark: SparkSession, directory: str) -> dict[int, str]:
    """The numbered files of a streaming query's log directory (offsets/, commits/), by batch id."""
    jvm = spark.sparkContext._jvm  # noqa: SLF001 - Hadoop's FileSystem: s3a and local paths alike
    path = jvm.org.apache.hadoop.fs.Path(directory)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())  # noqa: SLF001
    if not fs.exists(path):
        return {}
    files = spark.sparkContext.wholeTextFiles(directory).collect()
    return {int(name): text for file, text in files if (name := file.rsplit("/", 1)[-1]).isdigit()}


def committed_offsets(spark: SparkSession, checkpoint: str) -> dict[str, dict[str, int]]:
    """{topic: {partition: offset}}: the end offsets of the last batch the source's query committed
    (Structured Streaming's offset log: a version line, the batch metadata, then one line per source)."""
    commits = _log_files(spark, storage.join(checkpoint, "commits"))
    if not commits:
        return {}
    batch = max(commits)
    text = _log_files(spark, storage.join(checkpoint, "offsets")).get(batch)
    if text is None:
        raise PurgeError(f"{checkpoint}: batch {batch} is committed but its offsets file is missing")
    return {topic: {p: int(o) for p, o in parts.items()} for topic, parts in json.loads(text.splitlines()[2]).items()}
