"""Stage 2: the dbt project (silver, gold, PII macros) run in-process on our SparkSession.

`build`, `Checks` and `BuildResult` are loaded on first use: importing a module of this package (the
freshness report `status` reads) does not import dbt."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sessionlake.transform.runner import BuildResult, Checks, build

__all__ = ["BuildResult", "Checks", "build"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from sessionlake.transform import runner

        return getattr(runner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
