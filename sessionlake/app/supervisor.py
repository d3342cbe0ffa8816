"""`sessionlake up`: the whole pipeline, continuously, in one process: every ingest source as its own
streaming query, the dbt build loop on its interval and the exporter, each stage in its own thread on one
warm SparkSession (docs/architecture.md, "One supervised pipeline").

Stages are isolated: a failed source is restarted with backoff while the others run (ingest.runner), a
failed build is retried with backoff (transform.schedule), an export tick that fails (the search engine
down) is retried at the next tick from the exporter's cursor. A stage whose loop itself raises is started
again after a backoff. `stop` (SIGINT, SIGTERM) ends every stage after its work in flight: the batches in
flight commit, the build running finishes, the export tick running finishes. Every stage's state goes to
the state file `sessionlake status` reads (app.state).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import SparkSession

from sessionlake.app.state import StateWriter
from sessionlake.core.backoff import Backoff
from sessionlake.core.errors import summary
from sessionlake.core.settings import Settings
from sessionlake.exporters.runner import ExportReport, export
from sessionlake.ingest.config import bronze_tables
from sessionlake.ingest.runner import run as ingest
from sessionlake.ingest.writers.bronze import BatchResult
from sessionlake.transform import BuildResult, Checks
from sessionlake.transform.inputs import BronzeInputs
from sessionlake.transform.schedule import run_every

log = logging.getLogger(__name__)

BUILD, EXPORT = "build", "export"


def source_stage(source: str) -> str:
    return f"ingest {source}"


@dataclass(frozen=True)
class PipelineOptions:
    build_every: float = 300.0
    export_every: float = 30.0
    sources: list[str] | None = None
    config_dir: Path | None = None
    trigger: str | None = None
    checks: Checks = Checks.EVERY_BUILD


class _IngestStages:
    """ingest.runner's observer: each source's state in the state file."""

    def __init__(self, state: StateWriter) -> None:
        self.state = state

    def source_started(self, source: str) -> None:
        self.state.update(source_stage(source), state="running", next_attempt_at=None)

    def batch_committed(self, result: BatchResult) -> None:
        rows = sum(result.rows_written.values())
        did = f"batch {result.batch_id}: {rows} rows, {result.quarantined} quarantined"
        self.state.succeeded(source_stage(result.source), did)

    def source_failed(self, source: str, error: str, retry_in: float | None) -> None:
        self.state.failed(source_stage(source), error, retry_in)


class _BuildStage:
    """transform.schedule's observer: the build loop's state in the state file."""

    def __init__(self, state: StateWriter) -> None:
        self.state = state
        self._started = 0.0

    def build_started(self) -> None:
        self._started = time.monotonic()
        self.state.update(BUILD, state="running", next_attempt_at=None, note=None)

    def build_finished(self, result: BuildResult | None, error: str | None, next_in: float) -> None:
        seconds = time.monotonic() - self._started
        if error is None and result is not None and result.success:
            merged = sum(result.rows_merged.values())
            self.state.succeeded(BUILD, f"{merged} rows merged into {len(result.rows_merged)} tables", seconds, next_in)
        elif error is None and result is None:
            self.state.skipped(BUILD, "skipped: another process holds the build lock", next_in)
        else:
            failures = "; ".join(result.failures) if result is not None and result.failures else None
            self.state.failed(BUILD, error or failures or "failed", next_in)

    def build_skipped(self, reason: str, next_in: float, waiting: bool) -> None:
        self.state.skipped(BUILD, reason, next_in, waiting=waiting)


class ExportStage:
    """The export loop's observer: its state in the state file."""

    def __init__(self, state: StateWriter, every: float) -> None:
        self.state, self.every = state, every

    def exported(self, report: ExportReport) -> None:
        did = f"upserted {report.upserted}, deleted {report.deleted}, cursor at {report.last_version}"
        self.state.succeeded(EXPORT, did, next_in=self.every)

    def export_failed(self, error: str) -> None:
        self.state.failed(EXPORT, error, self.every)

    def export_waiting(self, reason: str) -> None:
        self.state.skipped(EXPORT, reason, self.every, waiting=True)


def _supervised(name: str, loop: Callable[[], object], state: StateWriter, stop: threading.Event) -> None:
    """Run a stage's loop until `stop`; if the loop itself raises, record it and start it again after a backoff."""
    backoff = Backoff(initial=10.0, maximum=300.0)
    while not stop.is_set():
        try:
            loop()
        except Exception as exc:
            log.exception("%s stopped on an error", name)
            delay = backoff.next_delay()
            state.failed(name, summary(exc), delay)
            stop.wait(delay)
        else:
            return


def run_pipeline(settings: Settings, spark: SparkSession, options: PipelineOptions, stop: threading.Event) -> None:
    """Run every stage until `stop` is set, then let each finish its work in flight."""
    state = StateWriter(settings.home)
    loops: dict[str, Callable[[], object]] = {
        "ingest": lambda: ingest(
            settings,
            spark,
            sources=options.sources,
            once=False,
            config_dir=options.config_dir,
            trigger=options.trigger,
            stop=stop,
            observer=_IngestStages(state),
        ),
        BUILD: lambda: run_every(
            settings,
            spark,
            options.build_every,
            stop=stop,
            checks=options.checks,
            observer=_BuildStage(state),
            inputs=BronzeInputs(settings, spark, bronze_tables(options.config_dir)),
        ),
        EXPORT: lambda: export(
            settings,
            spark,
            once=False,
            every=options.export_every,
            stop=stop,
            observer=ExportStage(state, options.export_every),
        ),
    }
    threads = [
        threading.Thread(target=_supervised, args=(name, loop, state, stop), name=f"sessionlake-{name}", daemon=True)
        for name, loop in loops.items()
    ]
    for thread in threads:
        thread.start()
    try:
        while not stop.wait(1.0):  # a timed wait: the signal handler that sets `stop` runs in this thread
            pass
        log.info("stopping: the batches in flight commit, a running build and export tick finish")
        for thread in threads:
            thread.join()
    finally:
        state.stopped()
