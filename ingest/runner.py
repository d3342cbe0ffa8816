"""Run configured sources as streaming queries in one Spark application.

`run(settings, spark, once=True)` is the backfill / test form (Trigger.AvailableNow: everything
available at start, then stop); `once=False` runs until `stop` is set (the CLI sets it on SIGTERM),
then lets the batch in flight finish before stopping each query.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql.streaming import StreamingQuery

from sessionlake.core.settings import Settings
from sessionlake.ingest.config import load_sources
from sessionlake.ingest.metrics import IngestListener, MetricsSink
from sessionlake.ingest.parsing import parse
from sessionlake.ingest.prepare import PreparedSource, prepare
from sessionlake.ingest.readers import reader_for
from sessionlake.ingest.tables import QUARANTINE
from sessionlake.ingest.writers.bronze import BatchResult, BronzeWriter

log = logging.getLogger(__name__)

METRICS_FLUSH_SECONDS = 15.0
STOP_TIMEOUT_SECONDS = 300.0


@dataclass
class IngestReport:
    """Totals of the batches this run processed."""

    rows_written: Counter = field(default_factory=Counter)  # bronze table -> rows
    quarantined: Counter = field(default_factory=Counter)  # source -> rows
    batches: Counter = field(default_factory=Counter)  # source -> batches
    errors: dict[str, str] = field(default_factory=dict)  # source -> first line of the failure
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, result: BatchResult) -> None:
        with self._lock:
            self.rows_written.update(result.rows_written)
            self.quarantined[result.source] += result.quarantined
            self.batches[result.source] += 1

    @property
    def ok(self) -> bool:
        return not self.errors


def start_query(
    spark: SparkSession, settings: Settings, source: PreparedSource, writer: BronzeWriter, once: bool, trigger: str
) -> StreamingQuery:
    """Start the source's query: the stream parsed (see ingest.parsing), each micro-batch handed to `writer`.

    Parsing is part of the streaming plan, built and analysed once at start: each micro-batch reaches
    `foreachBatch` as a frame over the rows the query computed, so no batch pays for building the
    parsing expressions again, and no filter of the writer can be pushed into them.
    """
    config = source.config
    stream = reader_for(config.kind).read(spark, settings, config)
    writer_stream = (
        parse(stream, source.rules)
        .writeStream.queryName(source.name)
        .option("checkpointLocation", str(source.checkpoint))
        .foreachBatch(writer)
    )
    writer_stream = writer_stream.trigger(availableNow=True) if once else writer_stream.trigger(processingTime=trigger)
    return writer_stream.start()


def stop_gracefully(query: StreamingQuery, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """Let the batch in flight finish, then stop. The next batch may already have begun when stop()
    lands (under backlog batches run back to back); it is interrupted and re-run on restart under the
    same batch id, landing once (see BronzeWriter)."""
    in_flight = (query.lastProgress or {}).get("batchId")
    deadline = time.monotonic() + timeout
    while query.isActive and query.status["isTriggerActive"] and time.monotonic() < deadline:
        if (query.lastProgress or {}).get("batchId") != in_flight:
            break  # the batch in flight has committed and reported
        time.sleep(0.1)
    query.stop()


def run(
    settings: Settings,
    spark: SparkSession,
    sources: list[str] | None = None,
    once: bool = True,
    config_dir: Path | None = None,
    trigger: str | None = None,
    stop: threading.Event | None = None,
) -> IngestReport:
    """Ingest the configured sources (all, or those named) until done (`once`) or `stop` is set.

    Raises ingest.config.SourceConfigError before anything starts if a source is misconfigured.
    """
    stop = stop or threading.Event()
    prepared = {p.name: p for p in prepare(spark, settings, load_sources(config_dir, sources))}
    listener = IngestListener({p.name: p.config.kind for p in prepared.values()})
    sink = MetricsSink(spark, settings)
    report = IngestReport()

    def on_batch(result: BatchResult) -> None:
        listener.record(result)
        report.add(result)

    def start(name: str) -> StreamingQuery:
        p = prepared[name]
        writer = BronzeWriter(
            source=p.name,
            sql=p.config.transform,
            routes=p.routes,
            quarantine_path=settings.bronze_path(QUARANTINE),
            checkpoint=p.checkpoint,
            event_time=p.config.event_time,
            on_batch=on_batch,
        )
        query = start_query(spark, settings, p, writer, once, trigger or p.config.trigger)
        log.info("ingest %s started (%s, checkpoint %s)", p.name, p.config.kind, p.checkpoint)
        return query

    spark.streams.addListener(listener)
    queries: dict[str, StreamingQuery] = {}
    try:
        for name in prepared:
            queries[name] = start(name)
        kinds = {name: p.config.kind for name, p in prepared.items()}
        _supervise(queries, start, kinds, stop, sink, listener)
    finally:
        for query in queries.values():
            if query.isActive:
                stop_gracefully(query)
        for query in queries.values():
            _collect(query, listener, report)
        sink.flush(listener)
        spark.streams.removeListener(listener)
    return report


MAX_RESTARTS = 3


def _restart_safely(query: StreamingQuery, kind: str) -> bool:
    """The query failed in a way its reader knows a restart repairs (see Reader.restart_safely)."""
    error = query.exception()
    return error is not None and reader_for(kind).restart_safely(str(error))


def _supervise(
    queries: dict[str, StreamingQuery],
    start: Callable[[str], StreamingQuery],
    kinds: dict[str, str],
    stop: threading.Event,
    sink: MetricsSink,
    listener: IngestListener,
) -> None:
    """Wait for the queries to end (availableNow) or for `stop`; a failed query stops the others."""
    restarts: Counter = Counter()
    last_flush = time.monotonic()
    while True:
        for name, query in list(queries.items()):
            if query.isActive:
                continue
            if _restart_safely(query, kinds[name]) and restarts[name] < MAX_RESTARTS:
                log.warning("%s: restarting after a known, safe-to-restart engine failure", name)
                restarts[name] += 1
                queries[name] = start(name)
        if any(not q.isActive and q.exception() for q in queries.values()):
            return
        if not any(q.isActive for q in queries.values()):
            return
        if stop.wait(1.0):
            log.info("stop requested: finishing the batches in flight")
            return
        if time.monotonic() - last_flush > METRICS_FLUSH_SECONDS:
            sink.flush(listener)
            last_flush = time.monotonic()


def _collect(query: StreamingQuery, listener: IngestListener, report: IngestReport) -> None:
    error = query.exception()
    if error is not None:
        report.errors[query.name] = str(error).strip().splitlines()[0]
    progress = query.lastProgress
    if progress and progress["batchId"] >= 0 and progress["numInputRows"]:
        listener.wait_for(query.name, progress["batchId"])
