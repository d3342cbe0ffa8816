"""The search exporter against real Spark + Delta (Change Data Feed) and a real search engine.

The engine is the stack's (`SESSIONLAKE_SEARCH_ENGINE=elasticsearch|opensearch`); run the file once per engine."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from sessionlake.core.lock import BuildLocked, build_lock
from sessionlake.core.settings import REPO_ROOT, Settings
from sessionlake.exporters.cdf import Change, table_state
from sessionlake.exporters.config import ExportConfig, SearchConfig
from sessionlake.exporters.cursor import CursorStore
from sessionlake.exporters.runner import ExportReport, TableReplacedError, export
from sessionlake.exporters.search import BulkTally, SearchIndex, connect

pytestmark = pytest.mark.stack

TIME_COLUMNS = ("started_at", "ended_at", "first_event_at", "last_event_at", "updated_at")
COLUMNS = """
    session_id string, user_key string, game_id string, region string, client_platform string,
    started_at timestamp, ended_at timestamp, end_reason string, status string, duration_seconds double,
    metric_samples bigint, avg_fps {fps_type}, min_fps double, avg_bitrate_kbps double,
    max_packet_loss_pct double, p95_rtt_ms double, log_lines bigint, error_lines bigint, crashed boolean,
    device_model string, billed_minutes bigint, tier string, first_event_at timestamp,
    last_event_at timestamp, updated_at timestamp
"""


CHILD = (
    "from exporters.runner import export; from sessionlake.core.settings import load; "
    "from sessionlake.core.spark import get_session; s = load(); export(s, get_session(s, 'exporter-to-kill'))"
)


def _row(session_id: str | None, status: str = "active", fps: Any = 60.0, ended: str | None = None) -> str:
    def lit(value: Any) -> str:
        return "null" if value is None else f"'{value}'" if isinstance(value, str) else str(value)

    return (
        f"({lit(session_id)}, 'uk-{session_id}', 'game-1', 'eu', 'pc', timestamp'2024-05-01 10:00:00.123456', "
        f"{'null' if ended is None else f'timestamp{lit(ended)}'}, null, '{status}', null, 3, {lit(fps)}, 30.5, "
        f"8000.0, 0.1, 20.0, 5, 1, false, 'shield', 12, 'priority', timestamp'2024-05-01 10:00:00', "
        "timestamp'2024-05-01 10:30:00', current_timestamp())"
    )


@pytest.fixture
def names(spark: SparkSession, search: str, settings: Settings, tmp_path: Path) -> dict[str, Any]:
    """A fresh schema, table name, index and cursor directory for one test."""
    suffix = uuid.uuid4().hex[:8]
    schema = f"exp_{suffix}"
    spark.sql(f"CREATE SCHEMA {schema}")
    config = ExportConfig(
        search=SearchConfig.from_settings(settings),
        cursor_dir=str(tmp_path / "cursors"),
        table=f"{schema}.sessions",
        index=f"sessions-{suffix}",
        dead_letter_table=f"{schema}.export_dead_letters",
        initial_backoff=0.2,
    )
    yield {"schema": schema, "table": config.table, "config": config}
    SearchIndex(config).layout.drop(template=True)
    spark.sql(f"DROP SCHEMA {schema} CASCADE")


def _create(spark: SparkSession, table: str, fps_type: str = "double") -> None:
    spark.sql(
        f"CREATE TABLE {table} ({COLUMNS.format(fps_type=fps_type)}) USING DELTA "
        "TBLPROPERTIES (delta.enableChangeDataFeed = true)"
    )


def _micros(value: str) -> int:
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset().total_seconds() == 0, value  # ISO-8601 in UTC
    return round(parsed.timestamp() * 1_000_000)


def _expected(spark: SparkSession, table: str) -> dict[str, dict[str, Any]]:
    """The table's rows, timestamps as epoch microseconds (computed by Spark, not by the exporter)."""
    df = spark.table(table)
    rows = df.select(*[F.unix_micros(c).alias(c) if c in TIME_COLUMNS else F.col(c) for c in df.columns]).collect()
    return {row["session_id"]: row.asDict() for row in rows}


def _indexed(config: ExportConfig) -> dict[str, dict[str, Any]]:
    client = connect(config.search)
    client.indices.refresh(index=config.index)
    body = {"query": {"match_all": {}}, "size": 1000, "version": True}
    hits = client.search(index=config.index, body=body)["hits"]["hits"]
    docs = {}
    for hit in hits:
        doc = dict(hit["_source"])
        doc.update({c: _micros(doc[c]) for c in TIME_COLUMNS if doc.get(c) is not None})
        docs[hit["_id"]] = doc | {"_version": hit["_version"]}
    return docs


