"""The PII guards fail the build: a model exposing a declared PII column, a missing or malformed master
key; and the masking macros do what docs/pii.md says. Real dbt on Spark + Delta."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from dbt.cli.main import dbtRunner
from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DateType,
    DoubleType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from sessionlake.core.dbt import invoke
from sessionlake.core.settings import REPO_ROOT
from sessionlake.core.spark import SECRET_CONFS
from sessionlake.generator.bronze import append_bronze, create_bronze_tables
from sessionlake.ingest.tables import stats_columns
from sessionlake.privacy.config import PrivacyConfigError, master_key
from sessionlake.privacy.keys import pseudonymize
from sessionlake.privacy.operations import OperationError, run_operation
from sessionlake.privacy.retention import apply_retention
from sessionlake.transform import build

MASTER_KEY_CONF = "spark.sessionlake.pii.masterkey"
VAULT = ["pii_player_keys", "pii_players"]


def failures(result) -> str:
    return " ".join(str(r.message) for r in (result.result or [])) + str(result.exception or "")


def project_with_leak_folder(tmp_path: Path) -> tuple[Path, list[str]]:
    """A copy of the dbt project with an empty models/leak folder, and the flags dbt needs to run it."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(REPO_ROOT / "dbt_project.yml", project)
    for folder in ("models", "macros"):
        shutil.copytree(REPO_ROOT / folder, project / folder)
    (project / "models" / "leak").mkdir()
    args = ["--project-dir", str(project), "--profiles-dir", str(REPO_ROOT / "profiles")]
    args += ["--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")]
    return project, args


def test_a_model_exposing_a_declared_pii_column_fails_before_writing(spark, settings, tmp_path: Path):
    create_bronze_tables(spark, settings)
    project, args = project_with_leak_folder(tmp_path)
    (project / "models" / "leak" / "leaky_players.sql").write_text(
        "select session_id, user_id from {{ source('billing', 'billing_logs') }}\n"
    )
    result = dbtRunner().invoke(["run", "--select", "leaky_players", *args])
    assert not result.success
    assert "leaky_players exposes declared PII column(s) user_id" in failures(result)
    assert not spark.catalog.tableExists("silver.leaky_players")
    # Renamed, through a CTE, upper-cased: the value check finds the raw ids in the output.
    append_bronze(spark, "billing_logs", [{"event_id": "guard-1", "session_id": "guard-s", "user_id": "Guard-User-1"}])
    for leaky_sql in (
        "select session_id, user_id as player from {{ source('billing', 'billing_logs') }}\n",
        "with billed as (select session_id, upper(user_id) as who from {{ source('billing', 'billing_logs') }})\n"
        "select billed.session_id, coalesce(billed.who, 'nobody') as player from billed\n",
    ):
        (project / "models" / "leak" / "leaky_players.sql").write_text(leaky_sql)
        result = dbtRunner().invoke(["run", "--select", "leaky_players", *args])
        assert not result.success
        assert "leaky_players exposes raw PII values: player <- billing.billing_logs.user_id" in failures(result)
        assert "Guard-User-1" not in failures(result)
        assert not spark.catalog.tableExists("silver.leaky_players")
    # The same model through the protect_pii macro builds.
    # The same model through the protect_pii macro builds, as a table: as a view it would hash at query
    # time, in the reader's session, which holds no key; protect_pii refuses that.
    protected = (
        "select session_id, {{ protect_pii('user_id', 'billing', 'billing_logs') }}\n"
        "from {{ source('billing', 'billing_logs') }}\n"
    )
    (project / "models" / "leak" / "leaky_players.sql").write_text(protected)
    result = dbtRunner().invoke(["run", "--select", "leaky_players", *args])
    assert not result.success
    assert "protect_pii: leaky_players is a view" in failures(result)
    (project / "models" / "leak" / "leaky_players.sql").write_text("{{ config(materialized='table') }}\n" + protected)
    result = dbtRunner().invoke(["run", "--select", "leaky_players", *args])
    assert result.success, failures(result)
    assert spark.table("silver.leaky_players").columns == ["session_id", "user_key"]
    spark.sql("drop table silver.leaky_players")


