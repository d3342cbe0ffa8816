"""Every ingest source YAML validated as ingest validates it at start (the part that needs no Spark), and
checked against the dbt sources that read its bronze tables: a table dbt reads that no source writes, and a
field a source declares `pii:` that its dbt source column does not declare `meta: {pii: ...}` (it would
reach silver raw, or fail the build's guard)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sessionlake.check.runner import Problem, Scope, Step, line_of
from sessionlake.ingest.config import SourceConfig, SourceConfigError, load_sources


def _relative(root: Path, text: str) -> str:
    return text.replace(f"{root}/", "")


class Sources(Step):
    name = "sources (ingest YAML)"

    def run(self, scope: Scope) -> list[Problem]:
        root = scope.root
        try:
            sources = load_sources(root / "ingest" / "sources")
        except SourceConfigError as exc:
            problems = []
            for problem in exc.problems:
                file, _, message = _relative(root, problem).partition(": ")
                problems.append(Problem(file, None, message))
            return problems
        return self._against_dbt(root, sources)

    @staticmethod
    def _against_dbt(root: Path, sources: list[SourceConfig]) -> list[Problem]:
        written = {table: source for source in sources for table in source.tables}
        problems = []
        for path in sorted((root / "models").rglob("_*__sources.yml")):
            rel = path.relative_to(root).as_posix()
            try:
                doc: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
            except yaml.YAMLError as exc:
                problems.append(Problem(rel, getattr(getattr(exc, "problem_mark", None), "line", -1) + 1 or None,
                                        f"not valid YAML: {getattr(exc, 'problem', exc)}"))  # fmt: skip
                continue
            for dbt_source in doc.get("sources", []):
                if dbt_source.get("schema") != "bronze":
                    continue
                for table in dbt_source.get("tables", []):
                    source = written.get(table["name"])
                    if source is None:
                        line = line_of(path, f"name: {table['name']}")
                        problems.append(Problem(rel, line, f"bronze.{table['name']}: no ingest source writes it"))
                        continue
                    declared = {c["name"]: c for c in table.get("columns", [])}
                    for field in source.pii:
                        column = declared.get(field)
                        if column is None or "pii" not in (column.get("meta") or {}):
                            problems.append(Problem(
                                rel, line_of(path, f"name: {field}") or line_of(path, f"name: {table['name']}"),
                                f"{dbt_source['name']}.{table['name']}.{field}: PII in {source.file.name} (`pii:`),"
                                " but no `meta: {pii: {method: ...}}` on the column: declare how silver protects it",
                            ))  # fmt: skip
        return problems
