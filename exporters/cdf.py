"""Reading the table side: Delta Change Data Feed ranges, snapshots, and the table's version bounds."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from sessionlake.core.domain import PII_FIELDS
from sessionlake.core.errors import InputError

KEY = "session_id"
CDF_COLUMNS = ("_change_type", "_commit_version", "_commit_timestamp")
# ISO-8601 with the offset; the session time zone is UTC (sessionlake.core.spark), so it always ends in "Z".
TIMESTAMP_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX"
JSON_OPTIONS = {
    "timestampFormat": TIMESTAMP_FORMAT,
    "timestampNTZFormat": TIMESTAMP_FORMAT,
    "ignoreNullFields": "false",
}
# Errors meaning "the change data for this range cannot be read" (vacuumed files, CDF enabled after the
# start version, log cleaned up, incompatible schema change): the exporter falls back to a snapshot.
CDF_UNAVAILABLE_MARKERS = (
    "DELTA_MISSING_CHANGE_DATA",
    "DELTA_CHANGE_DATA_FILE_NOT_FOUND",
    "FAILED_READ_FILE.FILE_NOT_EXIST",
    "DELTA_VERSION_NOT_FOUND",
    "DELTA_CDC_START_VERSION_BEFORE",
    "VersionNotFoundException",
    # a schema change in the range the feed cannot read across
    "DELTA_CHANGE_DATA_FEED_INCOMPATIBLE",
    "PARQUET_COLUMN_DATA_TYPE_MISMATCH",
)


class TableMissingError(InputError):
    """The table to export does not exist yet."""


class RawPiiError(InputError):
    """The exported table carries a raw PII column; the search index must never receive one."""


@dataclass(frozen=True)
class TableState:
    table_id: str
    schema: StructType
    # commit timestamp of the versions the run needs: from the cursor's (or the latest alone, without a
    # cursor) to the latest, as far as the Delta log still holds them
    commit_millis: dict[int, int]

    @property
    def latest_version(self) -> int:
        return max(self.commit_millis)

    @property
    def oldest_version(self) -> int:
        return min(self.commit_millis)


@dataclass(frozen=True)
class Change:
    """The latest change of one session in a range; `document` is None for a delete."""

    session_id: str | None
    change_type: str  # insert | update_postimage | delete | snapshot
    version: int
    document: Mapping[str, Any] | None

    @property
    def is_delete(self) -> bool:
        return self.change_type == "delete"


def table_state(spark: SparkSession, table: str, since: int | None = None) -> TableState:
    """The table's id, schema and the commits from version `since` (the latest only when None) on.

    Only those commits are read (Delta's history with a limit), not every one the log keeps: a table
    built every few minutes keeps tens of thousands over its log retention.
    """
    if not spark.catalog.tableExists(table):
        raise TableMissingError(f"table {table} does not exist (the dbt build creates gold.sessions)")
    delta = DeltaTable.forName(spark, table)
    latest = delta.history(1).select("version").first()[0]
    # one more than needed: a commit landing between the two reads must not push `since` out of the window
    wanted = 2 if since is None else max(latest - since + 2, 2)
    commits = delta.history(wanted).select("version", F.unix_millis("timestamp")).collect()
    detail = delta.detail().select("id").first()
    schema = spark.table(table).schema
    check_no_raw_pii(table, schema)
    return TableState(table_id=detail[0], schema=schema, commit_millis={v: ms for v, ms in commits})


def check_no_raw_pii(table: str, schema: StructType) -> None:
    raw = sorted({f.name.lower() for f in schema.fields} & set(PII_FIELDS))
    if raw:
        raise RawPiiError(f"{table} has raw PII column(s) {raw}; refusing to export them to the search index")


def is_cdf_unavailable(exc: BaseException) -> bool:
    text = str(exc)
    return any(marker in text for marker in CDF_UNAVAILABLE_MARKERS)


def _documents(df: DataFrame) -> DataFrame:
    data = [c for c in df.columns if c not in CDF_COLUMNS]
    return F.to_json(F.struct(*[F.col(f"`{c}`") for c in data]), JSON_OPTIONS).alias("_document")


def latest_changes(spark: SparkSession, table: str, start: int, end: int) -> DataFrame:
    """The last change of each session in commits [start, end] (pre-images dropped; a delete and a
    re-insert in one commit, as an overwrite writes them, resolve to the insert). Rows without a
    session_id are all kept, for the dead-letter table."""
    feed = (
        spark.read.format("delta")
        .option("readChangeFeed", "true")
        .option("startingVersion", start)
        .option("endingVersion", end)
        .table(table)
        .where(F.col("_change_type") != "update_preimage")
    )
    rows = feed.select(KEY, "_change_type", "_commit_version", _documents(feed))
    keyed = F.coalesce(F.trim(F.col(KEY)) != "", F.lit(False))
    # The greatest (version, is an insert) per session, in one aggregate (no window): the last commit wins, and
    # within one commit an insert beats a delete.
    last = F.max(
        F.struct(
            F.col("_commit_version"),
            (F.col("_change_type") != "delete").alias("_kept"),
            F.col("_change_type"),
            F.col("_document"),
        )
    ).alias("_last")
    deduped = rows.where(keyed).groupBy(KEY).agg(last).select(KEY, "_last._change_type", "_last._commit_version",
                                                             "_last._document")  # fmt: skip
    return deduped.unionByName(rows.where(~keyed))


def snapshot(spark: SparkSession, table: str, version: int) -> DataFrame:
    """Every row of the table as of `version`, shaped like latest_changes."""
    rows = spark.read.format("delta").option("versionAsOf", version).table(table)
    return rows.select(
        KEY,
        F.lit("snapshot").alias("_change_type"),
        F.lit(version).cast("long").alias("_commit_version"),
        _documents(rows),
    )


class RawDocument(Mapping[str, Any]):
    """A document as the JSON text Spark wrote (`to_json`), parsed only if someone reads a field: the exporter
    sends the text as it is, so the common path never parses and re-serialises a document."""

    __slots__ = ("_parsed", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._parsed: dict[str, Any] | None = None

    def _fields(self) -> dict[str, Any]:
        if self._parsed is None:
            self._parsed = json.loads(self.text)
        return self._parsed

    def __getitem__(self, key: str) -> Any:
        return self._fields()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields())

    def __len__(self) -> int:
        return len(self._fields())

    def with_field(self, name: str, json_value: str) -> str:
        """The text with one more top-level field (`json_value` already JSON), without parsing it."""
        body = self.text.rstrip()
        return (
            f"{body[:-1]},{json.dumps(name)}:{json_value}}}" if body != "{}" else f"{{{json.dumps(name)}:{json_value}}}"
        )


def iter_changes(df: DataFrame) -> Iterator[Change]:
    """Stream the changes to the driver one partition at a time (the next one computed meanwhile)."""
    for row in df.toLocalIterator(prefetchPartitions=True):
        change_type = row["_change_type"]
        document = None if change_type == "delete" else RawDocument(row["_document"])
        yield Change(row[KEY], change_type, int(row["_commit_version"]), document)
