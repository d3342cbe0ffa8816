"""`sessionlake build --every 5m`: dbt build in a loop in one process, on one warm SparkSession."""

from __future__ import annotations

import logging
import re
import threading
import time

from pyspark.sql import SparkSession

from sessionlake.core.lock import BuildLocked
from sessionlake.core.settings import Settings
from sessionlake.transform.runner import BuildResult, Checks, build

log = logging.getLogger(__name__)

_UNITS = {"s": 1, "m": 60, "h": 3600}


def parse_interval(text: str) -> float:
    """'30s', '5m', '1h' (or a bare number of seconds) -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"not an interval: {text!r} (use e.g. 30s, 5m, 1h)")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def run_every(
    settings: Settings,
    spark: SparkSession,
    interval_seconds: float,
    select: list[str] | None = None,
    max_runs: int | None = None,
    stop: threading.Event | None = None,
    checks: Checks = Checks.EVERY_BUILD,
) -> list[BuildResult]:
    """Build at every tick until `stop` is set or `max_runs` builds have been attempted.

    Ticks are fixed (start + k * interval); a build that overruns skips the ticks it covered instead of
    queueing them, so builds never overlap. A build that fails, or finds the lock taken by another
    process, is simply tried again at the next tick.
    """
    stop = stop or threading.Event()
    results: list[BuildResult] = []
    attempts = 0
    start = time.monotonic()
    while not stop.is_set() and (max_runs is None or attempts < max_runs):
        attempts += 1
        try:
            results.append(build(settings, spark, select=select, checks=checks))
        except BuildLocked as exc:
            log.warning("skipping this tick: %s", exc)
        except Exception:
            log.exception("dbt build raised; retrying at the next tick")
        if max_runs is not None and attempts >= max_runs:
            break
        elapsed = time.monotonic() - start
        next_tick = (int(elapsed // interval_seconds) + 1) * interval_seconds
        stop.wait(next_tick - elapsed)
    return results
