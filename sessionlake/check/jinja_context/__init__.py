"""Jinja context for `sessionlake check`'s SQL lint (sqlfluff's jinja templater, `library_path`): dbt's
`var()` answering with the project's own vars, so macros that loop over a registry (vars.session_metrics)
render as dbt renders them. sqlfluff's dbt builtins stand in for everything else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

_PROJECT = Path.cwd() / "dbt_project.yml"
_VARS: dict[str, Any] = (yaml.safe_load(_PROJECT.read_text()) or {}).get("vars", {}) if _PROJECT.exists() else {}


def var(name: str, default: Any = None) -> Any:
    return _VARS.get(name, default)


class _Target:
    """dbt's `target` as the check's parse sees it: the local profile."""

    name = "local"
    type = "spark"
    schema = "silver"
    profile_name = "sessionlake"


target = _Target()
