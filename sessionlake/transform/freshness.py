"""Source freshness: `dbt source freshness` over the bronze sources (their `loaded_at_field` is
`_ingested_at`, thresholds in each `_<service>__sources.yml`), and its report read back for `status`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sessionlake.core.dbt import dbt_project, invoke
from sessionlake.core.durations import human_duration
from sessionlake.core.errors import SessionlakeError
from sessionlake.core.settings import Settings


class FreshnessError(SessionlakeError):
    """dbt could not compute source freshness (not: a source is stale, which is a result)."""


@dataclass(frozen=True)
class SourceFreshness:
    source: str  # <dbt source>.<table>
    status: str  # pass | warn | error | runtime error
    max_loaded_at: str | None
    age_seconds: float | None  # at the time of the check
    checked_at: str | None
    error: str | None = None

    @property
    def newest_row(self) -> str:
        """`newest row 3m 5s old`, or `no rows` (dbt reports an empty table's max as 0001-01-01)."""
        if self.max_loaded_at is None or self.max_loaded_at.startswith("0001-") or self.age_seconds is None:
            return "no rows"
        return f"newest row {human_duration(self.age_seconds)} old"


def report_path(settings: Settings) -> Path:
    return dbt_project(settings).target_path / "sources.json"


def read_freshness(path: Path) -> list[SourceFreshness]:
    """The last `dbt source freshness` report (dbt's sources.json), by source; [] when there is none."""
    if not path.exists():
        return []
    results = json.loads(path.read_text()).get("results", [])
    found = []
    for result in results:
        *_, source, table = result["unique_id"].split(".")
        found.append(SourceFreshness(
            source=f"{source}.{table}",
            status=result.get("status", "unknown"),
            max_loaded_at=result.get("max_loaded_at"),
            age_seconds=result.get("max_loaded_at_time_ago_in_s"),
            checked_at=result.get("snapshotted_at"),
            error=result.get("error") or None,
        ))  # fmt: skip
    return sorted(found, key=lambda f: f.source)


def check_freshness(settings: Settings) -> list[SourceFreshness]:
    """Run `dbt source freshness` on the session target; the report, also left for `status`."""
    path = report_path(settings)
    before = path.stat().st_mtime if path.exists() else None
    invoke(settings, ["source", "freshness"])  # exit status: failure when a source is past error_after
    if not path.exists() or path.stat().st_mtime == before:
        raise FreshnessError("dbt source freshness wrote no report: see the dbt log under $SESSIONLAKE_HOME/dbt/logs")
    return read_freshness(path)


def checked_at_epoch(freshness: SourceFreshness) -> float | None:
    if not freshness.checked_at:
        return None
    return datetime.fromisoformat(freshness.checked_at.replace("Z", "+00:00")).timestamp()
