"""The foreachBatch writer: a parsed batch fanned out to every target table and quarantine, each exactly once."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from functools import cached_property, reduce

from pyspark import StorageLevel
from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from sessionlake.core import storage
from sessionlake.ingest.parsing import REASON
from sessionlake.ingest.routing import Route, transform, unrouted
from sessionlake.ingest.tables import QUARANTINE_SCHEMA
from sessionlake.ingest.writers.delta import append_once
from sessionlake.ingest.writers.isolation import (
    DATA_ERRORS,
    RECORD,
    Failure,
    error_summary,
    failed,
    failure_reason,
    find_failures,
    number_records,
)
from sessionlake.ingest.writers.quarantine import quarantine_rows

log = logging.getLogger(__name__)

UNROUTED = "__unrouted"  # count of the rows no route takes


@dataclass(frozen=True)
class BatchResult:
    """What one micro-batch did, handed to the metrics listener and the run report."""

    source: str
    batch_id: int
    input_rows: int
    rows_written: dict[str, int]  # bronze table -> rows
    quarantined: int
    committed_at: float  # epoch seconds, after the last commit
    # End-to-end latency (event time to commit) over the batch's good records, in ms.
    latency_ms: dict[str, float] = field(default_factory=dict)


def query_id(checkpoint: str, spark: SparkSession) -> str:
    """The streaming query's id, stable for the life of its checkpoint (Spark writes it at first start)."""
    checkpoint = str(checkpoint)
    text = storage.files(checkpoint, spark).read_text(storage.join(checkpoint, "metadata"))
    if text is None:
        raise FileNotFoundError(f"no streaming query metadata in {checkpoint}")
    return json.loads(text.splitlines()[0])["id"]


OBSERVATION_WAIT_SECONDS = 10.0


def observed_metrics(observation: Observation, wait: float = OBSERVATION_WAIT_SECONDS) -> dict | None:
    """The metrics of an observation whose action has returned, or None if its query never ran.

    Spark completes an observation from its query-execution listener, moments after the action; an
    action that ran no query (a Delta write skipped by its transaction id) never completes it, and
    `Observation.get` would wait forever.
    """
    future = observation._jo.future()  # noqa: SLF001 - PySpark exposes no non-blocking accessor
    deadline = time.monotonic() + wait
    while not future.isCompleted():
        if time.monotonic() > deadline:
            return None
        time.sleep(0.005)
    return observation.get


def batch_columns(spark: SparkSession, batch_id: int, now: datetime) -> DataFrame:
    """The batch's `_ingested_at`, `_batch_id` and `_ingest_date` as a one-row table, to cross-join
    (`with_batch_columns`) rather than add as literals: Spark writes literals into the code it generates,
    so each batch would compile new classes (and push others out of its generated-class cache), where
    the rows of an inline table are data and the generated code is the same for every batch."""
    micros = int(now.timestamp() * 1_000_000)
    days = (now.astimezone(timezone.utc).date() - date(1970, 1, 1)).days
    row = f"timestamp_micros({micros}L), {int(batch_id)}L, date_from_unix_date({days})"
    return spark.sql(f"select * from values ({row}) as batch(_ingested_at, _batch_id, _ingest_date)")


def with_batch_columns(frame: DataFrame, batch: DataFrame) -> DataFrame:
    return frame.crossJoin(F.broadcast(batch))


