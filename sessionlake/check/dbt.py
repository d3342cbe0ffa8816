"""`dbt parse` of the project (in-process, partial parsing kept between runs), then the PII rule on what it
parsed: a model that reads a source must name the source's PII columns (`meta: {pii: ...}`) only inside
`protect_pii` (the vault, schema `pii`, encrypts them), and no model may document a column named like one.
The build's guard (assert_no_raw_pii) still checks every value at run time; this names the file and line
before anything runs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sessionlake.check.runner import Problem, Scope, Step, line_of

_PATH = re.compile(r"[\w./-]+\.(?:sql|yml|yaml|csv|md)")
# What is not SQL a column could hide in: Jinja comments, string literals (protect_pii's quoted argument is
# one), SQL comments; in that order, so a `--` inside a string is not taken for a comment.
_NOT_CODE = re.compile(r"\{#.*?#\}|'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|--[^\n]*", re.DOTALL)


class DbtParse(Step):
    name = "dbt (parse, PII in models)"

    def run(self, scope: Scope) -> list[Problem]:
        from dbt.cli.main import dbtRunner  # dbt is imported by the step that uses it

        work = scope.work_dir
        result = dbtRunner().invoke([
            "parse", "--quiet",
            "--project-dir", str(scope.root), "--profiles-dir", str(scope.root / "profiles"),
            "--target-path", str(work / "target"), "--log-path", str(work / "logs"), "--target", "local",
        ])  # fmt: skip
        if not result.success:
            message = str(result.exception or "dbt parse failed (see the log under the check's work folder)")
            return [Problem(_file_named(scope.root, message), None, " ".join(message.split()))]
        return pii_problems(result.result, scope)


def _file_named(root: Path, message: str) -> str:
    """The project file a dbt error names (dbt names model files relative to a model path)."""
    for name in _PATH.findall(message):
        for candidate in (name, f"models/{name}", f"macros/{name}"):
            if (root / candidate).is_file():
                return candidate
    return "dbt_project.yml"


def _pii_columns(manifest: Any) -> dict[str, set[str]]:
    """Source unique id -> its columns declared PII."""
    return {
        uid: {name for name, column in source.columns.items() if "pii" in (column.meta or {})}
        for uid, source in manifest.sources.items()
    }


def pii_problems(manifest: Any, scope: Scope) -> list[Problem]:
    pii = _pii_columns(manifest)
    every_pii = {name.lower() for name in set().union(*pii.values())} if pii else set()
    # A PII declaration changed: every model reading a source is looked at, not only the changed files.
    sources_changed = scope.changed is not None and any(p.endswith("__sources.yml") for p in scope.changed)
    problems = []
    for node in manifest.nodes.values():
        patch = node.patch_path.split("://", 1)[-1] if node.patch_path else None
        looked_at = scope.wants(node.original_file_path) or (patch is not None and scope.wants(patch))
        if node.resource_type.value != "model" or not (looked_at or sources_changed):
            continue
        if node.config.schema == "pii":  # the vault: reads raw PII to encrypt it (its guard checks values)
            continue
        columns = set().union(*(pii.get(uid, set()) for uid in node.depends_on.nodes))
        code = _NOT_CODE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), node.raw_code)
        for number, line in enumerate(code.splitlines(), start=1):
            for column in sorted(columns):
                if re.search(rf"(?<!\w){re.escape(column)}(?!\w)", line, re.IGNORECASE):
                    problems.append(Problem(
                        node.original_file_path, number,
                        f"raw PII column `{column}` outside protect_pii: use"
                        f" {{{{ protect_pii('{column}', ...) }}}} (docs/pii.md)",
                    ))  # fmt: skip
        if patch:
            for name in node.columns:
                if name.lower() in every_pii:
                    line = line_of(scope.root / patch, f"name: {name}")
                    problems.append(Problem(patch, line, f"{node.name}.{name}: a model column named like a PII column"))
    return problems
