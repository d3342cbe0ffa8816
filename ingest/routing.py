"""From parsed good records to target tables: the source's SQL transform, then each target's `where`."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from sessionlake.ingest.tables import BRONZE

TRANSFORM_VIEW = "batch"
# Columns the transform must keep: the record itself and where it came from.
CARRIED = ("_rescued_data", "_raw", "_raw_bytes", "_coordinates")
# Carried for quarantine, not written to bronze.
INTERNAL = ("_raw_bytes", "_coordinates")


@dataclass(frozen=True)
class Route:
    """One target table of a source, resolved against the transform's output."""

    table: str
    path: str  # URI of the table
    where: str | None
    columns: tuple[str, ...]  # output columns, in order, without the ingest columns

    @property
    def name(self) -> str:
        return f"{BRONZE}.{self.table}"

    def predicate(self) -> Column:
        return F.lit(True) if self.where is None else F.coalesce(F.expr(self.where), F.lit(False))


def transform(good: DataFrame, sql: str | None) -> DataFrame:
    """Run the source's SELECT over the batch, visible as the view `batch` in the query's own session."""
    if not sql:
        return good
    good.createOrReplaceTempView(TRANSFORM_VIEW)
    return good.sparkSession.sql(sql)


def unrouted(routes: list[Route]) -> Column | None:
    """Rows no route takes, or None when some route takes every row."""
    if any(r.where is None for r in routes):
        return None
    taken = routes[0].predicate()
    for route in routes[1:]:
        taken = taken | route.predicate()
    return ~taken
