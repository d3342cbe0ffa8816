"""Delta maintenance of the dbt models, through the project's run-operations (macros/maintenance/)."""

from __future__ import annotations

import json

from sessionlake.core.dbt import invoke
from sessionlake.core.errors import SessionlakeError
from sessionlake.core.lock import build_lock
from sessionlake.core.settings import Settings


class MaintenanceError(SessionlakeError):
    """A maintenance run-operation or the docs generation failed."""


def run_operation(settings: Settings, macro: str, **args: object) -> None:
    """`dbt run-operation <macro> --args <args>` under the build lock (never beside a build)."""
    with build_lock(settings.build_lock):
        result = invoke(settings, ["run-operation", macro, "--args", json.dumps(args)])
    if not result.success:
        raise MaintenanceError(f"{macro}({args}) failed: {result.exception or 'see the dbt log'}")


def optimize(settings: Settings, model: str, zorder_by: list[str] | None = None) -> None:
    """Compact a model's table, Z-ordered (by session_id unless told otherwise)."""
    run_operation(settings, "optimize_model", model=model, zorder_by=zorder_by or ["session_id"])


def vacuum(settings: Settings, model: str, retain_hours: float) -> None:
    """VACUUM a model's table; refused below vars.exporter_max_lag_hours."""
    run_operation(settings, "vacuum_model", model=model, retain_hours=retain_hours)


def history(settings: Settings, model: str, limit: int = 20) -> None:
    """Log the latest versions of a model's table (DESCRIBE HISTORY)."""
    run_operation(settings, "model_history", model=model, limit=limit)


def restore(settings: Settings, model: str, version: int) -> None:
    """Roll a model's table back to an earlier version (RESTORE ... TO VERSION AS OF)."""
    run_operation(settings, "restore_model", model=model, version=version)


def generate_docs(settings: Settings) -> None:
    """`dbt docs generate` into $SESSIONLAKE_HOME/dbt/target (open it with `dbt docs serve`)."""
    result = invoke(settings, ["docs", "generate"])
    if not result.success:
        raise MaintenanceError(f"dbt docs generate failed: {result.exception or 'see the dbt log'}")
