"""`sqlfluff lint` of the dbt models and macros (dbt templater, sparksql dialect), as part of the tests.

Runs in-process, so the dbt templater's `method: session` connection is the test session's SparkSession.
"""

from __future__ import annotations

import pytest
from sqlfluff.core import FluffConfig, Linter

from sessionlake.settings import REPO_ROOT


def test_models_and_macros_are_sqlfluff_clean(spark, settings, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DBT_TARGET_PATH", str(settings.home / "dbt" / "lint-target"))
    monkeypatch.setenv("DBT_LOG_PATH", str(settings.home / "dbt" / "lint-logs"))
    monkeypatch.chdir(REPO_ROOT)
    linter = Linter(config=FluffConfig.from_root())
    records = linter.lint_paths(("models", "macros")).as_records()
    assert len([r for r in records if r["filepath"].startswith("models")]) >= 9  # every model was linted
    problems = [
        f"{record['filepath']}:{v['start_line_no']}:{v['start_line_pos']} {v['code']} {v['description']}"
        for record in records
        for v in record["violations"]
    ]
    assert problems == []
