"""State locations as URIs: local folders and s3a:// on moto, the exporter's cursor on both, and the one
message a location that cannot be used gives at start."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from sessionlake.core import storage
from sessionlake.core.errors import ConfigurationError
from sessionlake.core.settings import Settings
from sessionlake.exporters.cursor import Cursor, CursorStore


def test_locations_are_uris_one_setting_moves_the_lake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    local = Settings(home=tmp_path)
    assert local.lake == str(tmp_path / "lake") and local.checkpoints == str(tmp_path / "checkpoints")
    assert local.bronze_path("quarantine") == str(tmp_path / "lake" / "bronze" / "quarantine")
    monkeypatch.setenv("SESSIONLAKE_LAKE_URI", "s3a://lake/prod/")
    monkeypatch.setenv("SESSIONLAKE_CHECKPOINT_URI", "s3a://lake-checkpoints/prod")
    remote = Settings(home=tmp_path)
    assert remote.lake == "s3a://lake/prod" and remote.warehouse == "s3a://lake/prod/warehouse"
    assert remote.bronze_path("session_events") == "s3a://lake/prod/bronze/session_events"
    assert remote.checkpoints == "s3a://lake-checkpoints/prod"
    monkeypatch.setenv("SESSIONLAKE_LAKE_URI", "relative/lake")
    assert Settings(home=tmp_path).lake == str(Path("relative/lake").resolve())


def test_join_keeps_the_scheme_and_double_slashes_inside_names() -> None:
    assert storage.join("s3a://b/p/", "export", "gold.sessions--sessions.json") == (
        "s3a://b/p/export/gold.sessions--sessions.json"
    )
    assert storage.is_local("/tmp/x") and storage.is_local("file:/tmp/x") and not storage.is_local("s3a://b/x")


def test_a_cursor_outside_a_local_folder_needs_spark() -> None:
    with pytest.raises(ConfigurationError, match="s3a://b/c"):
        CursorStore("s3a://b/c", "gold.sessions", "sessions")


@pytest.mark.parametrize("where", ["local", "s3a"])
def test_the_export_cursor_round_trips_on_a_folder_and_on_s3a(where, moto, spark, tmp_path: Path) -> None:
    import boto3

    if where == "s3a":
        bucket = f"cursor-{uuid.uuid4().hex[:8]}"
        boto3.client("s3", endpoint_url=moto).create_bucket(Bucket=bucket)
        directory = f"s3a://{bucket}/checkpoints//export"  # Hadoop's Path folds a `//` of a location
    else:
        directory = str(tmp_path / "export")
    store = CursorStore(directory, "gold.sessions", "sessions", spark)
    assert store.load() is None
    store.save(Cursor("gold.sessions", "id-1", "sessions", 3, 1_700_000_000_000))
    store.save(Cursor("gold.sessions", "id-1", "sessions", 5, 1_700_000_001_000))
    assert CursorStore(directory, "gold.sessions", "sessions", spark).load().version == 5
    if where == "s3a":
        keys = [o["Key"] for o in boto3.client("s3", endpoint_url=moto).list_objects_v2(Bucket=bucket)["Contents"]]
        assert keys == ["checkpoints/export/gold.sessions--sessions.json"]
    store.clear()
    assert store.load() is None


def test_a_location_that_cannot_be_used_fails_naming_the_setting(moto, spark) -> None:
    with pytest.raises(ConfigurationError, match=r"^SESSIONLAKE_LAKE_URI=nosuch://x/lake cannot be used: .*nosuch"):
        storage.check_location(spark, "nosuch://x/lake", "SESSIONLAKE_LAKE_URI")
    missing = f"s3a://no-such-bucket-{uuid.uuid4().hex[:8]}/lake"
    with pytest.raises(ConfigurationError, match=r"^SESSIONLAKE_CHECKPOINT_URI=s3a://no-such-bucket-.*(?i:bucket)"):
        storage.check_location(spark, missing, "SESSIONLAKE_CHECKPOINT_URI")


def test_delta_maintenance_on_an_s3a_table(moto, spark) -> None:
    """What `forget`, `retention` and `sessionlake build --optimize/--restore/--vacuum` run, on a table in
    an s3a:// bucket on moto with sessionlake's session: OPTIMIZE, history, RESTORE, VACUUM LITE RETAIN 0."""
    import boto3

    bucket = f"maint-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3", endpoint_url=moto)
    s3.create_bucket(Bucket=bucket)
    table = f"delta.`s3a://{bucket}/lake/gold.db/sessions`"
    spark.range(0, 50).selectExpr("cast(id as string) as session_id").write.format("delta").save(
        f"s3a://{bucket}/lake/gold.db/sessions"
    )
    for start in (50, 100):
        spark.sql(f"insert into {table} select cast(id as string) from range({start}, {start + 50})")
    assert spark.sql(f"optimize {table} zorder by (session_id)").first()["metrics"]["numFilesRemoved"] > 1
    history = [r["operation"] for r in spark.sql(f"describe history {table}").collect()]
    assert history[:2] == ["OPTIMIZE", "WRITE"]
    spark.sql(f"delete from {table} where session_id = '7'")
    spark.sql(f"restore table {table} to version as of 2")
    assert spark.sql(f"select count(*) from {table}").first()[0] == 150
    check = "spark.databricks.delta.retentionDurationCheck.enabled"
    spark.conf.set(check, "false")
    try:
        spark.sql(f"vacuum {table} lite retain 0 hours")
    finally:
        spark.conf.set(check, "true")
    assert spark.sql(f"select count(*) from {table}").first()[0] == 150
    with pytest.raises(Exception, match="FILE_NOT_EXIST|FileNotFound|DELTA_"):
        spark.sql(f"select * from {table} version as of 3").collect()  # the deleted version's files are gone


def test_the_build_loop_reads_bronze_versions_on_s3a(moto, spark, monkeypatch, tmp_path) -> None:
    """What the build loop checks each tick (transform.inputs): a bronze table not created yet is missing,
    one created without data is empty, an append moves its version."""
    import boto3
    from delta.tables import DeltaTable

    from sessionlake.transform.inputs import BronzeInputs

    bucket = f"inputs-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=moto).create_bucket(Bucket=bucket)
    monkeypatch.setenv("SESSIONLAKE_LAKE_URI", f"s3a://{bucket}/lake")
    settings = Settings(home=tmp_path)
    inputs = BronzeInputs(settings, spark, ["session_events", "client_logs", "session_events"])
    assert inputs.read().missing == ("client_logs", "session_events")
    spark.range(3).write.format("delta").save(settings.bronze_path("client_logs"))
    first = inputs.read()
    assert first.missing == ("session_events",) and first.versions == {"client_logs": 0}
    assert first.empty == ()
    spark.range(2).write.format("delta").mode("append").save(settings.bronze_path("client_logs"))
    DeltaTable.create(spark).location(settings.bronze_path("session_events")).addColumn("id", "bigint").execute()
    second = inputs.read()
    assert second.versions == {"client_logs": 1, "session_events": 0} and second.empty == ("session_events",)
    assert not second.all_empty
