"""What `sessionlake run` reports and exits with when a stage fails (no Spark)."""

from __future__ import annotations

from sessionlake.app.pipeline import stage_failures
from sessionlake.ingest.runner import IngestReport
from sessionlake.transform import BuildResult


def test_every_failed_stage_is_named_once_per_failure():
    ingested = IngestReport(errors={"s3-logs": "QueueDoesNotExist: no queue 'logs'", "events": "broker down"})
    built = BuildResult(success=False, duration_seconds=1.0, failures=["model.sessionlake.sessions: merge failed"])
    assert stage_failures(ingested, built, "ConnectionError: search engine unreachable") == [
        "ingest events: broker down",
        "ingest s3-logs: QueueDoesNotExist: no queue 'logs'",
        "build: model.sessionlake.sessions: merge failed",
        "export: ConnectionError: search engine unreachable",
    ]


def test_a_failed_build_without_node_failures_still_counts_and_a_clean_pass_has_none():
    assert stage_failures(IngestReport(), BuildResult(success=False, duration_seconds=0.0), None) == ["build: failed"]
    assert stage_failures(IngestReport(), BuildResult(success=True, duration_seconds=0.0), None) == []