class BronzeWriter:
    """`foreachBatch` function of one source; its batches are parsed (`ingest.parsing.parse` of the stream).

    Every table's write carries txnAppId `ingest:<source>:<table>:<query id>` and txnVersion = the
    batch id, so a batch replayed after a crash (Spark re-runs the same offsets under the same batch
    id) is skipped by the tables that already committed it and written by the others. The query id
    ties the app id to the checkpoint: a new checkpoint starts new app ids rather than having its
    batch 0 skipped as already written.
    """

    def __init__(
        self,
        source: str,
        sql: str | None,
        routes: list[Route],
        quarantine_path: str,
        checkpoint: str,
        event_time: str | None,
        on_batch: Callable[[BatchResult], None],
    ) -> None:
        self.source = source
        self.sql = sql
        self.routes = routes
        self.quarantine_path = quarantine_path
        self.checkpoint = checkpoint
        self.event_time = event_time
        self.on_batch = on_batch
        self._query_id: str | None = None

    def app_id(self, table: str) -> str:
        if self._query_id is None:
            raise RuntimeError("a table's app id is known from the first batch on")
        return f"ingest:{self.source}:{table}:{self._query_id}"

    @property
    def _single_table(self) -> bool:
        """Every good record goes to one table as it is: no transform, no routing rule."""
        return not self.sql and len(self.routes) == 1 and self.routes[0].where is None

    def __call__(self, parsed: DataFrame, batch_id: int) -> None:
        if self._query_id is None:
            self._query_id = query_id(self.checkpoint, parsed.sparkSession)
        batch = batch_columns(parsed.sparkSession, batch_id, datetime.now(timezone.utc))
        if self._single_table:
            result = self._write_observed(parsed, batch_id, batch)
        else:
            parsed = parsed.persist(StorageLevel.MEMORY_AND_DISK)
            try:
                result = self._write(parsed, batch_id, batch)
            finally:
                parsed.unpersist()
        self.on_batch(result)

    @cached_property
    def _stat_columns(self) -> list:
        """The batch statistics, built once: a batch only pays for planning them."""
        aggs = [F.count(F.lit(1)).alias("input"), F.count_if(F.col(REASON).isNotNull()).alias("bad")]
        if self.event_time:
            micros = F.when(F.col(REASON).isNull(), F.unix_micros(F.col(self.event_time)))
            aggs += [
                F.percentile_approx(micros, [0.05, 0.5], 1000).alias("event_pct"),
                F.min(micros).alias("event_min"),
            ]
        return aggs

    def _write_observed(self, parsed: DataFrame, batch_id: int, batch: DataFrame) -> BatchResult:
        """One pass: the batch's statistics are observed while its good records are written.

        Bad records, if any, are read again from the source for the quarantine. When Delta skips the
        write (a batch replayed after a crash, already committed) the query does not run and nothing
        is observed: the statistics then come from an aggregate over the batch.
        """
        observation = Observation()
        observed = parsed.observe(observation, *self._stat_columns)
        route = self.routes[0]
        good = with_batch_columns(observed.where(F.col(REASON).isNull()).select(*route.columns), batch)
        append_once(good, route.path, self.app_id(route.table), batch_id)
        stats = observed_metrics(observation) or self._stats(parsed)
        if stats["bad"]:
            self._quarantine(quarantine_rows(parsed.where(F.col(REASON).isNotNull()), self.source, F.col(REASON)),
                             batch, batch_id)  # fmt: skip
        return self._result(batch_id, stats, {route.name: stats["input"] - stats["bad"]}, stats["bad"])

    def _stats(self, parsed: DataFrame) -> dict:
        return parsed.agg(*self._stat_columns).first().asDict()

    def _write(self, parsed: DataFrame, batch_id: int, batch: DataFrame) -> BatchResult:
        """The transform and routes: `parsed` is persisted, and so is the transform's output, computed
        whole (every column of every record) before any table is written; records it fails on are
        found and quarantined first (ingest.writers.isolation)."""
        stats = self._stats(parsed)
        kept = parsed.where(F.col(REASON).isNull()).drop(REASON)
        with ExitStack() as cached:
            quarantined, failures = [], []
            try:
                good, counts = self._routed(kept, stats, cached)
            except DATA_ERRORS as exc:
                numbered, failures = self._isolate(kept, stats["input"] - stats["bad"], exc, batch_id, cached)
                if failures:
                    quarantined.append(quarantine_rows(numbered.where(failed(failures)), self.source,
                                                       failure_reason(failures)))  # fmt: skip
                    kept = numbered.where(~failed(failures)).drop(RECORD)
                good, counts = self._routed(kept, stats, cached)
            written = {}
            for route in self.routes:
                if counts[route.table]:
                    rows = with_batch_columns(good.where(route.predicate()).select(*route.columns), batch)
                    append_once(rows, route.path, self.app_id(route.table), batch_id)
                written[route.name] = counts[route.table]
            if stats["bad"]:
                quarantined.append(quarantine_rows(parsed.where(F.col(REASON).isNotNull()), self.source, F.col(REASON)))
            if counts.get(UNROUTED):
                reason = F.lit("unrouted: no target's `where` selected the record")
                quarantined.append(quarantine_rows(good.where(unrouted(self.routes)), self.source, reason))
            if quarantined:
                self._quarantine(reduce(DataFrame.unionByName, quarantined), batch, batch_id)
        quarantined_count = stats["bad"] + counts.get(UNROUTED, 0) + sum(f.records for f in failures)
        return self._result(batch_id, stats, written, quarantined_count)

    def _routed(self, kept: DataFrame, stats: dict, cached: ExitStack) -> tuple[DataFrame, dict[str, int]]:
        """The transform's output and each route's count (UNROUTED: rows no route takes)."""
        good = transform(kept, self.sql)
        if not (self.sql or any(r.where for r in self.routes)):
            return good, {r.table: stats["input"] - stats["bad"] for r in self.routes}
        good = good.persist(StorageLevel.MEMORY_AND_DISK)
        cached.callback(good.unpersist)
        leftover = unrouted(self.routes)
        counts = good.agg(
            *[F.count_if(r.predicate()).alias(r.table) for r in self.routes],
            *([F.count_if(leftover).alias(UNROUTED)] if leftover is not None else []),
        )
        return good, counts.first().asDict()

    def _isolate(
        self, kept: DataFrame, records: int, error: Exception, batch_id: int, cached: ExitStack
    ) -> tuple[DataFrame, list[Failure]]:
        """`kept` numbered (ingest.writers.isolation.number_records), and the records of it that the
        transform fails on; none when the error does not come back on a part of the batch."""
        numbered = number_records(kept).persist(StorageLevel.MEMORY_AND_DISK)
        cached.callback(numbered.unpersist)

        def evaluate(part: DataFrame) -> None:
            with ExitStack() as probe:
                self._routed(part, {"input": 0, "bad": 0}, probe)

        failures = find_failures(numbered, records, evaluate, error_summary(error))
        if not failures:
            log.warning("%s batch %d: the transform's error did not come back on a part: %s", self.source,
                        batch_id, error_summary(error))  # fmt: skip
            return numbered, []
        log.warning("%s batch %d: transform failed on %d record(s), quarantined: %s", self.source, batch_id,
                    sum(f.records for f in failures), "; ".join(sorted({f.error for f in failures})))  # fmt: skip
        return numbered, failures

    def _quarantine(self, rows: DataFrame, batch: DataFrame, batch_id: int) -> None:
        """Append quarantine rows (`ingest.writers.quarantine.quarantine_rows`) with the batch's columns."""
        bad = with_batch_columns(rows, batch).select(*QUARANTINE_SCHEMA.fieldNames())
        append_once(bad, self.quarantine_path, self.app_id("quarantine"), batch_id)

    def _result(self, batch_id: int, stats: dict, written: dict[str, int], quarantined: int) -> BatchResult:
        committed = time.time()
        latency = {}
        if stats.get("event_pct") and stats["event_pct"][0] is not None:
            p05, p50 = stats["event_pct"]
            latency = {
                "p50": committed * 1000 - p50 / 1000,
                "p95": committed * 1000 - p05 / 1000,
                "max": committed * 1000 - stats["event_min"] / 1000,
            }
        return BatchResult(
            source=self.source,
            batch_id=batch_id,
            input_rows=stats["input"],
            rows_written=written,
            quarantined=quarantined,
            committed_at=committed,
            latency_ms=latency,
        )
