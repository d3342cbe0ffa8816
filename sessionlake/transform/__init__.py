"""Stage 2: the dbt project (silver, gold, PII macros) run in-process on our SparkSession."""

from sessionlake.transform.lock import BuildLocked, build_lock
from sessionlake.transform.runner import BuildResult, build

__all__ = ["BuildLocked", "BuildResult", "build", "build_lock"]
