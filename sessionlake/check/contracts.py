"""Model contracts against the main branch: a change to a model with an enforced contract that removes a
column or changes its type breaks what analysts, BI tools and the index read. It fails the check unless
the model gets a new version (dbt model versions: `versions:` and `latest_version`), so its readers can
move on their own time. Adding a column is not a break."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sessionlake.check.runner import Problem, Scope, Step, line_of


@dataclass(frozen=True)
class Contract:
    model: str
    file: str
    columns: dict[str, str]  # name -> data_type
    latest_version: Any


def contracts(files: dict[str, str]) -> dict[str, Contract]:
    """The enforced contracts declared in model YAML files (path -> text)."""
    found = {}
    for path, text in files.items():
        try:
            doc = yaml.safe_load(text) or {}
        except yaml.YAMLError:
            continue  # the dbt step reports a broken YAML
        for model in doc.get("models") or []:
            config = model.get("config") or {}
            if not (config.get("contract") or {}).get("enforced"):
                continue
            columns = {c["name"]: str(c.get("data_type", "")).lower() for c in model.get("columns") or []}
            found[model["name"]] = Contract(model["name"], path, columns, model.get("latest_version"))
    return found


def _git(root: Path, *args: str) -> str | None:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    return done.stdout if done.returncode == 0 else None


class Contracts(Step):
    name = "contracts (against main)"

    def run(self, scope: Scope) -> list[Problem]:
        root = scope.root
        base = _git(root, "merge-base", "origin/main", "HEAD") or _git(root, "merge-base", "main", "HEAD")
        if base is None:
            return []  # not a git checkout, or no main: nothing to compare with
        listed = _git(root, "ls-tree", "-r", "--name-only", base.strip(), "--", "models")
        before_files = {}
        for path in (listed or "").split("\n"):
            if path.endswith((".yml", ".yaml")):
                text = _git(root, "show", f"{base.strip()}:{path}")
                if text is not None:
                    before_files[path] = text
        now_files = {p.relative_to(root).as_posix(): p.read_text() for p in (root / "models").rglob("*.y*ml")}
        before, now = contracts(before_files), contracts(now_files)
        problems = []
        for name, old in before.items():
            new = now.get(name)
            if new is None:
                problems.append(Problem(old.file, None, f"{name}: its enforced contract was removed"))
                continue
            if new.latest_version != old.latest_version:
                continue  # a new version: the old one stays for its readers
            for column, data_type in old.columns.items():
                if column not in new.columns:
                    line = line_of(root / new.file, f"name: {name}")
                    problems.append(Problem(new.file, line, f"{name}: contract column `{column}` removed"))
                elif new.columns[column] != data_type:
                    line = line_of(root / new.file, f"name: {column}")
                    change = f"{name}.{column}: contract type {data_type} changed to {new.columns[column]}"
                    problems.append(Problem(new.file, line, change))
        return problems
