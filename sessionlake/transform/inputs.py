"""What a build reads: the bronze tables, by their latest Delta version.

The build loop compares them with the versions its last successful build started from: a tick that finds
nothing new skips dbt (an idle pipeline costs a few log reads, not a build), a tick that finds a bronze
table not created yet waits for ingest instead of failing every staging model over it, and until the first
build a tick that finds every bronze table still empty waits for data instead of building empty tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from sessionlake.core.settings import Settings


@dataclass(frozen=True)
class InputVersions:
    """The bronze tables' latest versions; `missing` the tables that do not exist yet, `empty` those that hold
    no data file yet (created by ingest, nothing written)."""

    versions: dict[str, int] = field(default_factory=dict)
    missing: tuple[str, ...] = ()
    empty: tuple[str, ...] = ()

    @property
    def all_empty(self) -> bool:
        return bool(self.versions) and set(self.empty) >= set(self.versions)


class BronzeInputs:
    """The latest Delta version of each bronze table a build reads, from each table's log."""

    def __init__(self, settings: Settings, spark: SparkSession, tables: Sequence[str]) -> None:
        self.spark = spark
        self.paths = {table: settings.bronze_path(table) for table in sorted(set(tables))}

    def read(self) -> InputVersions:
        versions, missing, empty = {}, [], []
        for table, path in self.paths.items():
            if not DeltaTable.isDeltaTable(self.spark, path):
                missing.append(table)
                continue
            delta = DeltaTable.forPath(self.spark, path)
            versions[table] = delta.history(1).select("version").head()[0]
            if delta.detail().select("numFiles").head()[0] == 0:
                empty.append(table)
        return InputVersions(versions, tuple(missing), tuple(empty))
