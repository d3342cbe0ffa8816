"""The dbt project end to end on Spark + Delta: bronze -> silver -> gold sessions, checked against an
independent Python computation of the gold rules, then a no-op build and a build after late data; the
models and macros linted with sqlfluff once the tables exist."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
from collections import defaultdict
from pathlib import Path

import pytest
from sqlfluff.core import FluffConfig, Linter

from sessionlake.core.dbt import dbt_project
from sessionlake.core.settings import REPO_ROOT
from sessionlake.generator.bronze import append_bronze, create_bronze_tables
from sessionlake.generator.truth import session_row
from sessionlake.generator.workload import BILLING_LOGS, CLIENT_LOGS, SESSION_EVENTS, STREAM_METRICS
from sessionlake.privacy.keys import pseudonymize
from sessionlake.transform import Checks, build

T0 = dt.datetime(2024, 3, 1, 12, 0, 0)
MODELS_ONLY = ["resource_type:model"]
INCREMENTAL_MODELS = {
    "silver.stg_session_manager__session_events",
    "silver.stg_streamer__stream_metrics",
    "silver.stg_client__client_logs",
    "silver.stg_billing__billing_logs",
    "gold.sessions",
    "pii.pii_player_keys",
    "pii.pii_players",
}


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def session_event(event_id, event_type, seconds, session_id, user_id="u1", **fields):
    return {
        "event_id": event_id,
        "event_type": event_type,
        "event_time": at(seconds),
        "session_id": session_id,
        "user_id": user_id,
        "email": f"{user_id}@example.com" if user_id else None,
        "ip_address": "10.0.0.1",
        "game_id": fields.get("game_id", "g1"),
        "region": fields.get("region", "eu-west"),
        "client_platform": fields.get("client_platform", "pc"),
        "end_reason": fields.get("end_reason"),
    }


def metric(event_id, seconds, session_id, fps, bitrate, rtt, loss):
    return {
        "event_id": event_id,
        "event_time": at(seconds),
        "session_id": session_id,
        "fps": fps,
        "bitrate_kbps": bitrate,
        "rtt_ms": rtt,
        "packet_loss_pct": loss,
        "resolution": "1920x1080",
    }


def log_line(event_id, seconds, session_id, level="INFO", crashed=False, device="pixel-8"):
    return {
        "event_id": event_id,
        "log_time": at(seconds),
        "session_id": session_id,
        "level": level,
        "message": "m",
        "device_model": device,
        "os_version": "14",
        "ip_address": "10.0.0.9",
        "crashed": crashed,
    }


def billing(event_id, session_id, user_id, minutes, tier):
    return {"event_id": event_id, "session_id": session_id, "user_id": user_id, "billed_minutes": minutes, "tier": tier}


# Batch 1 and 2 arrive before the first build. s1: out of order (ended before started), a duplicated
# heartbeat, region changing, duplicated metric. s2: still active. s3: logs and billing but no session
# events yet. s4: ended, no logs, no metrics. s5: latest event has a null game_id.
BATCH_1 = {
    "session_events": [
        session_event("se-1-end", "session_ended", 300, "s1", end_reason="user_quit", region="us-east"),
        session_event("se-1-hb", "heartbeat", 60, "s1"),
        session_event("se-1-hb", "heartbeat", 60, "s1"),
        session_event("se-2-start", "session_started", 10, "s2", user_id="u2", client_platform="android"),
        session_event("se-4-start", "session_started", 0, "s4", user_id="u4"),
        session_event("se-4-end", "session_ended", 90.5, "s4", user_id="u4", end_reason="idle"),
        session_event("se-5-start", "session_started", 0, "s5", user_id="u5", game_id="g5"),
    ],
    "stream_metrics": [
        metric("m-1-a", 30, "s1", 60.0, 8000, 20.0, 0.1),
        metric("m-1-b", 90, "s1", 55.5, 7000, 35.0, 0.5),
        metric("m-1-b", 90, "s1", 55.5, 7000, 35.0, 0.5),
        metric("m-2-a", 20, "s2", 30.0, 3000, 80.0, 2.0),
    ],
    "client_logs": [
        log_line("l-3-a", 1000, "s3", "INFO", device="iphone-15"),
        log_line("l-3-b", 1010, "s3", "FATAL", crashed=True, device="iphone-15"),
    ],
    "billing_logs": [billing("b-3-a", "s3", "u3", 12, "free"), billing("b-3-b", "s3", "u3", 3, "premium")],
}
BATCH_2 = {
    "session_events": [
        session_event("se-1-start", "session_started", 0, "s1"),
        session_event("se-1-hb", "heartbeat", 60, "s1"),
        session_event("se-1-hb2", "heartbeat", 120, "s1", region="us-east"),
        session_event("se-5-hb", "heartbeat", 50, "s5", user_id="u5", game_id=None),
    ],
    "stream_metrics": [
        metric("m-1-c", 150, "s1", 58.0, 7500, 25.0, 0.2),
        metric("m-1-a", 30, "s1", 60.0, 8000, 20.0, 0.1),
    ],
    "client_logs": [],
    "billing_logs": [billing("b-1-a", "s1", "u1", 5, "premium"), billing("b-3-a", "s3", "u3", 12, "free")],
}
# Late data, after two builds: s1's client logs (hours late), one more metric for s2, s3's first session
# event (its logs came first), and a re-delivered s4 event that must change nothing.
LATE = {
    "session_events": [
        session_event("se-3-start", "session_started", 900, "s3", user_id="u3-session", game_id="g3"),
        session_event("se-4-end", "session_ended", 90.5, "s4", user_id="u4", end_reason="idle"),
    ],
    "stream_metrics": [metric("m-2-b", 40, "s2", 40.0, 3500, 100.0, 4.0)],
    "client_logs": [
        log_line("l-1-a", 100, "s1", "WARN", device="old-phone"),
        log_line("l-1-b", 310, "s1", "ERROR", device="new-phone"),
        log_line("l-1-b", 310, "s1", "ERROR", device="new-phone"),
    ],
    "billing_logs": [],
}
TABLES = ("session_events", "stream_metrics", "client_logs", "billing_logs")


SOURCES = {
    "session_events": SESSION_EVENTS,
    "stream_metrics": STREAM_METRICS,
    "client_logs": CLIENT_LOGS,
    "billing_logs": BILLING_LOGS,
}


def expected_sessions(batches: list[dict], secret: str) -> dict[str, dict]:
    """The gold rows by the generator's truth (docs/domain.md), over the distinct events of the batches,
    with the user id as gold keeps it: pseudonymous."""
    distinct: dict[str, dict[str, dict]] = {t: {} for t in TABLES}
    for batch in batches:
        for table in TABLES:
            for record in batch[table]:
                distinct[table].setdefault(record["event_id"], record)
    by_session: dict[str, dict[str, list]] = defaultdict(lambda: {source: [] for source in SOURCES.values()})
    for table in TABLES:
        for record in distinct[table].values():
            by_session[record["session_id"]][SOURCES[table]].append(record)
    result = {}
    for session_id, by_source in by_session.items():
        row = session_row(session_id, by_source)
        user_id = row.pop("user_id")
        result[session_id] = {**row, "user_key": pseudonymize(user_id, secret) if user_id else None}
    return result


def ingest(spark, batch: dict, ingested_at: dt.datetime, batch_id: int) -> None:
    for table in TABLES:
        if batch[table]:
            append_bronze(spark, table, batch[table], ingested_at=ingested_at, batch_id=batch_id)


def gold(spark) -> dict[str, dict]:
    return {row["session_id"]: row.asDict() for row in spark.table("gold.sessions").collect()}


def assert_matches(actual: dict[str, dict], expected: dict[str, dict]) -> None:
    assert sorted(actual) == sorted(expected)
    for session_id, want in expected.items():
        got = actual[session_id]
        for column, value in want.items():
            if isinstance(value, float):
                assert got[column] == pytest.approx(value, rel=1e-9), (session_id, column)
            else:
                assert got[column] == value, (session_id, column)


@pytest.fixture(scope="module")
def project(empty_lake, spark, settings):
    """Bronze loaded with two batches and one `dbt build` with every check (models, data tests, unit tests)."""
    create_bronze_tables(spark, settings)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    ingest(spark, BATCH_1, now - dt.timedelta(minutes=2), 1)
    ingest(spark, BATCH_2, now - dt.timedelta(minutes=1), 2)
    result = build(settings, spark, checks=Checks.ALL)
    return {"first": result}


def test_first_build_passes_every_test_and_matches_the_rules(project, spark):
    first = project["first"]
    assert first.success, first.failures
    assert first.rows_merged["gold.sessions"] == 5
    assert first.rows_merged["silver.stg_session_manager__session_events"] == 9
    expected = expected_sessions([BATCH_1, BATCH_2], os.environ["SESSIONLAKE_PII_SECRET"])
    assert_matches(gold(spark), expected)


def test_gold_schema_is_the_contract(project, spark):
    schema = {f.name: f.dataType.simpleString() for f in spark.table("gold.sessions").schema.fields}
    contract = {
        "session_id": "string", "user_key": "string", "game_id": "string", "region": "string",
        "client_platform": "string", "started_at": "timestamp", "ended_at": "timestamp", "end_reason": "string",
        "status": "string", "duration_seconds": "double", "metric_samples": "bigint", "avg_fps": "double",
        "min_fps": "double", "avg_bitrate_kbps": "double", "max_packet_loss_pct": "double",
        "p95_rtt_ms": "double", "log_lines": "bigint", "error_lines": "bigint", "crashed": "boolean",
        "device_model": "string", "billed_minutes": "bigint", "tier": "string", "first_event_at": "timestamp",
        "last_event_at": "timestamp", "last_ingested_at": "timestamp", "updated_at": "timestamp",
    }  # fmt: skip
    assert schema == contract
    # The contract's not-null key is enforced by Delta on every write, whoever writes.
    with pytest.raises(Exception, match="sessions_session_id_not_null"):
        spark.sql("insert into gold.sessions (session_id, updated_at) values (null, current_timestamp())")
    properties = {r["key"]: r["value"] for r in spark.sql("show tblproperties gold.sessions").collect()}
    assert properties.get("delta.enableChangeDataFeed") == "true"


def test_no_raw_pii_in_silver_or_gold(project, spark, settings):
    secret = os.environ["SESSIONLAKE_PII_SECRET"]
    raw_values = {"u1", "u2", "u3", "u1@example.com", "10.0.0.1", "10.0.0.9"}
    for schema in ("silver", "gold"):
        for table in spark.catalog.listTables(schema):
            if table.isTemporary:  # dbt's __dbt_tmp views are listed under every schema
                continue
            frame = spark.table(f"{schema}.{table.name}")
            assert not {"user_id", "email", "ip_address"} & set(frame.columns), table.name
            values = {str(v) for row in frame.collect() for v in row}
            assert not raw_values & values, table.name
    events = spark.table("silver.stg_session_manager__session_events")
    keys = {r["email_key"] for r in events.where("session_id = 's2'").collect()}
    assert keys == {pseudonymize("u2@example.com", secret)}
    # The secret reaches SQL only as ${spark.sessionlake.pii.hashkey}: never in compiled SQL or dbt logs.
    project_paths = dbt_project(settings)
    for folder in (project_paths.target_path, project_paths.log_path):
        for path in Path(folder).rglob("*"):
            if path.is_file():
                assert secret not in path.read_text(errors="ignore"), path


def test_a_second_build_with_no_new_data_changes_nothing(project, spark, settings):
    before = gold(spark)
    vault_before = {r["user_key"]: r["updated_at"] for r in spark.table("pii.pii_players").collect()}
    version = spark.sql("describe history gold.sessions limit 1").collect()[0]["version"]
    result = build(settings, spark, select=MODELS_ONLY)
    assert result.success, result.failures
    # Every incremental model, the PII vault included, merges nothing.
    assert set(result.rows_merged) >= INCREMENTAL_MODELS, result.rows_merged
    assert set(result.rows_merged.values()) == {0}, result.rows_merged
    assert gold(spark) == before
    assert {r["user_key"]: r["updated_at"] for r in spark.table("pii.pii_players").collect()} == vault_before
    latest = spark.sql("describe history gold.sessions limit 1").collect()[0]["version"]
    if latest > version:  # a commit without changes is allowed; a changed row is not
        assert spark.sql(f"select * from table_changes('gold.sessions', {version + 1})").count() == 0


def test_late_data_updates_exactly_the_touched_sessions(project, spark, settings):
    before = gold(spark)
    version = spark.sql("describe history gold.sessions limit 1").collect()[0]["version"]
    ingest(spark, LATE, dt.datetime.now(dt.timezone.utc).replace(tzinfo=None), 3)
    result = build(settings, spark, select=MODELS_ONLY)
    assert result.success, result.failures
    after = gold(spark)
    expected = expected_sessions([BATCH_1, BATCH_2, LATE], os.environ["SESSIONLAKE_PII_SECRET"])
    assert_matches(after, expected)
    changed = {s for s in after if after[s]["updated_at"] != before[s]["updated_at"]}
    assert changed == {"s1", "s2", "s3"}
    assert all(after[s] == before[s] for s in ("s4", "s5"))
    feed = spark.sql(f"select session_id, _change_type from table_changes('gold.sessions', {version + 1})")
    assert {r["session_id"] for r in feed.where("_change_type = 'update_postimage'").collect()} == changed
    assert result.rows_merged["gold.sessions"] == 3
    assert result.rows_merged["silver.stg_client__client_logs"] == 2


def test_status_reports_the_freshness_of_the_sessions_gold_changed(project, spark, capsys):
    from sessionlake.app.commands.status import _print_freshness

    _print_freshness(spark, "gold.sessions")
    line = capsys.readouterr().out
    changed = spark.sql("select count(*) from gold.sessions where updated_at > now() - interval 1 hour").first()[0]
    assert f"freshness of the {changed} sessions changed in the last 60 minutes" in line, line
    assert re.search(r"event -> gold p50 \S+.*, p95 \S+.*; bronze -> gold p50 \S+.*, p95 \S+", line), line


def test_source_freshness_is_checked_and_shown_by_status(project, spark, settings, capsys):
    """`sessionlake build --freshness` (dbt source freshness on the session target); `status` reads its report."""
    from sessionlake.app.commands.build import _freshness
    from sessionlake.app.commands.status import _print_source_freshness
    from sessionlake.transform.freshness import read_freshness, report_path

    assert _freshness(settings) == 0  # bronze rows of the last minutes: within every warn_after
    out = capsys.readouterr().out
    assert re.search(r"session_manager\.session_events\s+pass\s+newest row (\d+[smh] )+old", out), out
    report = {e.source: e for e in read_freshness(report_path(settings))}
    assert {
        "session_manager.session_events",
        "streamer.stream_metrics",
        "client.client_logs",
        "billing.billing_logs",
    } <= set(report)
    _print_source_freshness(list(report.values()), time.time())
    assert "source freshness (dbt, checked" in capsys.readouterr().out


def test_build_refuses_to_run_without_the_pii_secret(project, spark, settings):
    secret = spark.conf.get("spark.sessionlake.pii.hashkey")
    spark.conf.unset("spark.sessionlake.pii.hashkey")
    try:
        result = build(settings, spark, select=MODELS_ONLY)
    finally:
        spark.conf.set("spark.sessionlake.pii.hashkey", secret)
    assert not result.success
    assert any("spark.sessionlake.pii.hashkey is not set" in f for f in result.failures)


def test_maintenance_optimizes_lists_history_restores_and_guards_vacuum(project, spark, settings):
    from sessionlake.transform import maintenance

    versions = spark.sql("describe history gold.sessions").collect()
    first_version = min(r["version"] for r in versions if r["operation"] != "OPTIMIZE")
    first = {
        r["session_id"]: r.asDict()
        for r in spark.sql(f"select * from gold.sessions version as of {first_version}").collect()
    }

    maintenance.optimize(settings, "sessions")
    latest = spark.sql("describe history gold.sessions limit 1").collect()[0]
    assert latest["operation"] == "OPTIMIZE"
    assert "session_id" in latest["operationParameters"]["zOrderBy"]

    maintenance.history(settings, "sessions")  # logs; must not fail
    maintenance.restore(settings, "sessions", first_version)
    assert spark.sql("describe history gold.sessions limit 1").collect()[0]["operation"] == "RESTORE"
    assert gold(spark) == first

    with pytest.raises(maintenance.MaintenanceError):
        maintenance.vacuum(settings, "sessions", retain_hours=1)
    assert spark.sql("describe history gold.sessions limit 1").collect()[0]["operation"] == "RESTORE"


# Versions of an event (docs/dbt.md): an original and its correction (same event id, new content, a later
# producer timestamp), delivered in one build or across two, in order or reversed, plus re-deliveries.
# Session vN: started (plain) and ended, whose end_reason the correction changes.
ORIGINAL_AT = T0 + dt.timedelta(hours=1)
CORRECTED_AT = ORIGINAL_AT + dt.timedelta(minutes=5)


def ended(session_id: str, corrected: bool, kafka_timestamp: dt.datetime | None = None) -> dict:
    record = session_event(f"{session_id}-end", "session_ended", 600, session_id, user_id="u-v",
                           end_reason="crash" if corrected else "user_quit")  # fmt: skip
    return {**record, "_kafka_timestamp": kafka_timestamp or (CORRECTED_AT if corrected else ORIGINAL_AT)}


def started(session_id: str) -> dict:
    return {**session_event(f"{session_id}-start", "session_started", 0, session_id, user_id="u-v"),
            "_kafka_timestamp": ORIGINAL_AT}  # fmt: skip


def events(*records: dict) -> dict:
    return {table: list(records) if table == "session_events" else [] for table in TABLES}


def silver_end(spark, session_id: str) -> dict:
    rows = spark.sql(
        f"select * from silver.stg_session_manager__session_events where event_id = '{session_id}-end'"
    ).collect()
    assert len(rows) == 1, rows
    return rows[0].asDict()


def test_a_correction_wins_whatever_its_timing_and_a_redelivery_changes_nothing(project, spark, settings):
    """v1: both in one build; v2: across two builds; v3: reversed in one build; v4: reversed across two."""
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    ingest(spark, events(*(started(f"v{n}") for n in range(1, 5)), ended("v1", False), ended("v2", False),
                         ended("v3", True), ended("v4", True)), now - dt.timedelta(seconds=3), 20)  # fmt: skip
    ingest(spark, events(ended("v1", True), ended("v3", False)), now - dt.timedelta(seconds=2), 21)
    first = build(settings, spark, select=MODELS_ONLY)
    assert first.success, first.failures
    assert first.rows_merged["silver.stg_session_manager__session_events"] == 8  # 4 starts, 4 ends

    loaded = {f"v{n}": silver_end(spark, f"v{n}") for n in range(1, 5)}
    before = gold(spark)
    # v2's correction arrives; v4's original arrives late (it loses); v1's and v3's originals are
    # delivered again (exact copies) and re-sent (a new producer timestamp): both were seen, nothing moves.
    ingest(spark, events(ended("v2", True), ended("v4", False), ended("v1", False), ended("v3", False),
                         ended("v1", False, CORRECTED_AT + dt.timedelta(minutes=1)),
                         ended("v3", False, CORRECTED_AT + dt.timedelta(minutes=1))), now, 22)  # fmt: skip
    second = build(settings, spark, select=MODELS_ONLY)
    assert second.success, second.failures
    assert second.rows_merged["silver.stg_session_manager__session_events"] == 1  # v2's correction only
    assert second.rows_merged["gold.sessions"] == 1

    after = gold(spark)
    for n in range(1, 5):
        session_id = f"v{n}"
        row = silver_end(spark, session_id)
        assert row["end_reason"] == "crash", session_id
        assert row["_version_order"]["_kafka_timestamp"] == CORRECTED_AT, session_id
        assert after[session_id]["end_reason"] == "crash", session_id

    # identical silver and gold, whichever way the pair came
    arrival = (
        "event_id",
        "updated_at",
        "last_ingested_at",
        "_loaded_at",
        "_ingested_at",
        "_version_id",
        "_version_order",
        "_versions_seen",
    )

    def shape(row: dict, session_id: str) -> dict:
        return {k: v for k, v in row.items() if v != session_id and k not in arrival}

    assert len({repr(shape(silver_end(spark, f"v{n}"), f"v{n}")) for n in range(1, 5)}) == 1
    assert len({repr(shape(after[f"v{n}"], f"v{n}")) for n in range(1, 5)}) == 1
    # a version seen before (v1, v3: both versions; v2: the original) is remembered
    assert all(len(silver_end(spark, f"v{n}")["_versions_seen"]) == 2 for n in (1, 2, 3))
    # re-deliveries and a losing late original stamp nothing
    for session_id in ("v1", "v3", "v4"):
        assert silver_end(spark, session_id)["_loaded_at"] == loaded[session_id]["_loaded_at"], session_id
        assert after[session_id]["updated_at"] == before[session_id]["updated_at"], session_id
    assert after["v2"]["updated_at"] > before["v2"]["updated_at"]


def test_models_and_macros_are_sqlfluff_clean(project, settings, monkeypatch: pytest.MonkeyPatch):
    """`sqlfluff lint` (dbt templater, sparksql dialect), in-process: the templater's `method: session`
    connection is this session's SparkSession. After the build, so that the incremental branches,
    rendered only when the tables exist, are linted too."""
    monkeypatch.setenv("DBT_TARGET_PATH", str(settings.home / "dbt" / "lint-target"))
    monkeypatch.setenv("DBT_LOG_PATH", str(settings.home / "dbt" / "lint-logs"))
    monkeypatch.chdir(REPO_ROOT)
    linter = Linter(config=FluffConfig.from_root())
    records = linter.lint_paths(("models", "macros")).as_records()
    assert len([r for r in records if r["filepath"].startswith("models")]) >= 9  # every model was linted
    problems = [
        f"{record['filepath']}:{v['start_line_no']}:{v['start_line_pos']} {v['code']} {v['description']}"
        for record in records
        for v in record["violations"]
    ]
    assert problems == []


STAGING = (
    "silver.stg_session_manager__session_events",
    "silver.stg_streamer__stream_metrics",
    "silver.stg_client__client_logs",
    "silver.stg_billing__billing_logs",
)
# current_timestamp() of the build that wrote a row; and the versions an event's row remembers: a full
# rebuild sees every version at once, while incremental builds do not remember a version that lost to an
# already loaded newer one (docs/dbt.md, "Versions of an event"; session v4 above).
REBUILD_DIFFERENT_COLUMNS = ("updated_at", "_loaded_at", "_versions_seen")


def _rows(spark, table: str) -> list[tuple]:
    frame = spark.table(table)
    frame = frame.select(*sorted(c for c in frame.columns if c not in REBUILD_DIFFERENT_COLUMNS))
    return sorted(tuple(str(v) for v in row) for row in frame.collect())


def test_plain_dbt_over_the_thrift_server_builds_the_same_tables_and_serves_bi_clients(
    project, spark, settings, components, tmp_path: Path
):
    """It rebuilds every model. dbt's own CLI (no sessionlake in between) with `--target thrift` against
    the stack's Spark Thrift Server: a full refresh of every model from the bronze the session target built
    from, `run -s model+`, `test`, `run-operation`, `source freshness`, `docs generate`; then an analyst's
    HiveServer2 client (PyHive) reads gold."""
    import subprocess
    import sys

    from pyhive import hive

    from sessionlake.core.dbt import profile_env

    components.require("thrift")
    before = {table: _rows(spark, table) for table in STAGING}  # gold was restored by the maintenance test
    vault_before = {r["user_key"] for r in spark.table("pii.pii_players").collect()}
    dbt = Path(sys.executable).parent / "dbt"
    flags = ["--target", "thrift", "--profiles-dir", "profiles", "--target-path", str(tmp_path / "target")]
    flags += ["--log-path", str(tmp_path / "logs")]
    env = {**os.environ, **profile_env(settings)}

    def plain_dbt(*args: str, ok: tuple[int, ...] = (0,)) -> dict:
        done = subprocess.run(
            [str(dbt), *args, *flags], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900
        )
        assert done.returncode in ok, done.stdout[-4000:]
        results = tmp_path / "target" / "run_results.json"
        return json.loads(results.read_text()) if results.exists() else {}

    plain_dbt("run", "--full-refresh")
    downstream = plain_dbt("run", "--select", "stg_client__client_logs+")  # incremental, nothing new
    assert {"model.sessionlake.stg_client__client_logs", "model.sessionlake.sessions"} <= {
        r["unique_id"] for r in downstream["results"]
    }
    plain_dbt("test", "--select", "sessions")
    plain_dbt("run-operation", "model_history", "--args", "{model: sessions, limit: 3}")
    # Freshness is computed over thrift for every bronze source (stale test data may make it "error": exit 1).
    plain_dbt("source", "freshness", ok=(0, 1))
    freshness = json.loads((tmp_path / "target" / "sources.json").read_text())["results"]
    checked = {r["unique_id"].split(".")[-1]: r for r in freshness if r.get("max_loaded_at")}
    assert {"session_events", "stream_metrics", "client_logs", "billing_logs"} <= set(checked)
    plain_dbt("docs", "generate")
    catalog = json.loads((tmp_path / "target" / "catalog.json").read_text())
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    # The analysts' docs hold every model, and each model's documented columns are its table's columns.
    models = {uid: node for uid, node in manifest["nodes"].items() if node["resource_type"] == "model"}
    assert len(models) >= 11 and set(models) <= set(catalog["nodes"])
    for uid, node in models.items():
        in_table = {c.lower() for c in catalog["nodes"][uid]["columns"]}
        documented = {c.lower() for c, column in node["columns"].items() if column.get("description")}
        assert in_table == documented, f"{uid}: undocumented {in_table - documented}, absent {documented - in_table}"

    # The full refresh replaced the table, and the contract's constraint came back with it.
    operations = [r["operation"] for r in spark.sql("describe history gold.sessions limit 4").collect()]
    assert operations[0] == "ADD CONSTRAINT", operations
    assert {"CREATE OR REPLACE TABLE AS SELECT", "REPLACE TABLE AS SELECT", "CREATE OR REPLACE TABLE"} & set(operations)
    properties = {r["key"] for r in spark.sql("show tblproperties gold.sessions").collect()}
    assert "delta.constraints.sessions_session_id_not_null" in properties
    assert {table: _rows(spark, table) for table in before} == before
    expected = expected_sessions([BATCH_1, BATCH_2, LATE], os.environ["SESSIONLAKE_PII_SECRET"])
    rebuilt = gold(spark)
    assert {f"v{n}" for n in range(1, 5)} <= set(rebuilt)  # the versions test's sessions, checked there
    assert_matches({s: row for s, row in rebuilt.items() if s in expected}, expected)
    assert {r["user_key"] for r in spark.table("pii.pii_players").collect()} == vault_before
    secret = os.environ["SESSIONLAKE_PII_SECRET"]
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(errors="ignore"), path

    # An analyst's session: gold as the session target sees it, and no PII key to read.
    connection = hive.connect(host="127.0.0.1", port=settings.ports.thrift, username="analyst")
    cursor = connection.cursor()
    served_columns = "session_id, user_key, status, duration_seconds, metric_samples, avg_fps, crashed"
    cursor.execute(f"select {served_columns} from gold.sessions")
    served = sorted(cursor.fetchall(), key=lambda row: row[0])
    local = spark.sql(f"select {served_columns} from gold.sessions order by session_id").collect()
    assert served == [tuple(row) for row in local]
    cursor.execute("select '${spark.sessionlake.pii.hashkey}', '${spark.sessionlake.pii.masterkey}'")
    assert cursor.fetchall() == [("", "")]
    for function in ("sessionlake_pseudonymize('a-player')", "sessionlake_master_key()"):
        with pytest.raises(Exception, match=r"spark\.sessionlake\.pii\.(hashkey is not set|masterkey is missing)"):
            cursor.execute(f"select {function}")
    connection.close()


def test_a_killed_thrift_server_is_reported_and_restarted_by_up(settings, components) -> None:
    """After the plain-dbt test: no stack component holds the PII keys in its environment; the Thrift
    Server killed with -9 (the whole process group) is reported stopped by `stack status`, a client gets a
    connection error, and `stack up` brings it back serving."""
    import signal
    import time

    from pyhive import hive

    from sessionlake import stack
    from sessionlake.stack.process import PidFile, group_alive

    components.require("thrift")
    pid = PidFile(settings.stack_dir / "thrift" / "thrift.pid", owner="").read()
    # No component got the PII keys: they reach dbt's session over its own connection only.
    running = [p for p in settings.stack_dir.glob("*/*.pid") if Path(f"/proc/{PidFile(p, owner='').read()}").exists()]
    assert {p.parent.name for p in running} >= {"thrift", "metastore"}
    for pidfile in running:
        environ = Path(f"/proc/{PidFile(pidfile, owner='').read()}/environ").read_bytes().split(b"\0")
        names = {entry.split(b"=", 1)[0].decode() for entry in environ}
        assert not names & {"SESSIONLAKE_PII_SECRET", "SESSIONLAKE_PII_MASTER_KEY"}, pidfile
        assert pidfile.parent.name != "thrift" or "AWS_SECRET_ACCESS_KEY" in names  # s3a's credentials
    os.killpg(pid, signal.SIGKILL)
    while group_alive(pid):
        time.sleep(0.1)
    status = {s.name: s for s in stack.status(settings)}["thrift"]
    assert not status.running and status.detail == "stopped"
    with pytest.raises(Exception):  # noqa: B017 - thrift's transport error: nothing listens any more
        hive.connect(host="127.0.0.1", port=settings.ports.thrift, username="analyst")

    stack.up(settings, ["thrift"])  # what a plain `stack up` does for a dead component
    assert {s.name: s for s in stack.status(settings)}["thrift"].running
    cursor = hive.connect(host="127.0.0.1", port=settings.ports.thrift, username="analyst").cursor()
    cursor.execute("select count(*) from gold.sessions")
    assert cursor.fetchall()[0][0] > 0
