"""The Databricks path cannot rot silently: the project parses and compiles with the `databricks` target
offline (`dbt compile --no-introspect --no-populate-cache`: no workspace is reached, the host cannot even
resolve; macros/introspective.sql). In a subprocess, so that dbt's process-wide adapter registry of the tests that
run dbt in-process never holds the Databricks adapter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sessionlake.core.settings import REPO_ROOT


def test_the_project_compiles_for_databricks_offline(tmp_path: Path) -> None:
    env = os.environ | {
        "DATABRICKS_HOST": "dbc-00000000-0000.cloud.databricks.invalid",
        "DATABRICKS_HTTP_PATH": "/sql/1.0/warehouses/0000000000000000",
        "DATABRICKS_TOKEN": "dapi-not-a-token",
        "DATABRICKS_CATALOG": "game_analytics",
    }
    dbt = Path(sys.executable).parent / "dbt"
    args = ["compile", "--profiles-dir", "profiles", "--target", "databricks", "--no-partial-parse"]
    args += ["--no-introspect", "--no-populate-cache", "--select", "resource_type:model"]
    args += ["--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path)]
    done = subprocess.run([str(dbt), *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    assert manifest["metadata"]["adapter_type"] == "databricks"
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    assert {"sessions", "stg_session_manager__session_events", "pii_players"} <= {n["name"] for n in models}
    incremental = [n for n in models if n["config"]["materialized"] == "incremental"]
    assert incremental and all(n["config"]["file_format"] == "delta" for n in incremental)
    assert all(n["config"]["incremental_strategy"] == "merge" for n in incremental)
    sessions = next(n for n in models if n["name"] == "sessions")
    assert sessions["config"]["liquid_clustered_by"] == ["session_id"]  # instead of Z-order on Databricks

    results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    assert results and {r["status"] for r in results} == {"success"}
    compiled = {n["name"]: n["compiled_code"] for n in models if n.get("compiled_code")}
    assert {n["name"] for n in models} <= set(compiled)
    # Databricks quoting of the relations the mart reads, and the first-build form (no incremental filter).
    # Unity Catalog three-level names from DATABRICKS_CATALOG, and the first-build form (no incremental filter).
    assert "`game_analytics`.`silver`.`int_streamer__session_metrics`" in compiled["sessions"]
    assert "touched_sessions" not in compiled["sessions"]
