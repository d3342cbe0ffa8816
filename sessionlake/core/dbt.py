"""The dbt project: where it lives, where its run artifacts go, and dbt invoked in this process on it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sessionlake.core.settings import REPO_ROOT, Settings, environment_overlay


@dataclass(frozen=True)
class DbtProject:
    """The dbt project in the repository, with target/ and logs/ under the sessionlake home."""

    project_dir: Path
    profiles_dir: Path
    target_path: Path
    log_path: Path
    target: str

    def flags(self) -> list[str]:
        """The command-line flags every dbt invocation of sessionlake passes."""
        return [
            "--project-dir",
            str(self.project_dir),
            "--profiles-dir",
            str(self.profiles_dir),
            "--target-path",
            str(self.target_path),
            "--log-path",
            str(self.log_path),
            "--target",
            self.target,
        ]


def dbt_project(settings: Settings) -> DbtProject:
    home = settings.home / "dbt"
    return DbtProject(
        project_dir=REPO_ROOT,
        profiles_dir=REPO_ROOT / "profiles",
        target_path=home / "target",
        log_path=home / "logs",
        target=settings.dbt_target,
    )


def profile_env(settings: Settings) -> dict[str, str]:
    """What profiles/profiles.yml reads with env_var(), resolved from the settings (a stack on other ports,
    as the tests run, reaches dbt the same way as one on the defaults)."""
    return {"SESSIONLAKE_THRIFT_HOST": settings.thrift_host, "SESSIONLAKE_THRIFT_PORT": str(settings.ports.thrift)}


def invoke(
    settings: Settings,
    args: list[str],
    callbacks: list[Callable[[Any], None]] | None = None,
    env: dict[str, str] | None = None,
) -> Any:
    """Invoke dbt with sessionlake's project flags; returns dbt's own dbtRunnerResult. `callbacks` receive
    every dbt event (e.g. the messages a run-operation's macro logs); `env` adds to what the profile and
    the macros read with env_var() for this invocation."""
    from dbt.cli.main import dbtRunner  # imported when dbt runs: commands that only read its artifacts stay fast

    project = dbt_project(settings)
    with environment_overlay(profile_env(settings) | (env or {})):
        return dbtRunner(callbacks=callbacks or []).invoke([*args, *project.flags()])
