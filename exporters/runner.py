"""The export loop: table versions -> search index, cursor advanced only after every change is settled.

A change is settled when the engine acknowledged it (written, deleted, or already there at the same or
a newer version) or when it is recorded in the dead-letter table. A process killed at any moment
re-exports at most the range after the cursor, and that re-export is idempotent (external versions).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields, replace
from itertools import islice
from typing import Protocol, TypeVar

from pyspark.sql import DataFrame, SparkSession

from sessionlake.core import storage
from sessionlake.core.backoff import Backoff
from sessionlake.core.errors import ConfigurationError, SessionlakeError, summary
from sessionlake.core.lock import build_lock
from sessionlake.core.settings import Settings
from sessionlake.exporters import dead_letters
from sessionlake.exporters.cdf import (
    Change,
    RawPiiError,
    TableMissingError,
    TableState,
    is_cdf_unavailable,
    iter_changes,
    latest_changes,
    snapshot,
    table_state,
)
from sessionlake.exporters.config import ExportConfig
from sessionlake.exporters.cursor import Cursor, CursorError, CursorStore
from sessionlake.exporters.dead_letters import DeadLetter
from sessionlake.exporters.search import BulkTally, Rejection, SearchExportError, SearchIndex, mapping_properties

log = logging.getLogger(__name__)
GROUP_SIZE = 5_000  # changes held in memory at once while their bulk answers come back
T = TypeVar("T")


class TableReplacedError(SessionlakeError):
    """The table was dropped and re-created: its versions restarted, so the index must be rebuilt."""


@dataclass
class ExportReport:
    versions_read: int = 0
    upserted: int = 0
    deleted: int = 0
    dead_lettered: int = 0
    already_applied: int = 0
    snapshots: int = 0  # full snapshot exports (first run, or change data no longer available)
    last_version: int | None = None  # the cursor after this run

    def __add__(self, other: ExportReport) -> ExportReport:
        merged = ExportReport(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in _COUNTS})
        merged.last_version = other.last_version if other.last_version is not None else self.last_version
        return merged


_COUNTS = [f for f in fields(ExportReport) if f.name != "last_version"]


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _read_ahead(batches: Iterator[list[T]], depth: int = 2) -> Iterator[list[T]]:
    """The same batches, read by a thread up to `depth` ahead: Spark computes and ships the next changes while
    the engine indexes these. An error of the reader is raised here; a consumer that stops early stops it."""
    ready: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=depth)
    done = threading.Event()

    def hand_over(kind: str, value: object) -> bool:
        """Queue one item, giving up when the consumer has stopped; False then."""
        while not done.is_set():
            try:
                ready.put((kind, value), timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for batch in batches:
                if not hand_over("batch", batch):
                    return
            hand_over("end", None)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, who raises it
            hand_over("error", exc)

    reader = threading.Thread(target=read, name="export-read-ahead", daemon=True)
    reader.start()
    try:
        while True:
            kind, value = ready.get()
            if kind == "end":
                return
            if kind == "error":
                raise value  # type: ignore[misc]
            yield value  # type: ignore[misc]
    finally:
        done.set()


@dataclass(frozen=True)
class Forgotten:
    """Sessions and players on the erasure deny-lists: their changes are exported as deletes."""

    sessions: set[str]
    user_keys: set[str]

    def apply(self, change: Change) -> Change:
        if change.is_delete:
            return change
        # A player's key is only read (parsing the document) when some player was forgotten.
        user_key = (change.document or {}).get("user_key") if self.user_keys else None
        if change.session_id in self.sessions or (user_key is not None and user_key in self.user_keys):
            return Change(change.session_id, "delete", change.version, None)
        return change


def _letter(change: Change, status: int | None, error_type: str, reason: str) -> DeadLetter:
    return DeadLetter(
        change.session_id, change.version, change.change_type, status, error_type, reason, change.document
    )


def _from_rejection(rejection: Rejection) -> DeadLetter:
    return _letter(rejection.change, rejection.status, rejection.error_type, rejection.reason)


class Exporter:
    def __init__(self, spark: SparkSession, config: ExportConfig, index: SearchIndex | None = None) -> None:
        self.spark = spark
        self.config = config
        self.index = index or SearchIndex(config)
        self.cursors = CursorStore(config.cursor_dir, config.table, config.index, spark)

    def reindex(self) -> None:
        """Drop the index and the cursor; the next run rebuilds the index from a snapshot."""
        log.warning("reindex: deleting index %s and its export cursor", self.config.index)
        self.index.delete()
        self.cursors.clear()

    def run_once(self) -> ExportReport:
        """Export every change committed up to now."""
        cursor = self.cursors.load()
        state = table_state(self.spark, self.config.table, since=cursor.version if cursor else None)
        created = self.index.ensure(state.schema)
        if cursor and cursor.table_id != state.table_id:
            if state.commit_millis.get(cursor.version) != cursor.commit_millis:
                raise TableReplacedError(
                    f"{self.config.table} was dropped and re-created (table id {cursor.table_id} -> "
                    f"{state.table_id}): its versions restarted, so run `sessionlake export --reindex`"
                )
            log.info("%s was replaced in place (new table id, same history): exporting on", self.config.table)
        if cursor and created:
            log.warning("index %s was missing: exporting a full snapshot", self.config.index)
            cursor = None
        if cursor is None:
            log.info("no export cursor for %s -> %s: full snapshot export", self.config.table, self.config.index)
            return self._snapshot(state)
        if cursor.version >= state.latest_version:
            return ExportReport(last_version=cursor.version)
        start = cursor.version + 1
        if start < state.oldest_version:
            log.warning(
                "cursor at version %d but %s keeps versions from %d on: falling back to a full snapshot export",
                cursor.version,
                self.config.table,
                state.oldest_version,
            )
            return self._snapshot(state)
        report = ExportReport()
        while start <= state.latest_version:
            end = min(start + self.config.max_versions_per_batch - 1, state.latest_version)
            try:
                report += self._export(state, latest_changes(self.spark, self.config.table, start, end), start, end)
            except Exception as exc:
                if not is_cdf_unavailable(exc):
                    raise
                log.warning(
                    "change data of %s versions %d..%d is not available (vacuumed, or the change data feed "
                    "was enabled later): falling back to a full snapshot export. Cause: %s",
                    self.config.table,
                    start,
                    end,
                    str(exc).splitlines()[0],
                )
                return report + self._snapshot(state)
            start = end + 1
        return report

    def _snapshot(self, state: TableState) -> ExportReport:
        version = state.latest_version
        changes = snapshot(self.spark, self.config.table, version)
        report = self._export(state, changes, version, version, is_snapshot=True)
        report.snapshots = 1
        report.versions_read = 1
        return report

    def _export(
        self, state: TableState, changes: DataFrame, start: int, end: int, is_snapshot: bool = False
    ) -> ExportReport:
        tally = BulkTally()
        letters: list[DeadLetter] = []
        erased = self._forgotten()
        for group in _read_ahead(_batches(iter_changes(changes), GROUP_SIZE)):
            keyed = [erased.apply(c) for c in group if c.session_id and c.session_id.strip()]
            letters += [
                _letter(c, None, "missing_session_id", "session_id is null or blank")
                for c in group
                if not (c.session_id and c.session_id.strip())
            ]
            letters += [_from_rejection(r) for r in self.index.apply(keyed, tally)]
        if is_snapshot:
            letters += self._delete_missing(end, {letter.session_id for letter in letters}, tally)
        if letters:
            with self._writer_lock():
                dead_letters.write(
                    self.spark,
                    self.config.dead_letter_table,
                    letters,
                    source_table=self.config.table,
                    index=self.config.index,
                    app_id=f"sessionlake-export:{state.table_id}:{self.config.index}",
                    txn_version=end,
                )
        self.index.refresh()  # the next range's writes find these documents where they are (layout.locate)
        self.cursors.save(Cursor(self.config.table, state.table_id, self.config.index, end, state.commit_millis[end]))
        report = ExportReport(
            versions_read=end - start + 1,
            upserted=tally.upserted,
            deleted=tally.deleted,
            dead_lettered=len(letters),
            already_applied=tally.already_applied,
            last_version=end,
        )
        log.info(
            "exported %s versions %d..%d -> %s: %d upserted, %d deleted, %d already applied, %d dead-lettered",
            self.config.table,
            start,
            end,
            self.config.index,
            report.upserted,
            report.deleted,
            report.already_applied,
            report.dead_lettered,
        )
        if letters:
            log.warning("%d change(s) dead-lettered to %s", len(letters), self.config.dead_letter_table)
        return report

    def _forgotten(self) -> Forgotten:
        """The deny-lists as they are now (empty before the first erasure created them)."""
        tables = {}
        for name in (self.config.forgotten_sessions, self.config.forgotten_players):
            tables[name] = (
                {r[0] for r in self.spark.table(name).collect()} if self.spark.catalog.tableExists(name) else set()
            )
        return Forgotten(tables[self.config.forgotten_sessions], tables[self.config.forgotten_players])

    def _writer_lock(self) -> contextlib.AbstractContextManager[None]:
        """The build lock, when configured: no VACUUM RETAIN 0 HOURS of forget runs beside the append."""
        if self.config.build_lock is None:
            return contextlib.nullcontext()
        return build_lock(self.config.build_lock, wait=self.config.lock_wait_seconds)

    def _delete_missing(self, version: int, keep: set[str | None], tally: BulkTally) -> list[DeadLetter]:
        """After a snapshot at `version`, delete the documents it did not write (rows deleted meanwhile)."""
        self.index.refresh()
        gone = (Change(i, "delete", version, None) for i in self.index.ids_older_than(version) if i not in keep)
        letters: list[DeadLetter] = []
        for group in _batches(gone, GROUP_SIZE):
            letters += [_from_rejection(r) for r in self.index.apply(group, tally)]
        return letters


@dataclass(frozen=True)
class Rebuilt:
    index: str  # the alias's one index now
    replaced: tuple[str, ...]  # the indices the alias stood for, deleted
    report: ExportReport


def rebuild(spark: SparkSession, config: ExportConfig) -> Rebuilt:
    """Build a new index from the table beside the live ones and swap the alias to it atomically, while exporters
    go on writing through the alias: the new index is filled from a snapshot, caught up from the change feed,
    swapped in (the old indices deleted in the same alias update), then caught up again with whatever was
    committed meanwhile. External versions make every overlap with the live exporter harmless. A failure before
    the swap deletes the new index and leaves the alias as it was."""
    live = SearchIndex(config)
    live.check_lifecycle()
    live.layout.put_template(mapping_properties(table_state(spark, config.table).schema))
    new = live.layout.new_generation()
    builder = Exporter(spark, replace(config, index=new, cursor_dir=storage.join(config.cursor_dir, f"rebuild-{new}")))
    swapped = False
    try:
        report = builder.run_once()
        report += builder.run_once()
        old = live.layout.swap(new)
        swapped = True
        report += _catch_up(builder)
    finally:
        if not swapped:
            builder.cursors.clear()
            live.client.indices.delete(index=new, ignore_unavailable=True)
    builder.cursors.clear()
    return Rebuilt(new, old, report)


def _catch_up(builder: Exporter, attempts: int = 5) -> ExportReport:
    """The rebuilt index's last catch-up, after the swap: what live exporters wrote to the deleted indices since the
    builder's previous run is only in the table now, so this must succeed; retried with backoff, and on failure the
    error says what to do (the builder's cursor is kept for nothing else: a new reindex starts afresh)."""
    backoff = Backoff(initial=2.0, maximum=30.0)
    for attempt in range(1, attempts + 1):
        try:
            return builder.run_once()
        except Exception as exc:
            if attempt == attempts:
                raise SearchExportError(
                    f"the alias now stands for {builder.config.index}, but catching it up with the last commits failed "
                    f"({summary(exc)}): run `sessionlake index reindex` again"
                ) from exc
            log.warning("reindex catch-up failed (%s); retry %d/%d", summary(exc), attempt, attempts - 1)
            time.sleep(backoff.next_delay())
    raise AssertionError("unreachable")


class ExportObserver(Protocol):
    """What a supervisor hears of the export loop, tick by tick."""

    def exported(self, report: ExportReport) -> None: ...

    def export_failed(self, error: str) -> None: ...

    def export_waiting(self, reason: str) -> None:
        """The table is not there yet (the first build creates it): a wait, not a failure."""


def export(
    settings: Settings,
    spark: SparkSession,
    once: bool = True,
    every: float = 30.0,
    config: ExportConfig | None = None,
    reindex: bool = False,
    stop: threading.Event | None = None,
    observer: ExportObserver | None = None,
) -> ExportReport:
    """Export the table's changes to the search index: once, or every `every` seconds until `stop` is set
    (a missing table is waited for; other errors are logged and retried on the next tick; a configuration
    error, raw PII, an unreadable cursor or a re-created table end the loop)."""
    exporter = Exporter(spark, config or ExportConfig.from_settings(settings))
    if reindex:
        exporter.reindex()
    if once:
        return exporter.run_once()
    stop = stop or threading.Event()
    total = ExportReport()
    waiting = False
    while not stop.is_set():
        started = time.monotonic()
        try:
            tick = exporter.run_once()
        except (TableReplacedError, CursorError, RawPiiError, ConfigurationError) as exc:
            if observer:
                observer.export_failed(summary(exc))
            raise  # the next tick would fail the same way: an operator has to act
        except TableMissingError as exc:
            if not waiting:
                log.info("export waiting: %s", exc)
            waiting = True
            if observer:
                observer.export_waiting(str(exc))
        except Exception as exc:
            log.exception("export failed; retrying in %.0fs from the last cursor", every)
            if observer:
                observer.export_failed(summary(exc))
        else:
            waiting = False
            total += tick
            if observer:
                observer.exported(tick)
        stop.wait(max(0.0, every - (time.monotonic() - started)))
    return total
