"""Stage 2: the dbt project (silver, gold, PII macros) run in-process on our SparkSession."""

from sessionlake.transform.runner import BuildResult, Checks, build

__all__ = ["BuildResult", "Checks", "build"]
