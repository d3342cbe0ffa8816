"""What a build reads: the bronze tables, by their latest Delta version.

The build loop compares them with the versions its last successful build started from: a tick that finds
nothing new skips dbt (an idle pipeline costs a few log reads, not a build), and a tick that finds a bronze
table not created yet waits for ingest instead of failing every staging model over it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from sessionlake.core.settings import Settings


@dataclass(frozen=True)
class InputVersions:
    """The bronze tables' latest versions; `missing` the tables that do not exist yet."""

    versions: dict[str, int] = field(default_factory=dict)
    missing: tuple[str, ...] = ()


class BronzeInputs:
    """The latest Delta version of each bronze table a build reads, from each table's log."""

    def __init__(self, settings: Settings, spark: SparkSession, tables: Sequence[str]) -> None:
        self.spark = spark
        self.paths = {table: settings.bronze_path(table) for table in sorted(set(tables))}

    def read(self) -> InputVersions:
        versions, missing = {}, []
        for table, path in self.paths.items():
            if not DeltaTable.isDeltaTable(self.spark, path):
                missing.append(table)
                continue
            versions[table] = DeltaTable.forPath(self.spark, path).history(1).select("version").head()[0]
        return InputVersions(versions, tuple(missing))
