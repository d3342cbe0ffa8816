"""Per-source, per-batch metrics: a StreamingQueryListener, the `ops.ingest_metrics` table, source status.

The listener joins Spark's progress of each batch (rows/s, duration, Kafka offsets, and the s3-sqs
source's own metrics: SQS backlog, files and bytes, discovery latency) with what the batch's writer
measured (rows per table, quarantined, end-to-end latency), logs one line, and queues a row;
`MetricsSink.flush` appends queued rows to the Delta table.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timezone

from delta.tables import DeltaTable
from pyspark import SparkContext
from pyspark.sql import DataFrame, Row, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQueryListener
from pyspark.sql.streaming.listener import JStreamingQueryListener
from pyspark.sql.types import DateType, DoubleType, LongType, StringType, StructField, StructType, TimestampType

from sessionlake.core import storage
from sessionlake.core.settings import Settings
from sessionlake.ingest.readers import reader_for
from sessionlake.ingest.tables import ensure_table
from sessionlake.ingest.writers.bronze import BatchResult

log = logging.getLogger("sessionlake.ingest.metrics")

METRICS_TABLE = "ops.ingest_metrics"
METRICS_SCHEMA = StructType(
    [
        StructField("source", StringType()),
        StructField("batch_id", LongType()),
        StructField("query_id", StringType()),
        StructField("run_id", StringType()),
        StructField("committed_at", TimestampType()),
        StructField("input_rows", LongType()),
        StructField("input_rows_per_second", DoubleType()),
        StructField("processed_rows_per_second", DoubleType()),
        StructField("batch_duration_ms", LongType()),
        StructField("rows_written", LongType()),
        StructField("quarantined", LongType()),
        StructField("kafka_lag", LongType()),
        StructField("sqs_backlog", LongType()),
        StructField("s3_files", LongType()),
        StructField("s3_bytes", LongType()),
        StructField("discovery_latency_p50_ms", DoubleType()),
        StructField("discovery_latency_max_ms", DoubleType()),
        StructField("latency_p50_ms", DoubleType()),
        StructField("latency_p95_ms", DoubleType()),
        StructField("error", StringType()),
        StructField("_ingest_date", DateType()),
    ]
)


def metrics_path(settings: Settings) -> str:
    return storage.join(settings.lake, "ops", "ingest_metrics")


class _ProgressJson(JStreamingQueryListener):
    """PySpark's bridge from the JVM's listener bus, with each batch's progress handed over as its JSON.

    PySpark's own bridge reads the progress field by field over py4j; every Java collection it walks
    ends in an exception, which PySpark's error handler inspects with some forty reflective calls,
    each a class lookup through the whole classpath: about 200 calls per batch, on the listener bus'
    thread, taking CPU from the batches. One call for the JSON does the same.
    """

    def onQueryProgress(self, jevent) -> None:  # noqa: ANN001 - a py4j object
        self.pylistener.on_progress(json.loads(jevent.progress().json()))


class IngestListener(StreamingQueryListener):
    """Records one metrics row and one log line per batch of every ingest query."""

    def __init__(self, sources: dict[str, str]) -> None:
        self.sources = sources  # query name -> kind
        self._results: dict[tuple[str, int], BatchResult] = {}
        self._rows: list[dict] = []
        self._seen: dict[str, int] = {}
        self._names: dict[str, str] = {}  # query id -> name
        self._lock = threading.Condition()

    def record(self, result: BatchResult) -> None:
        """Called by the source's writer at the end of its batch, before Spark reports progress."""
        with self._lock:
            self._results[(result.source, result.batch_id)] = result

    def onQueryStarted(self, event) -> None:  # noqa: ANN001 - Spark's event types
        with self._lock:
            self._names[str(event.id)] = event.name

    def onQueryIdle(self, event) -> None:  # noqa: ANN001
        pass

    @property
    def _jlistener(self):  # noqa: ANN202 - PySpark's hook for the py4j object Spark calls
        if not hasattr(self, "_jlistenerobj"):
            jvm = SparkContext._jvm  # noqa: SLF001 - PySpark exposes no other way to build the bridge
            self._jlistenerobj = jvm.PythonStreamingQueryListenerWrapper(_ProgressJson(self))
        return self._jlistenerobj

    def onQueryProgress(self, event) -> None:  # noqa: ANN001
        self.on_progress(json.loads(event.progress.json))

    def on_progress(self, p: dict) -> None:
        """One batch's progress, as Spark's JSON of it (StreamingQueryProgress.json)."""
        name, batch_id, input_rows = p["name"], p["batchId"], p["numInputRows"]
        if name not in self.sources:
            return
        with self._lock:
            result = self._results.pop((name, batch_id), None)
        source = reader_for(self.sources[name]).progress(p["sources"])
        latency = result.latency_ms if result else {}
        # A batch whose bad records are re-read for the quarantine is counted twice by Spark's progress:
        # the writer's own count of the batch is the true one; the rates are scaled to it.
        rows = result.input_rows if result else input_rows
        scale = rows / input_rows if input_rows else 1.0
        row = {
            "source": name,
            "batch_id": batch_id,
            "query_id": p["id"],
            "run_id": p["runId"],
            "committed_at": (
                datetime.fromtimestamp(result.committed_at, timezone.utc)
                if result
                else datetime.fromisoformat(p["timestamp"].replace("Z", "+00:00"))
            ),
            "input_rows": rows,
            # Spark leaves a rate out of the JSON when it is not a number (no time elapsed).
            "input_rows_per_second": p.get("inputRowsPerSecond", math.nan) * scale,
            "processed_rows_per_second": p.get("processedRowsPerSecond", math.nan) * scale,
            "batch_duration_ms": p["batchDuration"],
            "rows_written": sum(result.rows_written.values()) if result else 0,
            "quarantined": result.quarantined if result else 0,
            **source,
            "latency_p50_ms": latency.get("p50"),
            "latency_p95_ms": latency.get("p95"),
            "error": None,
        }
        log.info(
            "source=%s batch=%d input=%d in_rps=%.0f proc_rps=%.0f duration_ms=%d written=%d quarantined=%d "
            "kafka_lag=%s sqs_backlog=%s s3_files=%s s3_bytes=%s discovery_max_ms=%s "
            "latency_p50_ms=%s latency_p95_ms=%s",
            name, batch_id, rows, row["input_rows_per_second"], row["processed_rows_per_second"],
            p["batchDuration"], row["rows_written"], row["quarantined"], source["kafka_lag"],
            source["sqs_backlog"], source["s3_files"], source["s3_bytes"],
            _ms(source["discovery_latency_max_ms"]), _ms(row["latency_p50_ms"]),
            _ms(row["latency_p95_ms"]),
        )  # fmt: skip
        self._queue(row, name, batch_id)

    def onQueryTerminated(self, event) -> None:  # noqa: ANN001
        if event.exception:
            with self._lock:
                name = self._names.get(str(event.id))
            log.error("ingest query %s failed: %s", name, event.exception.strip().splitlines()[0])
            self.record_error(name, str(event.id), str(event.runId), event.exception)

    def record_error(self, source: str | None, query_id: str, run_id: str, error: str) -> None:
        self._queue(_error_row(source, query_id, run_id, error), None, None)

    def _queue(self, row: dict, name: str | None, batch_id: int | None) -> None:
        with self._lock:
            self._rows.append(row)
            if name is not None:
                self._seen[name] = batch_id
            self._lock.notify_all()

    def wait_for(self, name: str, batch_id: int, timeout: float = 30.0) -> bool:
        """Wait until the progress of `batch_id` of query `name` arrived (events are asynchronous)."""
        with self._lock:
            return self._lock.wait_for(lambda: self._seen.get(name, -1) >= batch_id, timeout)

    def drain(self) -> list[dict]:
        with self._lock:
            rows, self._rows = self._rows, []
        return rows


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


