"""The Databricks Asset Bundle (databricks.yml, databricks/jobs.yml) cannot rot silently, offline: every
job is a valid Databricks job (Databricks' own typed models, databricks-bundles, refuse unknown fields and
wrong types), every task runs code and settings this repository has, secrets come only from the secret
scope, and the wheel the bundle builds holds the code and leaves the runtime's Spark alone."""

from __future__ import annotations

import argparse
import importlib
import re
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from databricks.bundles.jobs import Job

from sessionlake.app.cli import COMMANDS
from sessionlake.core.settings import REPO_ROOT, VARIABLES
from sessionlake.core.spark import BUILT_MODULES

BUNDLE = REPO_ROOT / "databricks.yml"
DISTRIBUTION = metadata.distribution("sessionlake")  # the installed project's own metadata (pyproject.toml)
SCRIPTS = {ep.name for ep in DISTRIBUTION.entry_points if ep.group == "console_scripts"}
DBT_EXTRA = {r.split(";")[0].strip() for r in DISTRIBUTION.requires or [] if 'extra == "dbt"' in r}


def _bundle() -> tuple[dict, dict[Path, dict]]:
    root = yaml.safe_load(BUNDLE.read_text())
    included = {p: yaml.safe_load(p.read_text()) for pattern in root["include"] for p in REPO_ROOT.glob(pattern)}
    return root, included


def _jobs() -> dict[str, tuple[Path, dict]]:
    _, included = _bundle()
    return {name: (path, job) for path, doc in included.items() for name, job in doc["resources"]["jobs"].items()}


def _tasks() -> list[tuple[Path, dict, dict]]:
    return [(path, job, task) for path, job in _jobs().values() for task in job["tasks"]]


def test_every_job_is_a_valid_databricks_job() -> None:
    jobs = _jobs()
    assert set(jobs) == {"sessionlake_ingest", "sessionlake_build", "sessionlake_export"}
    for _, spec in jobs.values():
        Job.from_dict(spec)  # raises on an unknown field or a wrong type

    with pytest.raises(ValueError, match="Unexpected field"):  # the check can fail
        Job.from_dict({"name": "x", "tasks": [{"task_key": "t", "python_wheel_tsk": {}}]})


def test_the_variables_used_are_the_variables_declared() -> None:
    root, included = _bundle()
    text = BUNDLE.read_text() + "".join(path.read_text() for path in included)
    used = set(re.findall(r"\$\{var\.(\w+)\}", text))
    assert used == set(root["variables"])


def test_python_tasks_run_the_wheels_cli_commands_with_arguments_it_accepts() -> None:
    wheel_tasks = [task for _, _, task in _tasks() if "python_wheel_task" in task]
    assert {task["python_wheel_task"]["parameters"][0] for task in wheel_tasks} == {"ingest", "export"}
    parser = argparse.ArgumentParser(prog="sessionlake", exit_on_error=False)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"sessionlake.app.commands.{name}").add_parser(subparsers)
    for task in wheel_tasks:
        spec = task["python_wheel_task"]
        assert spec["package_name"] == DISTRIBUTION.metadata["Name"]
        assert spec["entry_point"] in SCRIPTS
        parser.parse_args(spec["parameters"])  # exits on an unknown command or flag
        assert [lib["whl"] for lib in task["libraries"]] == ["../dist/*.whl"]


def test_the_dbt_task_builds_this_project_every_five_minutes_one_run_at_a_time() -> None:
    path, job = _jobs()["sessionlake_build"]
    assert job["schedule"]["quartz_cron_expression"] == "0 0/5 * * * ?"
    assert job["max_concurrent_runs"] == 1  # the build is the only writer of silver, gold and pii
    (task,) = job["tasks"]
    dbt = task["dbt_task"]
    project = (path.parent / dbt["project_directory"]).resolve()
    assert (project / "dbt_project.yml").is_file()
    profiles = yaml.safe_load((project / dbt["profiles_directory"] / "profiles.yml").read_text())
    for command in dbt["commands"]:
        target = command.split("--target", 1)[1].split()[0]
        assert target in profiles["sessionlake"]["outputs"]
    pins = [lib["pypi"]["package"] for lib in task["libraries"]]
    assert pins and set(pins) <= DBT_EXTRA
    environment = job["job_clusters"][0]["new_cluster"]["spark_env_vars"]
    profile_text = (project / dbt["profiles_directory"] / "profiles.yml").read_text()
    databricks_vars = set(re.findall(r"env_var\('(DATABRICKS_\w+)'", profile_text))
    assert databricks_vars - set(environment) == {"DATABRICKS_TOKEN"}  # the dbt task injects DBT_ACCESS_TOKEN


def test_cluster_environments_are_settings_and_secrets_come_from_the_secret_scope() -> None:
    for _, job in _jobs().values():
        for cluster in job["job_clusters"]:
            for name, value in cluster["new_cluster"].get("spark_env_vars", {}).items():
                assert name in VARIABLES, f"{name} is not a setting (sessionlake/core/settings.py)"
                if VARIABLES[name].secret:
                    assert re.fullmatch(r"\{\{secrets/\$\{var\.secret_scope\}/[\w-]+\}\}", value), name
            assert not any("secret" in k.lower() for k in cluster["new_cluster"].get("spark_conf", {}))


def test_the_init_script_installs_the_jars_make_builds_and_the_bundle_syncs() -> None:
    root, _ = _bundle()
    script_refs = {
        init["workspace"]["destination"]
        for _, job in _jobs().values()
        for cluster in job["job_clusters"]
        for init in cluster["new_cluster"].get("init_scripts", [])
    }
    assert script_refs == {"${workspace.file_path}/databricks/install_jars.sh"}
    script = REPO_ROOT / "databricks" / "install_jars.sh"
    assert script.stat().st_mode & 0o111
    assert set(re.findall(r"for module in ([\w\- ]+);", script.read_text())[0].split()) == set(BUILT_MODULES)
    assert root["sync"]["include"] == [f".cache/jars/{module}/*.jar" for module in BUILT_MODULES]
    for module in BUILT_MODULES:
        assert (REPO_ROOT / "jvm" / module / "pom.xml").is_file()


def test_the_bundles_wheel_holds_the_code_and_not_the_runtimes_spark(tmp_path: Path) -> None:
    root, _ = _bundle()
    build = root["artifacts"]["sessionlake"]["build"].split()
    assert build[0] == "python" and build[-2:] == ["dist", "."]
    out = tmp_path / "dist"
    command = [sys.executable, *build[1:-2], str(out), str(REPO_ROOT)]  # the same command, into tmp_path
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (wheel,) = out.glob("sessionlake-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(next(n for n in names if n.endswith("METADATA"))).decode()
        entry_points = archive.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert {"sessionlake/app/cli.py", "sessionlake/ingest/runner.py", "sessionlake/exporters/__init__.py"} <= names
    assert {f"sessionlake/ingest/sources/{p.name}" for p in (REPO_ROOT / "ingest" / "sources").glob("*.yml")} <= names
    assert "sessionlake = sessionlake.app.cli:main" in entry_points
    required = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert required and not any(re.search(r"pyspark|delta-spark|dbt-|moto", line) for line in required)
