"""sqlfluff over the dbt models, with the project's .sqlfluff rules and the jinja templater (dbt's builtins,
the project's macros, its real vars): seconds, no Spark and no metastore. The dbt templater, which compiles
every model against a live session, runs in the integration suite after a build (tests/test_dbt_build.py)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sessionlake.check.runner import Problem, Scope, Step

CONTEXT = Path(__file__).resolve().parent / "jinja_context"
# Gold is generated from the registry (vars.session_metrics) and the aggregates' YAML, which only dbt's
# graph holds at run time; service teams do not edit it. The dbt templater lints it after a build.
LINTED_AFTER_A_BUILD = frozenset({"models/marts/sessions.sql"})


@contextmanager
def _cwd(path: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


class SqlLint(Step):
    name = "sql (sqlfluff)"

    def run(self, scope: Scope) -> list[Problem]:
        logging.getLogger("sqlfluff").setLevel(logging.WARNING)  # its INFO is per-token chatter
        from sqlfluff.core import FluffConfig, Linter  # imported by the step that uses it

        models = sorted(p.relative_to(scope.root).as_posix() for p in (scope.root / "models").rglob("*.sql"))
        paths = [p for p in models if scope.wants(p) and p not in LINTED_AFTER_A_BUILD]
        if not paths:
            return []
        # The project's .sqlfluff, with the templater swapped (a file: sqlfluff passes it on to the per-file
        # configs it loads, where values set on the root config object would be lost).
        extra = scope.work_dir / "sqlfluff-check.cfg"
        extra.parent.mkdir(parents=True, exist_ok=True)
        extra.write_text(
            "[sqlfluff]\ntemplater = jinja\n\n[sqlfluff:templater:jinja]\napply_dbt_builtins = True\n"
            f"load_macros_from_path = {scope.root / 'macros'}\nlibrary_path = {CONTEXT}\n"
        )
        with _cwd(scope.root):
            config = FluffConfig.from_root(extra_config_path=str(extra), overrides={"templater": "jinja"})
            records = Linter(config=config).lint_paths(tuple(paths)).as_records()
        return [
            Problem(record["filepath"], v["start_line_no"], f"{v['code']} {v['description']}")
            for record in records
            for v in record["violations"]
        ]