def _assert_index_equals_table(spark: SparkSession, config: ExportConfig) -> dict[str, dict[str, Any]]:
    """The index holds the table's rows, each with when it was exported."""
    indexed = _indexed(config)
    assert all(d["exported_at"].endswith("Z") for d in indexed.values())
    added = ("_version", "exported_at")
    assert {k: {c: v for c, v in d.items() if c not in added} for k, d in indexed.items()} == _expected(
        spark, config.table
    )
    return indexed


def _rewind(config: ExportConfig, version: int) -> None:
    """What a kill after the engine acknowledged, before the cursor was saved, leaves behind."""
    store = CursorStore(config.cursor_dir, config.table, config.index)
    store.save(replace(store.load(), version=version))


def _version(spark: SparkSession, table: str) -> int:
    return spark.sql(f"DESCRIBE HISTORY {table} LIMIT 1").first()["version"]


def test_index_mirrors_table_through_inserts_merges_updates_and_deletes(spark, settings, names) -> None:
    table, config = names["table"], replace(names["config"], max_versions_per_batch=2)
    _create(spark, table)
    spark.sql(f"INSERT INTO {table} VALUES {_row('s1')}, {_row('s2')}, {_row('s3')}")

    first = export(settings, spark, config=config)
    assert (first.snapshots, first.upserted, first.deleted, first.dead_lettered) == (1, 3, 0, 0)
    doc = _assert_index_equals_table(spark, config)["s1"]
    raw = connect(config.search).get(index=config.index, id="s1")["_source"]
    assert raw["started_at"] == "2024-05-01T10:00:00.123456Z"
    assert doc["avg_fps"] == 60.0 and doc["metric_samples"] == 3 and doc["crashed"] is False

    columns = ", ".join(spark.table(table).columns)
    updates = f"{_row('s1', 'ended', ended='2024-05-01 10:45:00')}, {_row('s4')}"
    spark.sql(
        f"MERGE INTO {table} t USING (SELECT * FROM VALUES {updates} AS v({columns})) s "
        "ON t.session_id = s.session_id WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
    )
    spark.sql(f"UPDATE {table} SET avg_fps = 50.0 WHERE session_id = 's2'")
    spark.sql(f"UPDATE {table} SET avg_fps = 40.0, status = 'ended' WHERE session_id = 's2'")
    spark.sql(f"DELETE FROM {table} WHERE session_id = 's3'")
    latest = _version(spark, table)

    second = export(settings, spark, config=config)
    assert second.snapshots == 0
    # Batches [v2, v3] and [v4, v5]: s1, s4, s2 then s2 again (its last update) and the delete of s3.
    assert (second.versions_read, second.upserted, second.deleted, second.last_version) == (4, 4, 1, latest)
    indexed = _assert_index_equals_table(spark, config)
    assert set(indexed) == {"s1", "s2", "s4"}
    assert indexed["s2"]["avg_fps"] == 40.0 and indexed["s2"]["_version"] == latest - 1  # commit version
    assert indexed["s1"]["status"] == "ended"

    idle = export(settings, spark, config=config)
    assert idle == ExportReport(last_version=latest)


def test_table_state_reads_only_the_commits_the_run_needs(spark, names) -> None:
    table = names["table"]
    _create(spark, table)
    for i in range(6):
        spark.sql(f"INSERT INTO {table} VALUES {_row(f's{i}')}")
    latest = _version(spark, table)
    commits = spark.sql(f"DESCRIBE HISTORY {table}").select("version", F.unix_millis("timestamp").alias("ms"))
    history = {r["version"]: r["ms"] for r in commits.collect()}
    assert latest == 6 and set(history) == set(range(7))

    since_three = table_state(spark, table, since=3).commit_millis
    assert since_three == {v: history[v] for v in range(2, latest + 1)}  # one older version as a margin
    assert set(table_state(spark, table).commit_millis) == {latest - 1, latest}  # no cursor: the latest
    assert set(table_state(spark, table, since=latest + 5).commit_millis) == {latest - 1, latest}


