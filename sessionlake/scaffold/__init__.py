"""Developer tooling for service teams: `sessionlake add-source` writes a new source's ingest YAML, dbt
source, staging model (and optionally its session aggregate) from a sample of its records."""

from sessionlake.scaffold.project import Plan, ScaffoldError, new_source, schema_change
from sessionlake.scaffold.render import SourceSpec
from sessionlake.scaffold.sample import read_sample

__all__ = ["Plan", "ScaffoldError", "SourceSpec", "new_source", "read_sample", "schema_change"]
