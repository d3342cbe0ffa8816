"""PII end to end on real Spark + Delta (dbt) and a real search engine: the generator's raw PII never
reaches silver, gold or the index; the vault holds it encrypted per player; `forget` erases a player from
every layer, every old table version and the index, and audits it without PII."""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sessionlake.core.dbt import invoke
from sessionlake.exporters.config import ExportConfig
from sessionlake.exporters.runner import export
from sessionlake.exporters.search import SearchIndex, search_client
from sessionlake.generator import MAIN, GeneratorConfig, plan
from sessionlake.generator.bronze import append_bronze, create_bronze_tables
from sessionlake.generator.times import parse_iso
from sessionlake.privacy import apply_retention, forget
from sessionlake.privacy.keys import pseudonymize
from sessionlake.transform import build

INDEX = "sessions_pii_test"
TABLES = {
    "session-events": "session_events",
    "stream-metrics": "stream_metrics",
    "client-logs": "client_logs",
    "billing-logs": "billing_logs",
}
TIME_FIELDS = ("event_time", "log_time")
PII = ("user_id", "email", "ip_address")
DENY_LISTS = ("forgotten_players", "forgotten_sessions")
# The builds here are about PII (the models' raw-PII guard runs as their pre-hook); dbt's data tests run in
# test_dbt_build and in this module's consistency check after an erasure.
MODELS = ["resource_type:model"]
# A player's data key, unwrapped with the session's master key (bound to the player's user key).
DATA_KEY = "aes_decrypt(k.wrapped_key, sessionlake_master_key(), 'GCM', 'DEFAULT', concat('data_key:', k.user_key))"
PURGED = ("gold.sessions", "silver.stg_session_manager__session_events", "bronze.session_events")


def bronze_rows(record: dict) -> dict:
    return {k: parse_iso(v).replace(tzinfo=None) if k in TIME_FIELDS and v else v for k, v in record.items()}


def strings_in_lake_files(root: Path) -> set[str]:
    """Every string value in every Parquet data file under `root`: current and old versions, change data
    (the deny-lists apart: they hold pseudonymous keys and session ids by design)."""
    values: set[str] = set()
    for path in root.rglob("*.parquet"):
        if "_delta_log" in path.parts or set(DENY_LISTS) & set(path.parts):
            continue
        for column in pq.read_table(path).to_pylist():
            values.update(str(v) for v in column.values() if v is not None)
    return values


def index_documents(pii_settings) -> list[dict]:
    client = search_client(pii_settings)
    client.indices.refresh(index=INDEX)
    body = {"query": {"match_all": {}}, "size": 10_000}
    return [h["_source"] for h in client.search(index=INDEX, body=body)["hits"]["hits"]]


@pytest.fixture(scope="module")
def pii_settings(settings, opensearch):
    """The session's settings, exporting to this module's own index on OpenSearch: the erasure and the index
    checks run on OpenSearch here, on Elasticsearch in the end-to-end test and tests/test_export.py, and on
    both in tests/test_index_lifecycle.py."""
    return replace(
        settings,
        ports=replace(settings.ports, search=opensearch.ports.search),
        search=replace(settings.search, engine="opensearch"),
        export=replace(settings.export, index=INDEX),
    )


def player_index(pii_settings) -> SearchIndex:
    return SearchIndex(ExportConfig.from_settings(pii_settings))


@pytest.fixture(scope="module")
def lake(spark, pii_settings):
    """Bronze loaded with a small generated workload, one dbt build, one export to the index."""
    player_index(pii_settings).layout.drop()
    workload = plan(GeneratorConfig(seed=7, sessions=8, users=3, malformed_ratio=0.0))
    records = [r for r in workload.records_in([MAIN]) if r.event is not None]
    create_bronze_tables(spark, pii_settings)
    for source, table in TABLES.items():
        rows = [bronze_rows(r.event) for r in records if r.source == source]
        if rows:
            append_bronze(spark, table, rows, batch_id=1)
    result = build(pii_settings, spark, select=MODELS)
    assert result.success, result.failures
    export(pii_settings, spark, once=True)
    pii = {field: {r.event[field] for r in records if r.event.get(field)} for field in PII}
    yield {"records": records, "pii": pii, "workload": workload}


def test_no_raw_pii_in_silver_gold_or_the_index(lake, spark, pii_settings):
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
    documents = index_documents(pii_settings)
    assert documents
    assert not raw & {str(v) for doc in documents for v in doc.values() if v is not None}