def test_reexport_is_idempotent_and_older_states_never_overwrite_newer(spark, settings, names) -> None:
    table, config = names["table"], names["config"]
    _create(spark, table)
    spark.sql(f"INSERT INTO {table} VALUES {_row('s1')}, {_row('s2')}")
    export(settings, spark, config=config)
    start = _version(spark, table)
    spark.sql(f"UPDATE {table} SET status = 'ended' WHERE session_id = 's1'")
    spark.sql(f"DELETE FROM {table} WHERE session_id = 's2'")
    spark.sql(f"INSERT INTO {table} VALUES {_row('s3')}")
    export(settings, spark, config=config)
    before = _assert_index_equals_table(spark, config)

    # A kill after the engine acknowledged but before the cursor moved: the range is sent again.
    _rewind(config, start)
    again = export(settings, spark, config=config)
    assert (again.versions_read, again.upserted, again.deleted, again.already_applied) == (3, 0, 0, 3)
    assert _assert_index_equals_table(spark, config) == before

    # An older state (or an older delete) arriving late is refused by the external version.
    index = SearchIndex(config)
    tally = BulkTally()
    stale = [
        Change("s1", "insert", start - 1, {"session_id": "s1", "status": "active"}),
        Change("s3", "delete", start, None),
    ]
    assert list(index.apply(stale, tally)) == []
    assert (tally.already_applied, tally.upserted, tally.deleted) == (2, 0, 0)
    assert _assert_index_equals_table(spark, config) == before


def test_rejected_documents_are_dead_lettered_once_and_do_not_block_the_rest(spark, settings, names) -> None:
    table, config = names["table"], names["config"]
    _create(spark, table, fps_type="string")  # gold drifted: avg_fps became a string column
    spark.sql(f"INSERT INTO {table} VALUES {_row('ok', fps='59.5')}, {_row('bad', fps='fast')}, {_row(None, fps='1')}")

    # Dead letters are appended under the build lock (forget's VACUUM RETAIN 0 HOURS never runs beside it).
    locked = replace(config, build_lock=settings.home / "dbt" / "export-test.lock", lock_wait_seconds=0.5)
    with build_lock(locked.build_lock), pytest.raises(BuildLocked):
        export(settings, spark, config=locked)
    assert not spark.catalog.tableExists(config.dead_letter_table)
    assert CursorStore(config.cursor_dir, config.table, config.index).load() is None  # the batch runs again

    report = export(settings, spark, config=locked)
    assert (report.upserted + report.already_applied, report.dead_lettered) == (1, 2)
    assert set(_indexed(config)) == {"ok"}
    letters = {r["session_id"]: r for r in spark.table(config.dead_letter_table).collect()}
    assert set(letters) == {"bad", None}
    assert letters["bad"]["status"] == 400 and "avg_fps" in letters["bad"]["reason"]
    assert json.loads(letters["bad"]["document"])["avg_fps"] == "fast"
    assert letters["bad"]["commit_version"] == report.last_version
    assert letters[None]["error_type"] == "missing_session_id"

    spark.sql(f"UPDATE {table} SET tier = 'free'")  # all three rows change again
    update = export(settings, spark, config=config)
    assert (update.upserted, update.dead_lettered) == (1, 2)
    assert _indexed(config)["ok"]["tier"] == "free"

    _rewind(config, report.last_version)  # killed before the cursor moved: the same batch runs again
    rerun = export(settings, spark, config=config)
    assert (rerun.upserted, rerun.already_applied) == (0, 1)
    versions = sorted(r["commit_version"] for r in spark.table(config.dead_letter_table).collect())
    assert versions == [report.last_version] * 2 + [update.last_version] * 2  # recorded once per batch


def test_snapshot_fallback_when_change_data_was_vacuumed(spark, settings, names, caplog) -> None:
    table, config = names["table"], names["config"]
    _create(spark, table)
    spark.sql(f"INSERT INTO {table} VALUES {_row('s1')}, {_row('s2')}, {_row('s3')}")
    export(settings, spark, config=config)
    spark.sql(f"UPDATE {table} SET status = 'ended' WHERE session_id = 's1'")
    spark.sql(f"DELETE FROM {table} WHERE session_id = 's2'")
    spark.sql(f"INSERT INTO {table} VALUES {_row('s4')}")
    spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
    try:
        spark.sql(f"VACUUM {table} RETAIN 0 HOURS")
    finally:
        spark.conf.unset("spark.databricks.delta.retentionDurationCheck.enabled")

    with caplog.at_level(logging.WARNING, logger="sessionlake.exporters.runner"):
        report = export(settings, spark, config=config)
    assert "falling back to a full snapshot export" in caplog.text
    assert (report.snapshots, report.deleted) == (1, 1)  # s2 removed: it is not in the snapshot
    assert set(_assert_index_equals_table(spark, config)) == {"s1", "s3", "s4"}


