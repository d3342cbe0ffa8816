"""ruff over the project's Python code: lint (the rules pyproject.toml selects) and format."""

from __future__ import annotations

import re
import subprocess
import sys

from sessionlake.check.runner import Problem, Scope, Step

_CONCISE = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+):\d+: (?P<message>.+)$")


class Ruff(Step):
    name = "python (ruff)"

    def run(self, scope: Scope) -> list[Problem]:
        changed = scope.changed or frozenset()
        targets = (
            ["."]
            if scope.changed is None
            else sorted(p for p in changed if p.endswith(".py") and (scope.root / p).exists())
        )
        if not targets:
            return []
        ruff = [sys.executable, "-m", "ruff"]
        lint = subprocess.run([*ruff, "check", "--output-format", "concise", "--no-cache", *targets],
                              cwd=scope.root, capture_output=True, text=True, check=False)  # fmt: skip
        problems = [
            Problem(m["file"], int(m["line"]), m["message"]) for m in map(_CONCISE.match, lint.stdout.splitlines()) if m
        ]
        fmt = subprocess.run([*ruff, "format", "--check", "--no-cache", *targets],
                             cwd=scope.root, capture_output=True, text=True, check=False)  # fmt: skip
        for line in fmt.stdout.splitlines():
            if line.startswith("Would reformat: "):
                problems.append(
                    Problem(line.removeprefix("Would reformat: "), None, "not ruff-formatted (ruff format)")
                )
        if lint.returncode not in (0, 1) or (lint.returncode == 1 and not problems):
            problems.append(Problem("pyproject.toml", None, f"ruff failed: {(lint.stderr or lint.stdout).strip()}"))
        return problems
