"""PII end to end on real Spark + Delta (dbt) and a real search engine: the generator's raw PII never
reaches silver, gold or the index; the vault holds it encrypted per player; `forget` erases a player from
every layer, every old table version and the index, and audits it without PII."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from exporters.runner import export
from exporters.search import search_client
from sessionlake.generator import MAIN, GeneratorConfig, plan
from sessionlake.generator.times import parse_iso
from sessionlake.privacy import apply_retention, forget
from sessionlake.transform import build
from sessionlake.transform.bronze import append_bronze, create_bronze_tables
from sessionlake.transform.pii import pseudonymize

INDEX = "sessions_pii_test"
TABLES = {
    "session-events": "session_events",
    "stream-metrics": "stream_metrics",
    "client-logs": "client_logs",
    "billing-logs": "billing_logs",
}
TIME_FIELDS = ("event_time", "log_time")
PII = ("user_id", "email", "ip_address")


def bronze_rows(record: dict) -> dict:
    return {k: parse_iso(v).replace(tzinfo=None) if k in TIME_FIELDS and v else v for k, v in record.items()}


def strings_in_lake_files(root: Path) -> set[str]:
    """Every string value in every Parquet data file under `root`: current and old versions, change data."""
    values: set[str] = set()
    for path in root.rglob("*.parquet"):
        if "_delta_log" in path.parts:
            continue
        for column in pq.read_table(path).to_pylist():
            values.update(str(v) for v in column.values() if v is not None)
    return values


def index_documents(settings) -> list[dict]:
    client = search_client(settings)
    client.indices.refresh(index=INDEX)
    return [h["_source"] for h in client.search(index=INDEX, size=10_000, query={"match_all": {}})["hits"]["hits"]]


@pytest.fixture(scope="module")
def lake(spark, settings, search):
    """Bronze loaded with a small generated workload, one dbt build, one export to the index."""
    os.environ["SESSIONLAKE_EXPORT_INDEX"] = INDEX
    search_client(settings).indices.delete(index=INDEX, ignore_unavailable=True)
    workload = plan(GeneratorConfig(seed=7, sessions=8, users=3, malformed_ratio=0.0))
    records = [r for r in workload.records_in([MAIN]) if r.event is not None]
    create_bronze_tables(spark, settings)
    for source, table in TABLES.items():
        rows = [bronze_rows(r.event) for r in records if r.source == source]
        if rows:
            append_bronze(spark, table, rows, batch_id=1)
    result = build(settings, spark)
    assert result.success, result.failures
    export(settings, spark, once=True)
    pii = {field: {r.event[field] for r in records if r.event.get(field)} for field in PII}
    yield {"records": records, "pii": pii, "workload": workload}
    os.environ.pop("SESSIONLAKE_EXPORT_INDEX", None)


def test_no_raw_pii_in_silver_gold_or_the_index(lake, spark, settings):
    raw = set().union(*lake["pii"].values())
    assert raw and all(lake["pii"].values())
    for schema in ("silver", "gold"):
        for table in spark.catalog.listTables(schema):
            if table.isTemporary:  # dbt's __dbt_tmp views are listed under every schema
                continue
            frame = spark.table(f"{schema}.{table.name}")
            assert not set(PII) & {c.lower() for c in frame.columns}, table.name
            values = {str(v) for row in frame.collect() for v in row if v is not None}
            assert not raw & values, table.name
    documents = index_documents(settings)
    assert documents
    assert not raw & {str(v) for doc in documents for v in doc.values() if v is not None}


def test_the_vault_holds_every_player_encrypted_with_their_own_key(lake, spark):
    secret = os.environ["SESSIONLAKE_PII_SECRET"]
    data_key = "aes_decrypt(k.wrapped_key, unhex('${spark.sessionlake.pii.masterkey}'), 'GCM')"
    players = spark.sql(
        f"""
        select
            p.user_key,
            cast(aes_decrypt(p.user_id_encrypted, {data_key}, 'GCM') as string) as user_id,
            cast(aes_decrypt(p.email_encrypted, {data_key}, 'GCM') as string) as email,
            p.user_id_encrypted,
            k.wrapped_key
        from pii.pii_players as p join pii.pii_player_keys as k using (user_key)
        """
    ).collect()
    # The session's shared catalog may hold other modules' players too: check this workload's.
    players = [p for p in players if p["user_id"] in lake["pii"]["user_id"]]
    assert {p["user_id"] for p in players} == lake["pii"]["user_id"]
    assert all(p["user_key"] == pseudonymize(p["user_id"], secret) for p in players)
    assert {p["email"] for p in players} <= lake["pii"]["email"]
    assert len({bytes(p["wrapped_key"]) for p in players}) == len(players)  # one key per player
    assert all(p["user_id"].encode() not in bytes(p["user_id_encrypted"]) for p in players)


def test_forget_erases_the_player_everywhere_and_audits_without_pii(lake, spark, settings):
    secret = os.environ["SESSIONLAKE_PII_SECRET"]
    records = lake["records"]
    user_id = sorted(lake["pii"]["user_id"])[0]
    user_key = pseudonymize(user_id, secret)
    sessions = {r.session_id for r in records if r.event.get("user_id") == user_id}
    own = [r.event for r in records if r.session_id in sessions]
    erased = {user_id, user_key} | sessions | {e["email"] for e in own if e.get("email")}
    erased |= {e["ip_address"] for e in own if e.get("ip_address")}
    # Other players may share an IP or nothing; only values unique to the forgotten player are checked.
    others = [r.event for r in records if r.session_id not in sessions]
    erased -= {str(v) for e in others for v in e.values()}
    assert user_key in {r["user_key"] for r in spark.table("gold.sessions").collect()}
    gold_before = spark.sql("describe history gold.sessions limit 1").first()["version"]
    other_sessions = spark.table("gold.sessions").where(f"user_key != '{user_key}'").count()

    report = forget(settings, spark, user_id, request_id="ticket-1")

    assert report.keys_destroyed == 1
    assert report.rows_deleted["gold.sessions"] == len(sessions)
    assert report.rows_deleted["bronze.session_events"] > 0
    assert report.documents_deleted == len(sessions)
    assert report.history_purged
    # Current data: nothing of the player in any table, everyone else untouched.
    for schema in ("bronze", "silver", "gold", "pii"):
        for table in spark.catalog.listTables(schema):
            if table.isTemporary:
                continue
            values = {str(v) for row in spark.table(f"{schema}.{table.name}").collect() for v in row}
            assert not erased & values, table.name
    assert spark.table("gold.sessions").count() == other_sessions
    # History: no data file of any version (nor change data) still holds the player.
    assert not erased & strings_in_lake_files(settings.lake)
    with pytest.raises(Exception, match="FILE_NOT_EXIST|FileNotFound|DELTA_"):  # noqa: B017
        spark.sql(f"select * from gold.sessions version as of {gold_before}").collect()
    # The index: the player's documents are gone, the others stay.
    documents = index_documents(settings)
    assert not {d["session_id"] for d in documents} & sessions
    assert len(documents) == other_sessions
    # The audit row: counts and the request id, no PII and no pseudonymous key.
    audit = spark.table("pii.erasure_audit").where("request_id = 'ticket-1'").collect()
    assert len(audit) == 1 and audit[0]["rows_deleted"]["gold.sessions"] == len(sessions)
    assert not (erased | {user_id, user_key}) & {str(v) for v in audit[0].asDict().values()}
    assert not any(user_key in str(v) or user_id in str(v) for v in audit[0]["rows_deleted"])


def test_forget_is_idempotent_and_a_later_build_stays_consistent(lake, spark, settings):
    user_id = sorted(lake["pii"]["user_id"])[0]
    again = forget(settings, spark, user_id, request_id="ticket-1-retry")
    assert sum(again.rows_deleted.values()) == 0 and again.keys_destroyed == 0
    assert again.documents_deleted == 0
    result = build(settings, spark)
    assert result.success, result.failures
    assert spark.table("pii.erasure_audit").count() == 2


def test_bronze_retention_deletes_and_purges_old_rows(lake, spark, settings):
    old = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(days=9)
    marker = {"event_id": "old-1", "session_id": "old-session", "user_id": "retention-victim", "billed_minutes": 1}
    append_bronze(spark, "billing_logs", [marker], ingested_at=old, batch_id=99)
    report = apply_retention(spark, days=7)
    assert report.rows_deleted["bronze.billing_logs"] == 1 and report.history_purged
    assert spark.table("bronze.billing_logs").where("user_id = 'retention-victim'").count() == 0
    assert "retention-victim" not in strings_in_lake_files(settings.bronze_path("billing_logs"))