def test_the_vault_holds_every_player_encrypted_with_their_own_key(lake, spark):
    secret = os.environ["SESSIONLAKE_PII_SECRET"]
    players = spark.sql(
        f"""
        select
            p.user_key,
            cast(aes_decrypt(p.user_id_encrypted, {DATA_KEY}, 'GCM', 'DEFAULT', concat('user_id:', p.user_key))
                as string) as user_id,
            cast(aes_decrypt(p.email_encrypted, {DATA_KEY}, 'GCM', 'DEFAULT', concat('email:', p.user_key))
                as string) as email,
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


def test_a_ciphertext_opens_only_in_its_own_row_and_a_rotation_rewraps_every_key(
    lake, spark, pii_settings, monkeypatch
):
    """The vault's ciphertexts are bound to their player (and column) by GCM's associated data; a master-key
    rotation re-wraps every data key, leaves no old wrapped key in the table's history, and is idempotent.
    Rotated there and back, so the rest of the module runs on the session's own master key."""
    from sessionlake.privacy.rotation import rotate_master_key

    def vault() -> list:
        return spark.sql(
            "select k.user_key, k.wrapped_key, p.user_id_encrypted"
            " from pii.pii_player_keys as k join pii.pii_players as p using (user_key) order by k.user_key"
        ).collect()

    def opens(wrapped_key: bytes, user_key: str, master: str = "sessionlake_master_key()") -> bool:
        aad = f"concat('data_key:', '{user_key}')"
        query = f"select try_aes_decrypt(unhex('{bytes(wrapped_key).hex()}'), {master}, 'GCM', 'DEFAULT', {aad})"
        return spark.sql(query).first()[0] is not None

    stored = vault()
    first, second = stored[:2]
    assert opens(first["wrapped_key"], first["user_key"])
    assert not opens(first["wrapped_key"], second["user_key"])  # another player's row
    value = (
        f"select try_aes_decrypt(p.user_id_encrypted, {DATA_KEY}, 'GCM', 'DEFAULT', concat('{{column}}:', p.user_key))"
        f" from pii.pii_players as p join pii.pii_player_keys as k using (user_key) where p.user_key = '{first[0]}'"
    )
    assert spark.sql(value.format(column="user_id")).first()[0] is not None
    assert spark.sql(value.format(column="email")).first()[0] is None  # another column

    old, new = os.environ["SESSIONLAKE_PII_MASTER_KEY"], "5e" * 32
    keys = spark.table("pii.pii_player_keys").count()
    before = spark.sql("describe history pii.pii_player_keys limit 1").first()["version"]
    monkeypatch.setenv("SESSIONLAKE_PII_NEXT_MASTER_KEY", new)
    assert rotate_master_key(pii_settings, spark).keys_rewrapped == keys
    rotated = vault()
    assert all(not opens(r["wrapped_key"], r["user_key"]) for r in rotated)  # the old master key no longer opens
    assert all(opens(r["wrapped_key"], r["user_key"], f"unhex('{new}')") for r in rotated)
    assert [r["user_id_encrypted"] for r in rotated] == [r["user_id_encrypted"] for r in stored]  # data keys kept
    with pytest.raises(Exception, match="FILE_NOT_EXIST|FileNotFound|DELTA_"):
        spark.sql(f"select * from pii.pii_player_keys version as of {before}").collect()  # purged
    assert rotate_master_key(pii_settings, spark).keys_rewrapped == 0  # a second run: nothing left

    monkeypatch.setenv("SESSIONLAKE_PII_MASTER_KEY", new)
    monkeypatch.setenv("SESSIONLAKE_PII_NEXT_MASTER_KEY", old)
    spark.conf.set("spark.sessionlake.pii.masterkey", new)
    try:
        assert rotate_master_key(pii_settings, spark).keys_rewrapped == keys
    finally:
        spark.conf.set("spark.sessionlake.pii.masterkey", old)
    assert all(opens(r["wrapped_key"], r["user_key"]) for r in vault())


def player_values(lake: dict, user_id: str) -> tuple[set[str], set[str]]:
    """The raw PII values unique to the player, and their links (pseudonymous key, session ids)."""
    records = lake["records"]
    sessions = {r.session_id for r in records if r.event.get("user_id") == user_id}
    own = [r.event for r in records if r.session_id in sessions]
    raw = {user_id} | {e[f] for e in own for f in ("email", "ip_address") if e.get(f)}
    # Other players may share an IP; only values unique to the forgotten player are checked.
    raw -= {str(v) for r in records if r.session_id not in sessions for v in r.event.values()}
    return raw, {pseudonymize(user_id, os.environ["SESSIONLAKE_PII_SECRET"])} | sessions


def table_values(spark, schemas=("bronze", "silver", "gold", "pii")) -> dict[str, set[str]]:
    """Every value of every table of `schemas`, by table (the deny-lists apart: they hold keys by design)."""
    values = {}
    for schema in schemas:
        for table in spark.catalog.listTables(schema):
            if table.isTemporary or table.name in DENY_LISTS:
                continue
            values[f"{schema}.{table.name}"] = {
                str(v) for row in spark.table(f"{schema}.{table.name}").collect() for v in row
            }
    return values


def raw_in_lake_files(root: Path, raw: set[str]) -> list[str]:
    """Files under `root` (data, change data, _delta_log commits, checkpoints, checksums) holding a raw value."""
    found = []
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        if path.suffix == ".parquet":
            text = str(pq.read_table(path).to_pylist())
        else:
            text = path.read_bytes().decode("utf-8", errors="ignore")
        found += [f"{path.relative_to(root)}: {value}" for value in raw if value in text]
    return found


def test_bronze_tables_keep_pii_out_of_the_delta_log_statistics(lake, spark, tmp_path):
    properties = {r["key"]: r["value"] for r in spark.sql("show tblproperties bronze.session_events").collect()}
    stats = properties["delta.dataSkippingStatsColumns"].replace("`", "").split(",")
    assert {"event_id", "session_id", "_ingested_at"} <= set(stats)
    assert not {"user_id", "email", "ip_address", "_raw", "_rescued_data"} & set(stats)
    # Why erasure deletes with MERGE: a Delta DELETE writes its predicate, literal included, into the log.
    spark.sql(f"create table default.delete_probe (user_id string) using delta location '{tmp_path / 'probe'}'")
    try:
        spark.sql("insert into default.delete_probe values ('probe-user-1')")
        spark.sql("delete from default.delete_probe where user_id = 'probe-user-1'")
        predicate = spark.sql("describe history default.delete_probe limit 1").first()["operationParameters"]
        assert "probe-user-1" in predicate["predicate"]
    finally:
        spark.sql("drop table default.delete_probe")


def test_forget_erases_the_player_everywhere_and_audits_without_pii(lake, spark, pii_settings):
    user_id = sorted(lake["pii"]["user_id"])[0]
    raw, links = player_values(lake, user_id)
    user_key = pseudonymize(user_id, os.environ["SESSIONLAKE_PII_SECRET"])
    sessions = links - {user_key}
    assert raw and user_key in {r["user_key"] for r in spark.table("gold.sessions").collect()}
    gold_before = spark.sql("describe history gold.sessions limit 1").first()["version"]
    other_sessions = spark.table("gold.sessions").where(f"user_key != '{user_key}'").count()

    report = forget(pii_settings, spark, user_id, player_index(pii_settings), request_id="ticket-1")

    assert report.keys_destroyed == 1
    assert report.rows_deleted["gold.sessions"] == len(sessions)
    assert report.rows_deleted["bronze.session_events"] > 0
    assert report.documents_deleted == len(sessions)
    assert report.history_purged
    # Current data: nothing of the player in any table, everyone else untouched.
    for table, values in table_values(spark).items():
        assert not (raw | links) & values, table
    assert spark.table("gold.sessions").count() == other_sessions
    # The deny-lists: the pseudonymous key and the session ids, never a raw value.
    assert user_key in {r["user_key"] for r in spark.table("pii.forgotten_players").collect()}
    assert sessions <= {r["session_id"] for r in spark.table("pii.forgotten_sessions").collect()}
    # History: no data file of any version (nor change data) still holds the player, and no file at all,
    # transaction log included (statistics, commit info), holds a raw value.
    assert not (raw | links) & strings_in_lake_files(Path(pii_settings.lake))
    assert raw_in_lake_files(Path(pii_settings.lake), raw) == []
    secrets = {os.environ["SESSIONLAKE_PII_SECRET"], os.environ["SESSIONLAKE_PII_MASTER_KEY"]}
    assert raw_in_lake_files(Path(pii_settings.lake), secrets) == []  # erasure SQL hashes in plans, never in the log
    with pytest.raises(Exception, match="FILE_NOT_EXIST|FileNotFound|DELTA_"):
        spark.sql(f"select * from gold.sessions version as of {gold_before}").collect()
    # The index: the player's documents are gone, the others stay.
    documents = index_documents(pii_settings)
    assert not {d["session_id"] for d in documents} & sessions
    assert len(documents) == other_sessions
    # The audit row: counts and the request id, no PII and no pseudonymous key.
    audit = spark.table("pii.erasure_audit").where("request_id = 'ticket-1'").collect()
    assert len(audit) == 1 and audit[0]["rows_deleted"]["gold.sessions"] == len(sessions)
    assert audit[0]["documents_deleted"] == len(sessions) and audit[0]["keys_destroyed"] == 1
    assert not (raw | links) & {str(v) for v in audit[0].asDict().values()}
    assert not any(user_key in str(v) or user_id in str(v) for v in audit[0]["rows_deleted"])


def deny_list_values(spark) -> set[str]:
    """Values of the deny-lists (pseudonymous keys and session ids; their Parquet files hold them too)."""
    return {str(v) for table in DENY_LISTS for row in spark.table(f"pii.{table}").collect() for v in row}


def test_forget_is_idempotent_and_a_later_build_stays_consistent(lake, spark, pii_settings):
    user_id = sorted(lake["pii"]["user_id"])[0]
    before = {t: spark.sql(f"describe history {t}").where("operation = 'VACUUM START'").count() for t in PURGED}
    # The index refuses (a closed index): forget fails and its audit row does not say done.
    client = search_client(pii_settings)
    indices = ",".join(player_index(pii_settings).layout.resolve().indices)
    client.indices.close(index=indices)
    try:
        with pytest.raises(Exception, match="closed"):
            forget(pii_settings, spark, user_id, player_index(pii_settings), request_id="ticket-1-retry")
    finally:
        client.indices.open(index=indices, wait_for_active_shards="all")
    pending = spark.table("pii.erasure_audit").where("request_id = 'ticket-1-retry'").collect()
    assert pending and all(r["completed_at"] is None for r in pending)
    again = forget(pii_settings, spark, user_id, player_index(pii_settings), request_id="ticket-1-retry")
    assert sum(again.rows_deleted.values()) == 0 and again.keys_destroyed == 0
    # Nothing changed since the first erasure purged these tables: no VACUUM ran again (purge_needed).
    assert {t: spark.sql(f"describe history {t}").where("operation = 'VACUUM START'").count() for t in PURGED} == before
    assert again.documents_deleted == 0
    result = build(pii_settings, spark)
    assert result.success, result.failures
    audit = spark.table("pii.erasure_audit").collect()
    assert {r["request_id"] for r in audit} == {"ticket-1", "ticket-1-retry"}
    assert all(r["completed_at"] is not None for r in audit)  # the retry completed the failed run's row too


def test_late_data_of_a_forgotten_player_does_not_bring_them_back(lake, spark, pii_settings):
    user_id = sorted(lake["pii"]["user_id"])[0]
    raw, links = player_values(lake, user_id)
    user_key = pseudonymize(user_id, os.environ["SESSIONLAKE_PII_SECRET"])
    old_session = sorted(links - {user_key})[0]
    late = {
        # a late log file of a forgotten session (no player id in it), a late session event, and billing
        # of a session nobody had seen before forget
        "client_logs": [{"event_id": "late-log-1", "session_id": old_session, "log_time": dt.datetime(2024, 5, 1),
                         "level": "ERROR", "ip_address": "203.0.113.77", "crashed": True}],
        "session_events": [{"event_id": "late-se-1", "event_type": "heartbeat", "event_time": dt.datetime(2024, 5, 1),
                            "session_id": old_session, "user_id": user_id, "email": "late-mail@example.org",
                            "ip_address": "203.0.113.77"}],
        "billing_logs": [{"event_id": "late-bill-1", "session_id": "late-new-session", "user_id": user_id,
                          "billed_minutes": 3, "tier": "free"}],
    }  # fmt: skip
    raw |= {"late-mail@example.org", "203.0.113.77"}
    links |= {"late-new-session", "late-log-1", "late-se-1", "late-bill-1"}
    for table, rows in late.items():
        append_bronze(spark, table, rows, batch_id=50)

    result = build(pii_settings, spark, select=MODELS)
    assert result.success, result.failures
    export(pii_settings, spark, once=True)

    for table, values in table_values(spark, ("silver", "gold", "pii")).items():
        assert not (raw | links) & values, table
    documents = index_documents(pii_settings)
    assert not (raw | links) & {str(v) for doc in documents for v in doc.values() if v is not None}
    assert not raw & deny_list_values(spark)
    # Bronze retention also erases the late bronze rows of forgotten players and sessions, and purges them.
    report = apply_retention(pii_settings, spark, days=7)
    assert report.forgotten_rows_deleted["bronze.session_events"] == 1
    assert report.forgotten_rows_deleted["bronze.client_logs"] == 1
    assert report.forgotten_rows_deleted["bronze.billing_logs"] == 1
    assert report.history_purged
    for table, values in table_values(spark, ("bronze",)).items():
        assert not (raw | links) & values, table
    assert raw_in_lake_files(Path(pii_settings.lake) / "bronze", raw) == []


def test_the_forget_player_run_operation_alone_and_the_exporter_erase_the_player(lake, spark, pii_settings):
    user_id = sorted(lake["pii"]["user_id"])[1]
    raw, links = player_values(lake, user_id)
    user_key = pseudonymize(user_id, os.environ["SESSIONLAKE_PII_SECRET"])
    sessions = links - {user_key}
    assert sessions <= {d["session_id"] for d in index_documents(pii_settings)}
    # Quarantined records: erasure matches a field's exact value, never a substring of the record.
    session = sorted(sessions)[0]
    erased = {
        json.dumps({"event_id": "q1", "session_id": session, "fps": "fast"}),  # the session, valid JSON
        '{"event_id": "q2", "session_id": "' + session + '", broken',  # the session, in text that is no JSON
        json.dumps({"event_id": "q3", "user_id": user_id, "note": 'a "quoted" \\ note'}),  # the player's id
    }
    kept = {
        json.dumps({"event_id": "q4", "session_id": f"{session}-2", "user_id": "someone-else"}),  # contains it
        json.dumps({"event_id": "q5", "session_id": "", "note": session}),  # blank id; named in another field
        json.dumps({"event_id": "q6", "session_id": session[:3], "user_id": "someone-else"}),  # a short id
    }
    quarantine_before = {bytes(r["_raw"]).decode() for r in spark.table("bronze.quarantine").collect()}
    rows = [{"_source": "test", "_reason": "type_mismatch: fps", "_raw": text.encode()} for text in erased | kept]
    append_bronze(spark, "quarantine", rows, batch_id=60)

    args = json.dumps({"user_id": user_id, "request_id": "dbt-only-1"})
    result = invoke(pii_settings, ["run-operation", "forget_player", "--args", args])

    assert result.success, result.exception
    quarantined = {bytes(r["_raw"]).decode() for r in spark.table("bronze.quarantine").collect()}
    assert quarantined == quarantine_before | kept
    for table, values in table_values(spark).items():
        assert not (raw | links) & values, table
    audit = spark.table("pii.erasure_audit").where("request_id = 'dbt-only-1'").collect()
    assert len(audit) == 1 and audit[0]["keys_destroyed"] == 1 and audit[0]["documents_deleted"] is None
    # The index is not reached from dbt: the exporter's next run deletes the documents (the gold deletes
    # in the change data feed, or, once vacuumed, its snapshot fallback).
    export(pii_settings, spark, once=True)
    documents = index_documents(pii_settings)
    assert documents and not sessions & {d["session_id"] for d in documents}
    assert not (raw | links) & {str(v) for doc in documents for v in doc.values() if v is not None}


def test_bronze_retention_deletes_and_purges_old_rows(lake, spark, pii_settings):
    old = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(days=9)
    marker = {"event_id": "old-1", "session_id": "old-session", "user_id": "retention-victim", "billed_minutes": 1}
    append_bronze(spark, "billing_logs", [marker], ingested_at=old, batch_id=99)
    report = apply_retention(pii_settings, spark, days=7)
    assert report.rows_deleted["bronze.billing_logs"] == 1 and report.history_purged
    assert spark.table("bronze.billing_logs").where("user_id = 'retention-victim'").count() == 0
    assert "retention-victim" not in strings_in_lake_files(Path(pii_settings.bronze_path("billing_logs")))


def test_retention_keeps_old_rows_that_silver_has_not_processed(lake, spark, pii_settings):
    """A build outage longer than the retention period: bronze rows no build has processed stay, however
    old, and are reported as kept back (the last test of the module: it empties a silver table)."""
    spark.sql("delete from silver.stg_billing__billing_logs")  # as if no build had loaded billing yet
    old = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(days=9)
    marker = {"event_id": "old-2", "session_id": "old-session-2", "user_id": "outage-player", "billed_minutes": 2}
    append_bronze(spark, "billing_logs", [marker], ingested_at=old, batch_id=100)
    report = apply_retention(pii_settings, spark, days=7)
    assert report.rows_deleted["bronze.billing_logs"] == 0 and report.kept_back["bronze.billing_logs"] == 1
    assert spark.table("bronze.billing_logs").where("event_id = 'old-2'").count() == 1
    # Tables every model has processed lose their old rows as before.
    assert report.kept_back["bronze.session_events"] == 0