INCREMENTAL_LEAK = """{{ config(materialized='incremental', unique_key='event_id', incremental_strategy='merge') }}
select event_id, session_id, _ingested_at from {{ source('billing', 'billing_logs') }}
where event_id like 'window-%'
{% if is_incremental() %}and _ingested_at > (select max(_ingested_at) from {{ this }}){% endif %}
"""


def test_an_incremental_build_checks_its_new_rows_against_the_raw_values_of_its_window(spark, settings, tmp_path):
    """The loop's guard scans the bronze rows of the model's window, not the history; `pii_value_scan: full`
    (`--checks all`) scans everything. Here a new row's session id is a player id of another row."""
    create_bronze_tables(spark, settings)
    project, args = project_with_leak_folder(tmp_path)
    (project / "models" / "leak" / "window_sessions.sql").write_text(INCREMENTAL_LEAK)
    run = ["run", "--select", "window_sessions", *args]
    full = ["--vars", '{"pii_value_scan": "full"}']
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    rows = [("window-old", "window-s0", "Old-Player-3", 2), ("window-mid", "window-s1", "Mid-Player", 1)]
    for event_id, session_id, user_id, days in rows:
        record = {"event_id": event_id, "session_id": session_id, "user_id": user_id}
        append_bronze(spark, "billing_logs", [record], ingested_at=now - dt.timedelta(days=days))
    result = dbtRunner().invoke(run)
    assert result.success, failures(result)  # high-water mark: a day ago
    # A new row whose session id is the raw player id of a row ingested two days ago: outside the window.
    record = {"event_id": "window-new", "session_id": "old-player-3 ", "user_id": "New-Player-4"}
    append_bronze(spark, "billing_logs", [record], ingested_at=now)
    result = dbtRunner().invoke([*run, *full])
    assert not result.success
    assert "window_sessions exposes raw PII values: session_id <- billing.billing_logs.user_id" in failures(result)
    assert spark.table("silver.window_sessions").count() == 2
    assert dbtRunner().invoke(run).success  # the loop's scan does not reach two days back
    assert spark.table("silver.window_sessions").count() == 3
    # A new row exposing a player id ingested inside the window is caught by the loop's scan.
    record = {"event_id": "window-new-2", "session_id": "New-Player-4", "user_id": "Another-Player"}
    append_bronze(spark, "billing_logs", [record], ingested_at=now + dt.timedelta(seconds=1))
    result = dbtRunner().invoke(run)
    assert not result.success
    assert "window_sessions exposes raw PII values: session_id <- billing.billing_logs.user_id" in failures(result)
    assert "New-Player-4" not in failures(result)
    assert spark.table("silver.window_sessions").count() == 3
    spark.sql("drop table silver.window_sessions")


@contextmanager
def conf_set_to(spark, conf: str, value: str | None) -> Iterator[None]:
    """The session's `conf` set to `value` (unset for None) meanwhile, restored afterwards."""
    saved = spark.conf.get(conf)
    if value is None:
        spark.conf.unset(conf)
    else:
        spark.conf.set(conf, value)
    try:
        yield
    finally:
        spark.conf.set(conf, saved)


@pytest.mark.parametrize("value", [None, "abc", "00" * 20, "zz" * 16])
def test_a_missing_or_malformed_master_key_fails_the_vault_build(spark, settings, value):
    create_bronze_tables(spark, settings)
    with conf_set_to(spark, MASTER_KEY_CONF, value):
        result = build(settings, spark, select=VAULT)
    assert not result.success
    assert any("spark.sessionlake.pii.masterkey is missing or malformed" in f for f in result.failures)
    assert not any(value and value in f for f in result.failures)


