"""Bronze, quarantine and metrics Delta tables: created by path, registered in the metastore, evolved additively."""

from __future__ import annotations

import logging
from collections.abc import Collection

from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql.types import (
    BinaryType,
    DateType,
    LongType,
    NumericType,
    StringType,
    StructField,
    StructType,
    TimestampNTZType,
    TimestampType,
)

from sessionlake.core.errors import ConfigurationError

log = logging.getLogger(__name__)

BRONZE = "bronze"
QUARANTINE = "quarantine"

# Properties open-source Delta honours: optimized writes and auto compaction (Delta 3.1+) keep a
# stream of small micro-batches from leaving a trail of small files; a checkpoint every 10 commits
# keeps the log quick to read. Transaction identifiers (txnAppId) are kept forever by default
# (delta.setTransactionRetentionDuration unset), which is what exactly-once relies on.
TABLE_PROPERTIES = {
    "delta.autoOptimize.optimizeWrite": "true",
    "delta.autoOptimize.autoCompact": "true",
    "delta.checkpointInterval": "10",
    "delta.logRetentionDuration": "interval 30 days",
    "delta.deletedFileRetentionDuration": "interval 7 days",
}

# Delta writes min/max statistics of the first 32 columns into the transaction log (`add` actions and
# checkpoints), where they outlive a DELETE until log cleanup. Bronze tables name their statistics
# columns instead: every column Delta can index except the source's declared PII fields and the raw
# record columns (which hold the PII too). See docs/pii.md, "What the transaction log keeps".
STATS_COLUMNS = "delta.dataSkippingStatsColumns"
RAW_RECORD_COLUMNS = ("_raw", "_rescued_data")
PARTITION_COLUMN = "_ingest_date"
_INDEXABLE = (StringType, NumericType, DateType, TimestampType, TimestampNTZType)  # Delta refuses others

INGEST_COLUMNS = StructType(
    [
        StructField("_ingested_at", TimestampType()),
        StructField("_batch_id", LongType()),
        StructField("_ingest_date", DateType()),
    ]
)

QUARANTINE_SCHEMA = StructType(
    [
        StructField("_source", StringType()),
        StructField("_reason", StringType()),
        StructField("_raw", BinaryType()),
        StructField("_coordinates", StringType()),
        *INGEST_COLUMNS.fields,
    ]
)


class TableSchemaError(ConfigurationError):
    """The configured schema cannot be written to the existing table (a type changed)."""


def nullable(schema: StructType) -> StructType:
    return StructType([StructField(f.name, f.dataType, True) for f in schema.fields])


def stats_columns(schema: StructType, pii: Collection[str]) -> str:
    """The value of delta.dataSkippingStatsColumns: the indexable columns of `schema` that are neither
    declared PII, nor a raw record column, nor the partition column (Delta refuses those)."""
    excluded = {c.lower() for c in (*pii, *RAW_RECORD_COLUMNS, PARTITION_COLUMN)}
    return ",".join(
        f"`{f.name}`" for f in schema.fields if f.name.lower() not in excluded and isinstance(f.dataType, _INDEXABLE)
    )


def exclude_pii_from_stats(spark: SparkSession, table: str, schema: StructType, pii: Collection[str]) -> None:
    """Set delta.dataSkippingStatsColumns on an existing table (`table`: a name or delta.`<path>`) unless
    it already has the value. Files written before keep their statistics until rewritten (docs/pii.md)."""
    wanted = stats_columns(schema, pii)
    properties = {r["key"]: r["value"] for r in spark.sql(f"SHOW TBLPROPERTIES {table}").collect()}
    if properties.get(STATS_COLUMNS) != wanted:
        spark.sql(f"ALTER TABLE {table} SET TBLPROPERTIES ('{STATS_COLUMNS}' = '{wanted}')")


def ensure_table(spark: SparkSession, name: str, path: str, schema: StructType, pii: Collection[str] = ()) -> None:
    """Create the Delta table at `path` registered as `name` (schema.table), or add the new columns.

    Columns are only ever added: a column whose type changed raises TableSchemaError; a column no
    longer configured stays in the table and is null in new rows. The `pii` columns (and the raw
    record columns) never get file statistics in the Delta log: delta.dataSkippingStatsColumns names
    every other indexable column, and is updated when columns are added.
    """
    schema_name, table_name = name.split(".")
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS {schema_name}")
    builder = (
        DeltaTable.createIfNotExists(spark)
        .tableName(name)
        .location(str(path))
        .addColumns(nullable(schema))
        .partitionedBy("_ingest_date")
    )
    if not DeltaTable.isDeltaTable(spark, str(path)):
        if spark.sql(f"SHOW TABLES IN {schema_name} LIKE '{table_name}'").count():
            # Registered, but its files are gone (a lake folder deleted while the metastore kept running):
            # the registration is all that is left of it, and it would make the create fail.
            log.warning("%s is registered but %s holds no Delta table: registering it again", name, path)
            spark.sql(f"DROP TABLE {name}")
        for key, value in TABLE_PROPERTIES.items():
            builder = builder.property(key, value)
        builder.property(STATS_COLUMNS, stats_columns(nullable(schema), pii)).execute()
        return
    if not spark.catalog.tableExists(name):
        builder.execute()  # the table exists by path: register it
    table = DeltaTable.forPath(spark, str(path))
    properties = table.detail().first()["properties"]
    missing = {k: v for k, v in TABLE_PROPERTIES.items() if k not in properties}
    if missing:  # e.g. a table created before ingest first ran; settings an operator changed stay
        assignments = ", ".join(f"'{k}' = '{v}'" for k, v in missing.items())
        spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ({assignments})")
    existing = {f.name: f.dataType for f in table.toDF().schema.fields}
    changed = [
        f"{f.name} is {existing[f.name].simpleString()} in the table, {f.dataType.simpleString()} in the config"
        for f in schema.fields
        if f.name in existing and existing[f.name] != f.dataType
    ]
    if changed:
        raise TableSchemaError(f"{name} at {path}: column types cannot change: {'; '.join(changed)}")
    added = [f for f in schema.fields if f.name not in existing]
    if added:
        columns = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in added)
        spark.sql(f"ALTER TABLE delta.`{path}` ADD COLUMNS ({columns})")
    exclude_pii_from_stats(spark, f"delta.`{path}`", DeltaTable.forPath(spark, str(path)).toDF().schema, pii)