# What an error message may quote of a record: a quoted literal (Spark's "The value 'x' of the type ...",
# Python's "invalid literal ...: 'x'"), an e-mail address, an IP address.
_VALUES = re.compile(
    r"'[^']*'|\"[^\"]*\"|[\w.+'-]+@[\w-]+(?:\.[\w-]+)+|\b(?:\d{1,3}\.){3}\d{1,3}\b"
    r"|\b(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}\b|(?:[0-9a-f]{1,4}:){1,6}:(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4})*)?",
    re.IGNORECASE,
)


def without_values(message: str) -> str:
    """An error message for ops.ingest_metrics, which erasure cannot reach (no row links it to a player):
    quoted literals, e-mail and IP addresses replaced by `…`. A quarantined record's own reason stays whole:
    it is erased with the record."""
    return _VALUES.sub("…", message)


def _error_row(source: str | None, query_id: str, run_id: str, error: str) -> dict:
    return {
        "source": source,
        "query_id": query_id,
        "run_id": run_id,
        "committed_at": datetime.now(timezone.utc),
        "error": without_values(error.strip().splitlines()[0])[:2000],
    }


class MetricsSink:
    """Appends the listener's queued rows to `ops.ingest_metrics`."""

    def __init__(self, spark: SparkSession, settings: Settings) -> None:
        self.spark = spark
        self.path = metrics_path(settings)
        ensure_table(spark, METRICS_TABLE, self.path, METRICS_SCHEMA)

    def flush(self, listener: IngestListener) -> int:
        rows = listener.drain()
        if not rows:
            return 0
        today = datetime.now(timezone.utc).date()
        full = [Row(**{f.name: r.get(f.name) for f in METRICS_SCHEMA.fields} | {"_ingest_date": today}) for r in rows]
        self.spark.createDataFrame(full, METRICS_SCHEMA).write.format("delta").mode("append").save(str(self.path))
        return len(rows)