@pytest.mark.parametrize("value", ["", "abc", "00" * 20, "zz" * 16, "0" * 33])
def test_the_python_side_rejects_a_malformed_master_key(monkeypatch, value):
    monkeypatch.setenv("SESSIONLAKE_PII_MASTER_KEY", value)
    with pytest.raises(PrivacyConfigError, match="SESSIONLAKE_PII_MASTER_KEY is missing or malformed"):
        master_key()


def test_masking_macros(spark, settings):
    sql = (
        "select {{ mask_ip(\"'10.1.2.3'\") }} as ip, {{ mask_ip(\"'::1'\") }} as ip6,"
        " {{ mask_email(\"'Ann@Example.COM'\") }} as domain, {{ mask_email(\"'nobody'\") }} as bad"
    )
    result = invoke(settings, ["show", "--inline", sql, "--output", "json"])
    assert result.success, result.exception
    table = result.result.results[0].agate_table
    assert [tuple(row) for row in table.rows] == [("10.1.2.0/24", None, "example.com", None)]


def test_bronze_statistics_columns_leave_out_pii_raw_records_and_what_delta_cannot_index():
    schema = StructType(
        [
            StructField("event_id", StringType()),
            StructField("user_id", StringType()),
            StructField("Email", StringType()),
            StructField("fps", DoubleType()),
            StructField("crashed", BooleanType()),
            StructField("_raw", StringType()),
            StructField("_rescued_data", StringType()),
            StructField("_kafka_headers", ArrayType(StringType())),
            StructField("_ingested_at", TimestampType()),
            StructField("_ingest_date", DateType()),
        ]
    )
    assert stats_columns(schema, ["user_id", "email"]) == "`event_id`,`fps`,`_ingested_at`"


HASH_CONF = SECRET_CONFS["SESSIONLAKE_PII_SECRET"]


@pytest.mark.parametrize("value", [None, "", "short-secret"])
def test_every_path_that_hashes_refuses_to_run_without_a_valid_secret(spark, settings, value):
    create_bronze_tables(spark, settings)
    audits = spark.table("pii.erasure_audit").count() if spark.catalog.tableExists("pii.erasure_audit") else 0
    key = pseudonymize("never-forgotten", "x" * 16)
    with conf_set_to(spark, HASH_CONF, value):
        for macro, args in (("forget_player", {"user_key": key}), ("erase_forgotten", {"schemas": ["bronze"]})):
            with pytest.raises(OperationError, match=f"{HASH_CONF} is not set \\(or shorter than 16"):
                run_operation(settings, spark, macro, args, retries=0)
        with pytest.raises(OperationError, match=f"{HASH_CONF} is not set"):
            apply_retention(settings, spark)
        result = build(settings, spark, select=VAULT)
        assert not result.success and any(f"{HASH_CONF} is not set" in f for f in result.failures)
    if spark.catalog.tableExists("pii.forgotten_players"):
        assert spark.table("pii.forgotten_players").where(f"user_key = '{key}'").count() == 0
    if spark.catalog.tableExists("pii.erasure_audit"):
        assert spark.table("pii.erasure_audit").count() == audits


# What a secret manager may produce: quotes, a backslash, a `${...}` reference, a semicolon, non-ASCII.
AWKWARD_SECRET = 'k\'ey\\with"quotes"; ${spark.app.name} é-Ω-' + "9" * 8


