"""Developer tooling: the pull-request checks of `sessionlake check` (docs/contributing.md)."""

from sessionlake.check.contracts import Contracts
from sessionlake.check.dbt import DbtParse
from sessionlake.check.python import Ruff
from sessionlake.check.runner import Problem, Scope, Step, StepResult, run_steps
from sessionlake.check.sources import Sources
from sessionlake.check.sql import SqlLint


def default_steps() -> list[Step]:
    return [Ruff(), Sources(), DbtParse(), Contracts(), SqlLint()]


__all__ = ["Problem", "Scope", "Step", "StepResult", "default_steps", "run_steps"]