def test_killed_exporter_resumes_without_loss_or_duplicates(spark, settings, names) -> None:
    table, config = names["table"], replace(names["config"], cursor_dir=f"{settings.checkpoints}/export")
    _create(spark, table)
    spark.sql(f"INSERT INTO {table} VALUES {_row('s0')}")
    export(settings, spark, config=config)
    start = _version(spark, table)
    for _ in range(5):
        spark.sql(f"UPDATE {table} SET log_lines = log_lines + 1 WHERE session_id = 's0'")
    spark.sql(f"INSERT INTO {table} VALUES {_row('s1')}")
    latest = _version(spark, table)

    env = os.environ | {
        "SESSIONLAKE_HOME": str(settings.home),
        "SESSIONLAKE_DERBY_PORT": str(settings.ports.derby),
        "SESSIONLAKE_SEARCH_PORT": str(settings.ports.search),
        "SESSIONLAKE_EXPORT_TABLE": config.table,
        "SESSIONLAKE_EXPORT_INDEX": config.index,
        "SESSIONLAKE_EXPORT_DEAD_LETTER_TABLE": config.dead_letter_table,
        "SESSIONLAKE_EXPORT_MAX_VERSIONS": "1",
        "SESSIONLAKE_DRIVER_MEMORY": "1g",
    }
    store = CursorStore(config.cursor_dir, config.table, config.index)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while store.load().version < start + 2 and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        os.killpg(child.pid, signal.SIGKILL)  # at an arbitrary point of its run
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    killed_at = store.load().version
    assert child.returncode == -signal.SIGKILL
    assert start + 2 <= killed_at < latest, "the exporter was not killed mid-run"

    resumed = export(settings, spark, config=config)
    assert resumed.versions_read == latest - killed_at and resumed.last_version == latest
    indexed = _assert_index_equals_table(spark, config)
    assert set(indexed) == {"s0", "s1"} and indexed["s0"]["log_lines"] == 5 + 5
    assert store.load().version == latest


def test_replaced_table_exports_on_and_a_recreated_one_needs_a_reindex(spark, settings, names) -> None:
    table, config = names["table"], names["config"]
    _create(spark, table)
    spark.sql(f"INSERT INTO {table} VALUES {_row('s1')}, {_row('s2')}")
    export(settings, spark, config=config)
    staging = f"{names['schema']}.staging"
    _create(spark, staging)
    spark.sql(f"INSERT INTO {staging} VALUES {_row('s2', 'ended')}, {_row('s3')}")
    # What a dbt full refresh does: new table id, same history; the feed shows deletes and inserts.
    spark.sql(
        f"CREATE OR REPLACE TABLE {table} USING DELTA TBLPROPERTIES (delta.enableChangeDataFeed = true) "
        f"AS SELECT * FROM {staging}"
    )
    replaced = export(settings, spark, config=config)
    assert (replaced.snapshots, replaced.upserted, replaced.deleted) == (0, 2, 1)
    assert set(_assert_index_equals_table(spark, config)) == {"s2", "s3"}

    spark.sql(f"DROP TABLE {table}")
    _create(spark, table)  # versions restart at 0: external versions would look stale
    spark.sql(f"INSERT INTO {table} VALUES {_row('s9')}")
    with pytest.raises(TableReplacedError, match="--reindex"):
        export(settings, spark, config=config)
    rebuilt = export(settings, spark, config=config, reindex=True)
    assert (rebuilt.snapshots, rebuilt.upserted) == (1, 1)
    assert set(_assert_index_equals_table(spark, config)) == {"s9"}


def test_changes_of_forgotten_sessions_and_players_are_exported_as_deletes(spark, settings, names) -> None:
    """An exporter behind a `forget` must not write back what the erasure removed from the index: a change
    of a session or player on the deny-lists is exported as a delete."""
    table, schema = names["table"], names["schema"]
    config = replace(
        names["config"],
        forgotten_sessions=f"{schema}.forgotten_sessions",
        forgotten_players=f"{schema}.forgotten_players",
    )
    _create(spark, table)
    spark.sql(f"INSERT INTO {table} VALUES {_row('a')}, {_row('b')}, {_row('c')}")
    first = export(settings, spark, config=config)  # no deny-lists yet: everything is exported
    assert first.upserted == 3 and set(_indexed(config)) == {"a", "b", "c"}

    spark.sql(f"CREATE TABLE {schema}.forgotten_sessions (session_id string, forgotten_at timestamp) USING DELTA")
    spark.sql(f"CREATE TABLE {schema}.forgotten_players (user_key string, forgotten_at timestamp) USING DELTA")
    spark.sql(f"INSERT INTO {schema}.forgotten_sessions VALUES ('b', current_timestamp())")
    spark.sql(f"INSERT INTO {schema}.forgotten_players VALUES ('uk-c', current_timestamp())")
    spark.sql(f"UPDATE {table} SET tier = 'free'")  # a lagging change of every session
    report = export(settings, spark, config=config)
    assert (report.upserted, report.deleted) == (1, 2)
    assert set(_indexed(config)) == {"a"}