def test_any_secret_keys_the_same_hmac_in_sql_and_python_and_reaches_no_log_nor_error(spark, settings, tmp_path):
    """The keyed hash is an HMAC computed by `sessionlake_pseudonymize`, which reads the key from the
    session's conf: with a secret that would end or escape a SQL literal, SQL and Python agree, and neither
    a model that fails at analysis (Spark prints its plan) nor dbt's logs and compiled SQL hold the secret."""
    create_bronze_tables(spark, settings)
    project, args = project_with_leak_folder(tmp_path)
    players = ["Ünï'code; player\\1", "plain-player-2"]
    rows = [{"event_id": f"hmac-{i}", "session_id": f"hmac-s{i}", "user_id": p} for i, p in enumerate(players)]
    append_bronze(spark, "billing_logs", rows)
    model = project / "models" / "leak" / "hashed_players.sql"
    select = "{{ config(materialized='table') }} select session_id, {{ pseudonymize('user_id') }} as user_key"
    source = "from {{ source('billing', 'billing_logs') }} where event_id like 'hmac-%'"
    with conf_set_to(spark, HASH_CONF, AWKWARD_SECRET):
        model.write_text(f"{select}, no_such_column {source}\n")
        result = dbtRunner().invoke(["run", "--select", "hashed_players", *args])
        assert not result.success and "no_such_column" in failures(result)
        assert AWKWARD_SECRET not in failures(result)
        model.write_text(f"{select} {source}\n")
        result = dbtRunner().invoke(["run", "--select", "hashed_players", *args])
        assert result.success, failures(result)
        keys = {r["session_id"]: r["user_key"] for r in spark.table("silver.hashed_players").collect()}
        query = spark.sql("select sessionlake_pseudonymize(user_id) as user_key from bronze.billing_logs")
        plan = query._jdf.queryExecution().toString()  # noqa: SLF001 (every plan: parsed to physical)
    spark.sql("drop table silver.hashed_players")
    assert keys == {f"hmac-s{i}": pseudonymize(p, AWKWARD_SECRET) for i, p in enumerate(players)}
    assert pseudonymize(players[0], AWKWARD_SECRET) != pseudonymize(players[0], AWKWARD_SECRET[:-1])
    assert "sessionlake_pseudonymize(user_id" in plan and AWKWARD_SECRET not in plan
    for path in tmp_path.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="ignore")
            assert AWKWARD_SECRET not in text and "k'ey\\with" not in text, path


def test_a_session_without_the_keys_can_neither_hash_nor_read_the_master_key(spark):
    """An analyst's session (`sessionlake sql`, a BI client on the Thrift Server) holds no PII key: the
    functions that use them fail to analyse, naming the setting."""
    with conf_set_to(spark, HASH_CONF, None), conf_set_to(spark, MASTER_KEY_CONF, None):
        with pytest.raises(
            Exception, match=rf"{HASH_CONF} is not set \(or shorter than 16 characters\) in this session"
        ):
            spark.sql("select sessionlake_pseudonymize('a-player')").collect()
        with pytest.raises(Exception, match=f"{MASTER_KEY_CONF} is missing or malformed in this session"):
            spark.sql("select sessionlake_master_key()").collect()


def test_ad_hoc_sql_reaches_no_secret(settings, metastore) -> None:
    """`sessionlake sql` as an analyst runs it, with both keys in the environment: the session holds no
    PII key and `${...}` is not substituted: the reference stays text."""
    import os
    import subprocess
    import sys

    secret, master = "hash-secret-" + "7" * 20, "ab" * 32
    env = os.environ | {
        "SESSIONLAKE_HOME": str(settings.home),
        "SESSIONLAKE_DERBY_PORT": str(settings.ports.derby),
        "SESSIONLAKE_MOTO_PORT": str(settings.ports.moto),
        "SESSIONLAKE_PII_SECRET": secret,
        "SESSIONLAKE_PII_MASTER_KEY": master,
    }
    query = "select '${spark.sessionlake.pii.masterkey}' as m, '${spark.sessionlake.pii.hashkey}' as h"
    argv = [sys.executable, "-m", "sessionlake.app.cli", "sql", query]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "${spark.sessionlake.pii.masterkey}" in done.stdout  # the reference, left as text
    assert master not in done.stdout + done.stderr and secret not in done.stdout + done.stderr
