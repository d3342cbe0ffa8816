"""Runs `dbt build` in this process, on the SparkSession the caller built (dbt-spark `method: session`)."""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from pyspark.sql import SparkSession

from sessionlake.core.dbt import invoke
from sessionlake.core.lock import build_lock
from sessionlake.core.settings import Settings

log = logging.getLogger(__name__)

# What the models' post-hook (macros/maintenance/report_rows_written.sql) logs; the Delta conf that stamps
# the build's commits with its own id, and the variable the post-hook and the thrift profile read it from.
_ROWS_REPORT = "report_rows_written: "
_COMMIT_STAMP = "spark.databricks.delta.commitInfo.userMetadata"
_STAMP_ENV = "SESSIONLAKE_BUILD_STAMP"
# Delta operations whose metrics count rows written into a model's table.
_ROW_METRICS = {
    "MERGE": ("numTargetRowsInserted", "numTargetRowsUpdated", "numTargetRowsDeleted"),
    "CREATE OR REPLACE TABLE AS SELECT": ("numOutputRows",),
    "CREATE TABLE AS SELECT": ("numOutputRows",),
    "REPLACE TABLE AS SELECT": ("numOutputRows",),
    "WRITE": ("numOutputRows",),
}


class Checks(str, Enum):
    """The checks a build runs (docs/dbt.md, "Checks: every build, and all of them").

    EVERY_BUILD, the build loop's: the data tests whose `meta.checks` is `every_build` (the keys merges
    and erasure rely on) and the PII value guard over the bronze rows of the incremental window, so a
    build costs what its new data costs. ALL, for CI and a nightly run: every data and unit test, and
    the guard's value scan over the whole bronze history.
    """

    EVERY_BUILD = "every-build"
    ALL = "all"

    def dbt_args(self) -> list[str]:
        if self is Checks.ALL:
            return ["--vars", json.dumps({"pii_value_scan": "full"})]
        return ["--exclude", "config.meta.checks:all", "--exclude-resource-type", "unit_test"]


@dataclass(frozen=True)
class BuildResult:
    success: bool
    duration_seconds: float
    rows_merged: dict[str, int] = field(default_factory=dict)  # "schema.table" -> rows written by the build
    failures: list[str] = field(default_factory=list)  # "<node>: <message>" of errored or failed nodes


def build(
    settings: Settings,
    spark: SparkSession,
    select: list[str] | None = None,
    full_refresh: bool = False,
    checks: Checks = Checks.EVERY_BUILD,
) -> BuildResult:
    """`dbt build` (models, seeds and the `checks`' tests) under the build lock.

    dbt-spark's session connection calls SparkSession.builder.getOrCreate(), which returns `spark`:
    dbt runs on the caller's warm session. Each model is one atomic Delta commit, so a failed build
    leaves every table at a committed version, and the next build picks the work up again.
    """
    args = ["build"]
    if select:
        args += ["--select", *select]
    if full_refresh:
        args.append("--full-refresh")
    args += checks.dbt_args()
    started = time.monotonic()
    commits: dict[str, dict] = {}

    def collect(event: Any) -> None:
        if event.info.name == "JinjaLogDebug" and event.data.msg.startswith(_ROWS_REPORT):
            report = json.loads(event.data.msg[len(_ROWS_REPORT) :])
            commits[report["table"]] = report

    stamp = f"sessionlake-build:{uuid.uuid4()}"
    with build_lock(settings.build_lock):
        spark.conf.set(_COMMIT_STAMP, stamp)  # the session target's commits; thrift: profiles.yml
        try:
            result = invoke(settings, args, callbacks=[collect], env={_STAMP_ENV: stamp})
        finally:
            spark.conf.unset(_COMMIT_STAMP)
    duration = time.monotonic() - started
    nodes = list(result.result or []) if result.result is not None else []
    failures = [
        f"{r.node.unique_id}: {r.message}" for r in nodes if str(r.status) in ("error", "fail", "runtime error")
    ]
    if result.exception is not None:
        failures.append(f"dbt: {result.exception}")
    models = [
        r.node
        for r in nodes
        if r.node.resource_type == "model"
        and r.node.config.materialized in ("incremental", "table")
        and str(r.status) == "success"
    ]
    rows = {}
    for node in models:
        name = f"{node.schema}.{node.alias}"
        commit = commits.get(name)
        rows[name] = _rows_written(commit["operation"], commit["metrics"]) if commit else 0
    outcome = BuildResult(
        success=bool(result.success) and not failures,
        duration_seconds=duration,
        rows_merged=rows,
        failures=failures,
    )
    log.info(
        "dbt build %s in %.1fs; rows merged: %s",
        "succeeded" if outcome.success else "FAILED",
        outcome.duration_seconds,
        outcome.rows_merged,
    )
    for failure in outcome.failures:
        log.error("dbt build failure: %s", failure)
    return outcome


def _rows_written(operation: str, metrics: dict[str, str]) -> int:
    """Rows a Delta commit wrote into a model's table, from its operation metrics."""
    return sum(int(metrics.get(key, 0)) for key in _ROW_METRICS.get(operation, ()))
