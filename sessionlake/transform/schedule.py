"""`sessionlake build --every 5m`: dbt build in a loop in one process, on one warm SparkSession."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from pyspark.sql import SparkSession

from sessionlake.core.backoff import Backoff
from sessionlake.core.errors import summary
from sessionlake.core.lock import BuildLocked
from sessionlake.core.settings import Settings
from sessionlake.transform.inputs import InputVersions
from sessionlake.transform.runner import BuildResult, Checks, build

log = logging.getLogger(__name__)


class BuildObserver(Protocol):
    """What a supervisor hears of the loop: a build started; it ended (a result, or the error it raised);
    a tick passed without a build (nothing new to build, or a bronze table not created yet)."""

    def build_started(self) -> None: ...

    def build_finished(self, result: BuildResult | None, error: str | None, next_in: float) -> None: ...

    def build_skipped(self, reason: str, next_in: float, waiting: bool) -> None: ...


class BuildInputs(Protocol):
    """The versions of what a build reads (transform.inputs.BronzeInputs)."""

    def read(self) -> InputVersions: ...


def run_every(
    settings: Settings,
    spark: SparkSession,
    interval_seconds: float,
    select: list[str] | None = None,
    max_runs: int | None = None,
    stop: threading.Event | None = None,
    checks: Checks = Checks.EVERY_BUILD,
    observer: BuildObserver | None = None,
    backoff: Backoff | None = None,
    build_once: Callable[..., BuildResult] = build,
    inputs: BuildInputs | None = None,
) -> list[BuildResult]:
    """Build at every tick until `stop` is set or `max_runs` builds have been attempted.

        Ticks are fixed (start + k * interval); a build that overruns skips the ticks it covered instead of
        queueing them, so builds never overlap. A build that fails (a failed node, or an exception) is tried
        again after `backoff` (default 15 s, doubling), never later than the next tick; a failed build leaves
        every table at its last committed version. A build that finds the lock taken by another process waits
        for the next tick. With `inputs`, a tick builds only when a bronze table has a version the last
        successful build did not start from (the first tick builds once any bronze table holds data), and waits
    while one is missing.
    """
    stop = stop or threading.Event()
    backoff = backoff or Backoff(initial=15.0, maximum=interval_seconds)
    results: list[BuildResult] = []
    attempts = 0
    built_from: dict[str, int] | None = None  # the input versions the last successful build started from
    last_reason = None
    start = time.monotonic()

    def until_next_tick() -> float:
        elapsed = time.monotonic() - start
        return (int(elapsed // interval_seconds) + 1) * interval_seconds - elapsed

    while not stop.is_set() and (max_runs is None or attempts < max_runs):
        result, error, seen, reason = None, None, None, None
        try:
            seen = inputs.read() if inputs is not None else None
        except Exception as exc:
            log.exception("reading the build's inputs failed")
            error = summary(exc)
        if seen is not None and seen.missing:
            reason = f"waiting for bronze tables ingest has not created yet: {', '.join(seen.missing)}"
        elif seen is not None and built_from is None and seen.all_empty:
            reason = "waiting for the first bronze data (every bronze table is empty)"
        elif seen is not None and seen.versions == built_from:
            reason = "no new bronze data since the last build"
        if reason is not None:
            if reason != last_reason:
                log.info("build skipped: %s", reason)
            last_reason = reason
            wait = until_next_tick()
            if observer:
                observer.build_skipped(reason, wait, waiting=bool(seen.missing) or seen.all_empty)
            stop.wait(wait)
            continue
        last_reason = None
        attempts += 1
        if observer:
            observer.build_started()
        if error is None:
            try:
                result = build_once(settings, spark, select=select, checks=checks)
                results.append(result)
            except BuildLocked as exc:
                log.warning("skipping this tick: %s", exc)
            except Exception as exc:
                log.exception("dbt build raised")
                error = summary(exc)
        wait = until_next_tick()
        if error is not None or (result is not None and not result.success):
            wait = min(wait, backoff.next_delay())
            log.warning("build failed; trying again in %.0fs", wait)
        elif result is not None:
            backoff.reset()
            built_from = seen.versions if seen is not None else None
        if observer:
            observer.build_finished(result, error, wait)
        if max_runs is not None and attempts >= max_runs:
            break
        stop.wait(wait)
    return results
