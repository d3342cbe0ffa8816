"""The privacy run-operations of the dbt project (macros/privacy/), run in-process on the caller's
SparkSession, retried on Delta commit conflicts (they are idempotent), with the report the macro logs."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from pyspark.sql import SparkSession

from sessionlake.core.dbt import invoke
from sessionlake.core.errors import SessionlakeError
from sessionlake.core.settings import Settings
from sessionlake.privacy.delta import is_conflict_message

log = logging.getLogger(__name__)

_RETENTION_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"
_DELETED = "rows_deleted: "  # what erase_forgotten logs after each delete it committed


class OperationError(SessionlakeError):
    """A privacy run-operation failed; it is idempotent, so running it again is safe."""


def _failure(result: Any, caught: list[str]) -> str:
    """What a failed dbt invocation says: its exception, or the run-operation's error message (dbt reports
    a macro's error only as a RunningOperationCaughtError event)."""
    messages = [str(getattr(r, "message", "") or "") for r in (getattr(result, "result", None) or [])]
    text = " ".join(m for m in [str(result.exception or ""), *messages, *caught] if m)
    return text or "see the dbt log"


def run_operation(
    settings: Settings, spark: SparkSession, macro: str, args: dict[str, Any], retries: int
) -> dict[str, Any] | None:
    """`dbt run-operation <macro> --args <args>`; returns the JSON report the macro logs as `<macro>: {...}`
    (the last one), if any. Its `rows_deleted` counts every delete committed by every attempt (each delete
    logs `rows_deleted: {table, rows}` once committed): an attempt that failed on a conflict after some
    deletes committed is not forgotten by the retry that finds nothing left there. The macros disable
    Delta's vacuum retention check for their zero-retention VACUUMs; the session's setting is restored
    here whatever happens."""
    reports: list[dict[str, Any]] = []
    caught: list[str] = []
    deleted: dict[str, int] = {}

    def collect(event: Any) -> None:
        if event.info.name in ("RunningOperationCaughtError", "RunningOperationUncaughtError"):
            caught.append(" ".join(str(event.data.exc).split()))
        elif event.info.name == "JinjaLogInfo" and event.data.msg.startswith(f"{macro}: {{"):
            reports.append(json.loads(event.data.msg.split(": ", 1)[1]))
        elif event.info.name == "JinjaLogInfo" and event.data.msg.startswith(_DELETED):
            commit = json.loads(event.data.msg[len(_DELETED) :])
            deleted[commit["table"]] = deleted.get(commit["table"], 0) + int(commit["rows"])

    previous = spark.conf.get(_RETENTION_CHECK, "true")
    delay = 0.5
    try:
        for attempt in range(retries + 1):
            caught.clear()
            result = invoke(settings, ["run-operation", macro, "--args", json.dumps(args)], callbacks=[collect])
            if result.success:
                report = reports[-1] if reports else None
                if report is not None and "rows_deleted" in report:
                    report["rows_deleted"] = {t: deleted.get(t, 0) for t in report["rows_deleted"]} | deleted
                return report
            message = _failure(result, caught)
            if attempt == retries or not is_conflict_message(message):
                raise OperationError(f"dbt run-operation {macro} failed: {message}")
            log.warning("%s: concurrent commit, retry %d/%d in %.1fs", macro, attempt + 1, retries, delay)
            time.sleep(delay)
            delay = min(delay * 2, 30.0)
    finally:
        spark.conf.set(_RETENTION_CHECK, previous)
    raise AssertionError("unreachable")