@dataclass(frozen=True)
class SourceStatus:
    source: str
    last_batch_at: datetime | None
    last_data_at: datetime | None  # last batch that wrote rows
    freshness_seconds: float | None  # now - last_data_at
    kafka_lag: int | None
    sqs_backlog: int | None
    s3_files: int | None  # files and bytes of the last batch, discovery latency (S3 event -> batch)
    s3_bytes: int | None
    discovery_latency_p50_ms: float | None
    discovery_latency_max_ms: float | None
    latency_p95_ms: float | None
    last_error: str | None
    last_error_at: datetime | None


def source_status(settings: Settings, spark: SparkSession) -> list[SourceStatus]:
    """One entry per source that has metrics: lag, freshness and the last error."""
    path = metrics_path(settings)
    if not DeltaTable.isDeltaTable(spark, str(path)):
        return []
    metrics = (
        spark.read.format("delta")
        .load(str(path))
        .where(F.col("source").isNotNull())
        .withColumn("at_us", F.unix_micros("committed_at"))
    )
    latest = Window.partitionBy("source").orderBy(F.col("at_us").desc_nulls_last())

    def last(frame: DataFrame) -> dict[str, Row]:
        ranked = frame.withColumn("_n", F.row_number().over(latest)).where("_n = 1")
        return {r["source"]: r for r in ranked.collect()}

    batches = last(metrics.where(F.col("batch_id").isNotNull()))
    errors = last(metrics.where(F.col("error").isNotNull()))
    data = {
        r["source"]: r["at_us"]
        for r in metrics.where("rows_written > 0").groupBy("source").agg(F.max("at_us").alias("at_us")).collect()
    }
    now = datetime.now(timezone.utc)
    out = []
    for source in sorted(set(batches) | set(errors)):
        batch = batches.get(source)
        error = errors.get(source)
        data_at = _utc(data.get(source))
        out.append(
            SourceStatus(
                source=source,
                last_batch_at=_utc(batch["at_us"]) if batch else None,
                last_data_at=data_at,
                freshness_seconds=(now - data_at).total_seconds() if data_at else None,
                kafka_lag=batch["kafka_lag"] if batch else None,
                sqs_backlog=batch["sqs_backlog"] if batch else None,
                s3_files=batch["s3_files"] if batch else None,
                s3_bytes=batch["s3_bytes"] if batch else None,
                discovery_latency_p50_ms=batch["discovery_latency_p50_ms"] if batch else None,
                discovery_latency_max_ms=batch["discovery_latency_max_ms"] if batch else None,
                latency_p95_ms=batch["latency_p95_ms"] if batch else None,
                last_error=error["error"] if error else None,
                last_error_at=_utc(error["at_us"]) if error else None,
            )
        )
    return out


def _utc(micros: int | None) -> datetime | None:
    return None if micros is None else datetime.fromtimestamp(micros / 1e6, timezone.utc)
