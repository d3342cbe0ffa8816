"""`sessionlake check`: the pull-request checks, run without the stack (no Kafka, S3, search engine or
metastore). Each step reports problems that name a file and, where it knows one, a line."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sessionlake.core.errors import summary


@dataclass(frozen=True)
class Problem:
    file: str  # relative to the project
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


@dataclass
class Scope:
    """What a check looks at: the project, and with `changed` only those files (and what depends on them)."""

    root: Path
    work_dir: Path  # dbt's target and logs for the check, outside the repository
    changed: frozenset[str] | None = None  # project-relative paths; None: everything

    def wants(self, path: str) -> bool:
        return self.changed is None or path in self.changed


def line_of(path: Path, needle: str) -> int | None:
    """The first line of a file holding `needle` (1-based); None when there is none or no file."""
    if not path.exists():
        return None
    return next((n for n, line in enumerate(path.read_text().splitlines(), start=1) if needle in line), None)


class Step(ABC):
    name: str

    @abstractmethod
    def run(self, scope: Scope) -> list[Problem]: ...


@dataclass
class StepResult:
    name: str
    seconds: float
    problems: list[Problem] = field(default_factory=list)


def run_steps(steps: list[Step], scope: Scope, progress: Callable[[StepResult], None]) -> list[StepResult]:
    """Every step, in order; a step's own failure is its problem, and the next step still runs."""
    results = []
    for step in steps:
        started = time.monotonic()
        try:
            problems = step.run(scope)
        except Exception as exc:  # noqa: BLE001 - a step that breaks is a problem the report names
            problems = [Problem(step.name, None, f"the step failed: {summary(exc)}")]
        result = StepResult(step.name, time.monotonic() - started, problems)
        progress(result)
        results.append(result)
    return results
