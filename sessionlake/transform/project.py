"""Where the dbt project lives and where its run artifacts go."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sessionlake.settings import REPO_ROOT, Settings


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
        target=os.environ.get("SESSIONLAKE_DBT_TARGET", "local"),
    )
