"""Run configured sources as streaming queries in one Spark application.

`run(settings, spark, once=True)` is the backfill / test form (Trigger.AvailableNow: everything
available at start, then stop); `once=False` runs until `stop` is set (the CLI sets it on SIGTERM),
then lets the batch in flight finish before stopping each query. Sources are isolated: a failed query
never stops the others; running continuously, it is restarted with backoff.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from pyspark.sql import SparkSession
from pyspark.sql.streaming import StreamingQuery

from sessionlake.core.backoff import Backoff
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


class IngestObserver(Protocol):
    """What a supervisor hears of each source: started, a batch committed, failed (and when it retries)."""

    def source_started(self, source: str) -> None: ...

    def batch_committed(self, result: BatchResult) -> None: ...

    def source_failed(self, source: str, error: str, retry_in: float | None) -> None: ...


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
    observer: IngestObserver | None = None,
    backoff: Callable[[], Backoff] = Backoff,
) -> IngestReport:
    """Ingest the configured sources (all, or those named) until done (`once`) or `stop` is set.

    A failed query is reported (`errors`, the observer) and the others go on; running continuously
    (`once=False`) it is started again after a backoff (`backoff()`: one per source, reset by its next
    committed batch). Raises ingest.config.SourceConfigError before anything starts if a source is
    misconfigured.
    """
    stop = stop or threading.Event()
    prepared = {p.name: p for p in prepare(spark, settings, load_sources(config_dir, sources))}
    listener = IngestListener({p.name: p.config.kind for p in prepared.values()})
    sink = MetricsSink(spark, settings)
    report = IngestReport()
    backoffs = {name: backoff() for name in prepared}

    def on_batch(result: BatchResult) -> None:
        listener.record(result)
        report.add(result)
        report.errors.pop(result.source, None)  # recovered: `errors` holds the sources failed at the end
        backoffs[result.source].reset()
        if observer:
            observer.batch_committed(result)

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
        if observer:
            observer.source_started(name)
        return query

    def failed(name: str, error: str) -> float | None:
        """Record a failure; the seconds until the source is started again (None: it is not)."""
        report.errors[name] = error
        retry_in = None if once else backoffs[name].next_delay()
        log.error("ingest %s failed: %s%s", name, error, "" if retry_in is None else f" (restart in {retry_in:.0f}s)")
        if observer:
            observer.source_failed(name, error, retry_in)
        return retry_in

    spark.streams.addListener(listener)
    supervisor = _Supervisor(start, failed, {name: p.config.kind for name, p in prepared.items()})
    try:
        for name in prepared:
            supervisor.start(name)
        supervisor.watch(stop, lambda: sink.flush(listener))
    finally:
        for query in supervisor.queries.values():
            if query.isActive:
                stop_gracefully(query)
        for query in supervisor.queries.values():
            _collect(query, listener, report)
        sink.flush(listener)
        spark.streams.removeListener(listener)
    return report


MAX_RESTARTS = 3


def _first_line(error: object) -> str:
    return next(iter(str(error).strip().splitlines()), type(error).__name__)


class _Supervisor:
    """Keeps each source's query running: a query that failed in a way its reader knows a restart repairs
    is restarted at once (up to MAX_RESTARTS times); any other failure is handed to `failed`, which says
    when to start the source again, if ever. The other sources are never stopped."""

    def __init__(
        self,
        start: Callable[[str], StreamingQuery],
        failed: Callable[[str, str], float | None],
        kinds: dict[str, str],
    ) -> None:
        self._start, self._failed, self._kinds = start, failed, kinds
        self.queries: dict[str, StreamingQuery] = {}
        self._due: dict[str, float] = {}  # source -> monotonic time of its next start
        self._quick_restarts: Counter = Counter()

    def start(self, name: str) -> None:
        self._due.pop(name, None)
        try:
            self.queries[name] = self._start(name)
        except Exception as exc:  # noqa: BLE001 (cannot even start, its queue or topic gone: as if it failed)
            self.queries.pop(name, None)
            self._schedule(name, _first_line(exc))

    def _schedule(self, name: str, error: str) -> None:
        retry_in = self._failed(name, error)
        if retry_in is not None:
            self._due[name] = time.monotonic() + retry_in

    def _check(self) -> None:
        for name, query in list(self.queries.items()):
            if query.isActive:
                continue
            error = query.exception()
            if error is None:
                continue  # an availableNow query that finished
            del self.queries[name]
            if reader_for(self._kinds[name]).restart_safely(str(error)) and self._quick_restarts[name] < MAX_RESTARTS:
                log.warning("%s: restarting after a known, safe-to-restart engine failure", name)
                self._quick_restarts[name] += 1
                self.start(name)
            else:
                self._schedule(name, _first_line(error))
        for name, due in list(self._due.items()):
            if time.monotonic() >= due:
                self.start(name)

    def watch(self, stop: threading.Event, flush: Callable[[], None]) -> None:
        """Until `stop` is set, or no query runs and none is due to start again."""
        last_flush = time.monotonic()
        while True:
            self._check()
            if not self._due and not any(q.isActive for q in self.queries.values()):
                return
            if stop.wait(1.0):
                log.info("stop requested: finishing the batches in flight")
                return
            if time.monotonic() - last_flush > METRICS_FLUSH_SECONDS:
                flush()
                last_flush = time.monotonic()


def _collect(query: StreamingQuery, listener: IngestListener, report: IngestReport) -> None:
    error = query.exception()
    if error is not None:
        report.errors[query.name] = str(error).strip().splitlines()[0]
    progress = query.lastProgress
    if progress and progress["batchId"] >= 0 and progress["numInputRows"]:
        listener.wait_for(query.name, progress["batchId"])
