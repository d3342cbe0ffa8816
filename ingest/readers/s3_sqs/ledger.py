"""The file ledger of an s3-sqs source: every object it logged to read (with the micro-batch that read it)
and every announced object it did not read, with the reason, as one SQL query over the source's own logs
in its checkpoint. Registered as the view `ops.files_<source>` when ingest starts, so it can be queried
like Auto Loader's `cloud_files_state`; `sessionlake status --files SOURCE` looks files up in it.

What it reads (docs/s3-sqs-source.md, "The file ledger"): the discovery log (`sources/0`: one JSON line
per logged file, segment = file name), the skip log beside it (`sources/0-skipped`), and Spark's own
offset and commit logs (which segments each batch read, which batches committed). All of them are purged
by the source's `dedupeRetention` (Spark keeps the last 100 batches of its logs: an older segment shows as
committed with no batch id). The query reads the logs as they are at query time: nothing to refresh.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping

from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from sessionlake.core import storage

log = logging.getLogger(__name__)

OPS_SCHEMA = "ops"
SOURCE_INDEX = 0  # ingest runs one streaming query per source: its source is sources/0
LOGGED = (
    "bucket string, key string, size bigint, etag string, versionId string, "
    "eventTimeMs bigint, discoveredAtMs bigint, origin string"
)
SKIPPED = (
    "bucket string, key string, size bigint, etag string, versionId string, "
    "eventTimeMs bigint, skippedAtMs bigint, reason string, detail string"
)


def view_name(source: str) -> str:
    return f"{OPS_SCHEMA}.files_{source}"


def log_dirs(checkpoint: str) -> dict[str, str]:
    """The four logs the ledger reads, by role, under a source's checkpoint URI."""
    sources = storage.join(checkpoint, "sources")
    return {
        "discovery": storage.join(sources, str(SOURCE_INDEX)),
        "skipped": storage.join(sources, f"{SOURCE_INDEX}-skipped"),
        "offsets": storage.join(checkpoint, "offsets"),
        "commits": storage.join(checkpoint, "commits"),
    }


def _batch_files(relation: str) -> str:
    """The rows of a log's batch files (named by a number; not `last-listing`, not temp files)."""
    return f"{relation} where file_name rlike '^[0-9]+$'"


def ledger_sql(logs: Mapping[str, str]) -> str:
    """One row per logged or skipped file (columns: docs/s3-sqs-source.md, "The file ledger"), over
    `logs`: for each role of log_dirs, a relation of (value, file_name), one row per line of its files."""
    return f"""
with
logged as (
    select cast(file_name as bigint) as segment, from_json(value, '{LOGGED}') as f
    from {_batch_files(logs["discovery"])} and value like '{{%'
),
skipped as (
    select from_json(value, '{SKIPPED}') as f
    from {_batch_files(logs["skipped"])} and value like '{{%'
),
batch_ends as (
    select cast(file_name as bigint) as batch_id, cast(value as bigint) as segment_end
    from {_batch_files(logs["offsets"])} and value rlike '^[0-9]+$'
),
batches as (
    select batch_id, segment_end, lag(segment_end) over (order by batch_id) as previous_end
    from batch_ends
),
committed as (
    select max(batch_ends.segment_end) as segment_end
    from batch_ends
    inner join (
        select distinct cast(file_name as bigint) as batch_id from {_batch_files(logs["commits"])}
    ) as commits on batch_ends.batch_id = commits.batch_id
)
select
    f.bucket, f.key, f.etag, f.versionId as version_id, f.size,
    timestamp_millis(f.eventTimeMs) as event_time, timestamp_millis(f.discoveredAtMs) as discovered_at,
    f.origin, logged.segment, batches.batch_id,
    coalesce(logged.segment <= (select segment_end from committed), false) as committed,
    cast(null as string) as skipped_reason, cast(null as string) as detail
from logged
left join batches
    on logged.segment <= batches.segment_end and logged.segment > coalesce(batches.previous_end, -1)
union all
select
    nullif(f.bucket, ''), nullif(f.key, ''), nullif(f.etag, ''), f.versionId, f.size,
    timestamp_millis(f.eventTimeMs), timestamp_millis(f.skippedAtMs),
    cast(null as string), cast(null as bigint), cast(null as bigint), false, f.reason, f.detail
from skipped
"""


def ensure_log_dirs(spark: SparkSession, checkpoint: str) -> None:
    """Create the logs' directories a new source has not written yet, so that the ledger reads empty."""
    jvm = spark.sparkContext._jvm  # noqa: SLF001
    conf = spark.sparkContext._jsc.hadoopConfiguration()  # noqa: SLF001
    for uri in log_dirs(checkpoint).values():
        path = jvm.org.apache.hadoop.fs.Path(uri)
        path.getFileSystem(conf).mkdirs(path)


def ledger(spark: SparkSession, checkpoint: str) -> DataFrame:
    """The ledger of the source whose checkpoint is `checkpoint`, read without the metastore."""
    ensure_log_dirs(spark, checkpoint)
    token = hashlib.sha1(checkpoint.encode()).hexdigest()[:12]
    relations = {}
    for role, uri in log_dirs(checkpoint).items():
        lines = spark.read.text(uri).select("value", F.col("_metadata.file_name").alias("file_name"))
        lines.createOrReplaceTempView(f"ledger_{role}_{token}")
        relations[role] = f"ledger_{role}_{token}"
    return spark.sql(ledger_sql(relations))


def register_view(spark: SparkSession, source: str, checkpoint: str) -> None:
    """`ops.files_<source>`: the ledger as a view in the metastore (Thrift and BI clients query it). The
    view reads the log files by path (`text.`<uri>``), so it holds no state of its own."""
    ensure_log_dirs(spark, checkpoint)
    relations = {
        role: f"(select value, _metadata.file_name as file_name from text.`{uri.replace('`', '``')}`)"
        for role, uri in log_dirs(checkpoint).items()
    }
    try:
        spark.sql(f"create schema if not exists {OPS_SCHEMA}")
        spark.sql(f"create or replace view {view_name(source)} as {ledger_sql(relations)}")
    except PySparkException as exc:  # a view must not keep a source from starting (two starts racing)
        log.warning("could not register %s (`status --files %s` still works): %s", view_name(source), source, exc)
