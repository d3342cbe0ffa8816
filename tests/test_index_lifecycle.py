"""The index layout (template, write alias, rollover, reindex), late upserts and erasure across indices, and
back-pressure: real Spark + Delta, on a real Elasticsearch and a real OpenSearch.

Neither minimal distribution ships its lifecycle feature (ILM, ISM) and neither is on Maven Central: the
policies are validated offline (tests/test_export_units.py) and `index policy` must say so on these engines."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from sessionlake import stack
from sessionlake.app.cli import main
from sessionlake.app.state import read_state
from sessionlake.core.errors import ExitCode
from sessionlake.core.settings import REPO_ROOT, Settings
from sessionlake.exporters.cdf import Change
from sessionlake.exporters.config import ExportConfig, SearchConfig
from sessionlake.exporters.engines import installed_features
from sessionlake.exporters.layout import Layout
from sessionlake.exporters.runner import export, rebuild
from sessionlake.exporters.search import BulkTally, SearchIndex
from tests.test_export import _assert_index_equals_table, _create, _row

pytestmark = pytest.mark.stack


@pytest.fixture(params=["elasticsearch", "opensearch"])
def engine(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """Settings that reach the engine under test (the stack's Elasticsearch, or the OpenSearch beside it)."""
    if request.param == "opensearch":
        return request.getfixturevalue("opensearch")
    request.getfixturevalue("search")
    return settings


def _fresh(spark: SparkSession, engine: Settings, cursors: Path) -> tuple[str, ExportConfig]:
    """A new schema with an empty sessions table, and an export of it to an index of its own."""
    suffix = uuid.uuid4().hex[:8]
    schema = f"lc_{suffix}"
    spark.sql(f"CREATE SCHEMA {schema}")
    config = ExportConfig(
        search=SearchConfig.from_settings(engine),
        cursor_dir=str(cursors),
        table=f"{schema}.sessions",
        index=f"sessions-{suffix}",
        dead_letter_table=f"{schema}.export_dead_letters",
        initial_backoff=0.2,
        max_backoff=0.5,
    )
    _create(spark, config.table)
    return schema, config


def _keep_committing(spark: SparkSession, table: str, sessions: int, stop: threading.Event, pause: float) -> None:
    """Until `stop`: update one of the first `sessions` sessions, insert a new one, pause."""
    i = 0
    while not stop.is_set():
        spark.sql(f"UPDATE {table} SET metric_samples = metric_samples + 1 WHERE session_id = 's{i % sessions}'")
        spark.sql(f"INSERT INTO {table} VALUES {_row(f'n{i}')}")
        i += 1
        stop.wait(pause)


@pytest.fixture
def lake(spark: SparkSession, engine: Settings, tmp_path: Path) -> Iterator[dict[str, Any]]:
    schema, config = _fresh(spark, engine, tmp_path / "cursors")
    index = SearchIndex(config)
    yield {"schema": schema, "config": config, "index": index, "client": index.client}
    index.layout.drop(template=True)
    spark.sql(f"DROP SCHEMA {schema} CASCADE")


def _where(client: Any, alias: str) -> dict[str, list[str]]:
    """Every document id behind the alias, with the indices holding it."""
    client.indices.refresh(index=alias)
    hits = client.search(index=alias, body={"query": {"match_all": {}}, "size": 1000, "_source": False})
    found: dict[str, list[str]] = {}
    for hit in hits["hits"]["hits"]:
        found.setdefault(hit["_id"], []).append(hit["_index"])
    return found


def test_export_writes_through_an_alias_over_indices_from_one_template(spark, engine, lake) -> None:
    config, client, index = lake["config"], lake["client"], lake["index"]
    spark.sql(f"INSERT INTO {config.table} VALUES {_row('s1')}, {_row('s2')}")

    export(engine, spark, config=config)

    # The engine under test is the one named (Elasticsearch's nodes carry x-pack modules, OpenSearch's none).
    assert ("x-pack-core" in installed_features(client)) == (engine.search.engine == "elasticsearch")
    current = index.layout.resolve()
    assert current.layout is Layout.ALIAS
    assert current.indices == (f"{config.index}-000001",) and current.write_index == f"{config.index}-000001"
    [template] = client.indices.get_index_template(name=index.layout.template_name)["index_templates"]
    body = template["index_template"]
    assert body["index_patterns"] == [f"{config.index}-*"]
    mapping = body["template"]["mappings"]
    assert mapping["properties"]["session_id"] == {"type": "keyword"} and mapping["dynamic"] in (False, "false")
    _assert_index_equals_table(spark, config)

    # A new column reaches the template and every index behind the alias.
    spark.sql(f"ALTER TABLE {config.table} ADD COLUMNS (queue_seconds double)")
    spark.sql(f"UPDATE {config.table} SET queue_seconds = 4.5 WHERE session_id = 's1'")
    export(engine, spark, config=config)
    mappings = client.indices.get_mapping(index=config.index)
    assert all(m["mappings"]["properties"]["queue_seconds"] == {"type": "double"} for m in mappings.values())
    [template] = client.indices.get_index_template(name=index.layout.template_name)["index_templates"]
    assert "queue_seconds" in template["index_template"]["template"]["mappings"]["properties"]


def test_late_upserts_follow_their_document_and_erasure_reaches_a_read_only_index(
    spark, engine, lake, monkeypatch, capsys
) -> None:
    """After a rollover, a session's late data updates its document where it is (no copy in the new write
    index); a cold (write-blocked) index refuses an upsert, which is dead-lettered with the reason, and an
    erasure still deletes there and puts the block back."""
    config, client, index = lake["config"], lake["client"], lake["index"]
    table = config.table
    spark.sql(f"INSERT INTO {table} VALUES {_row('s1')}, {_row('s2')}, {_row('s3')}")
    export(engine, spark, config=config)
    first = f"{config.index}-000001"

    assert _cli(monkeypatch, engine, config, "rollover") == 0
    second = index.layout.resolve().write_index
    assert second == f"{config.index}-000002"
    spark.sql(f"UPDATE {table} SET status = 'ended', avg_fps = 31.5 WHERE session_id = 's1'")
    spark.sql(f"INSERT INTO {table} VALUES {_row('s4')}")
    report = export(engine, spark, config=config)
    assert (report.upserted, report.dead_lettered) == (2, 0)
    assert _where(client, config.index) == {"s1": [first], "s2": [first], "s3": [first], "s4": [second]}
    _assert_index_equals_table(spark, config)

    client.indices.put_settings(index=first, body={"index.blocks.write": True})  # what the cold phase does
    spark.sql(f"UPDATE {table} SET avg_fps = 12.0 WHERE session_id = 's2'")
    report = export(engine, spark, config=config)
    assert (report.upserted, report.dead_lettered) == (0, 1)
    [letter] = spark.table(config.dead_letter_table).collect()
    assert letter["session_id"] == "s2" and letter["status"] == 403
    assert letter["error_type"] == "cluster_block_exception"
    assert client.get(index=first, id="s2")["_source"]["avg_fps"] == 60.0  # left as it was, not copied elsewhere
    assert _where(client, config.index)["s2"] == [first]

    deleted = index.delete_player("uk-s3", ["s3", "s4"])
    assert deleted == 2
    assert set(_where(client, config.index)) == {"s1", "s2"}
    assert index.layout.write_blocked([first, second]) == [first]  # the block is back

    assert _cli(monkeypatch, engine, config, "show") == 0
    shown = capsys.readouterr().out
    assert f"{config.index}: alias, write index {second}" in shown
    assert re.search(rf"{first} +2 docs .* read-only\n", shown) and re.search(rf"{second} +0 docs .* write\n", shown)


def test_reindex_swaps_the_alias_to_a_new_index_while_export_goes_on(spark, engine, lake) -> None:
    config, client, index = lake["config"], lake["client"], lake["index"]
    table = config.table
    # A deployment from before the alias: one plain index named like it, with a document the table lacks.
    client.indices.create(index=config.index, body={"mappings": {"dynamic": False}})
    client.index(index=config.index, id="gone", body={"session_id": "gone"}, refresh=True)
    spark.sql(f"INSERT INTO {table} VALUES " + ", ".join(_row(f"s{i}") for i in range(20)))
    export(engine, spark, config=config)
    assert index.layout.resolve().layout is Layout.PLAIN

    stop = threading.Event()
    failures: list[BaseException] = []

    def commits() -> None:
        _keep_committing(spark, table, 20, stop, 0.0)

    def exports() -> None:
        try:
            export(engine, spark, once=False, every=0.5, config=config, stop=stop)
        except Exception as exc:  # noqa: BLE001 - asserted below
            failures.append(exc)

    threads = [threading.Thread(target=commits), threading.Thread(target=exports)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(2)
        done = rebuild(spark, config)
        time.sleep(2)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not failures
    assert done.replaced == (config.index,) and done.report.snapshots == 1

    export(engine, spark, config=config)
    current = index.layout.resolve()
    assert current.layout is Layout.ALIAS and current.indices == (done.index,) and current.write_index == done.index
    where = _where(client, config.index)
    assert all(places == [done.index] for places in where.values())  # one copy of each
    assert "gone" not in where
    _assert_index_equals_table(spark, config)
    assert spark.table(table).count() > 20  # commits landed during the rebuild


def test_a_429_makes_bulks_smaller_until_the_engine_keeps_up(spark, engine, lake) -> None:
    config = replace(lake["config"], bulk_chunk_size=64, initial_backoff=0.5, max_backoff=0.5)
    index = SearchIndex(config)
    index.ensure(spark.table(config.table).schema)
    client = lake["client"]
    # A flooded disk answers every write with 429 until the block is lifted.
    client.indices.put_settings(index=config.index, body={"index.blocks.read_only_allow_delete": True})
    unblock = threading.Timer(
        2.0,
        lambda: client.indices.put_settings(index=config.index, body={"index.blocks.read_only_allow_delete": None}),
    )
    unblock.start()
    tally = BulkTally()
    changes = [Change(f"s{i}", "insert", 1, {"session_id": f"s{i}"}) for i in range(200)]
    started = time.monotonic()
    rejected = list(index.apply(changes, tally))
    unblock.join()
    assert rejected == [] and tally.upserted == 200  # retried until the engine took them
    assert time.monotonic() - started >= 2.0
    assert index.chunk_size < 64  # it came back with smaller bulks
    shrunk = index.chunk_size
    list(index.apply([Change("t", "insert", 2, {"session_id": "t"})], tally))
    assert index.chunk_size == min(64, shrunk * 2)  # and grows back once the engine keeps up


def test_policy_needs_the_engines_lifecycle_and_prints_a_valid_document(engine, lake, capsys, monkeypatch) -> None:
    config = lake["config"]
    assert _cli(monkeypatch, engine, config, "policy", "--print") == 0
    printed = capsys.readouterr().out
    assert ('"phases"' in printed) == (engine.search.engine == "elasticsearch")
    assert ('"ism_template"' in printed) == (engine.search.engine == "opensearch")

    monkeypatch.setenv("SESSIONLAKE_SEARCH_POLICY", "sessions-hwc")
    assert _cli(monkeypatch, engine, config, "policy") == ExitCode.CONFIGURATION
    error = capsys.readouterr().err
    assert "SESSIONLAKE_SEARCH_POLICY=sessions-hwc" in error
    assert ("x-pack-ilm" if engine.search.engine == "elasticsearch" else "opensearch-index-management") in error


def test_continuous_export_rides_out_an_engine_outage(spark, settings, opensearch, tmp_path) -> None:
    """`sessionlake export --every 1s` while commits keep arriving and the engine is stopped, then started again:
    the outage is in `status`, and afterwards the index equals the table, one document per session."""
    schema, config = _fresh(spark, opensearch, tmp_path / "unused")
    spark.sql(f"INSERT INTO {config.table} VALUES " + ", ".join(_row(f"s{i}") for i in range(10)))
    home = tmp_path / "exporter-home"
    env = os.environ | {
        "SESSIONLAKE_HOME": str(home),
        "SESSIONLAKE_DERBY_PORT": str(settings.ports.derby),
        "SESSIONLAKE_SEARCH_PORT": str(opensearch.ports.search),
        "SESSIONLAKE_SEARCH_ENGINE": "opensearch",
        "SESSIONLAKE_EXPORT_TABLE": config.table,
        "SESSIONLAKE_EXPORT_INDEX": config.index,
        "SESSIONLAKE_EXPORT_DEAD_LETTER_TABLE": config.dead_letter_table,
        "SESSIONLAKE_DRIVER_MEMORY": "1g",
    }
    index = SearchIndex(config)
    child = subprocess.Popen(
        [sys.executable, "-m", "sessionlake.app.cli", "export", "--every", "1s"],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    stop = threading.Event()

    def commits() -> None:
        _keep_committing(spark, config.table, 10, stop, 0.5)

    def until(condition: Any, seconds: float, what: str) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            assert child.poll() is None, f"the exporter exited ({child.returncode}) before {what}"
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.5)

    def export_stage() -> Any:
        state = read_state(home, "export")
        return state.stages.get("export") if state else None

    writer = threading.Thread(target=commits)
    try:
        until(lambda: export_stage() is not None and export_stage().last_ok_at, 240, "a first export")
        writer.start()
        time.sleep(3)
        stack.down(opensearch, ["search"])
        until(lambda: export_stage().failures >= 2, 120, "the outage to show")
        stack.up(opensearch, ["search"])
        time.sleep(3)
        stop.set()
        writer.join()
        latest = spark.sql(f"DESCRIBE HISTORY {config.table} LIMIT 1").first()["version"]
        until(lambda: f"cursor at {latest}" in (export_stage().summary or ""), 180, "the exporter to catch up")
        child.send_signal(signal.SIGTERM)  # as a service manager stops it (the JVM is left to the driver)
        assert child.wait(timeout=120) == 0
    finally:
        stop.set()
        if writer.is_alive():
            writer.join()
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()

    stage = export_stage()
    assert stage.state == "stopped" and stage.failures >= 2
    assert "onnect" in stage.last_error  # the engine refused connections
    where = _where(index.client, config.index)
    assert all(len(places) == 1 for places in where.values())
    _assert_index_equals_table(spark, config)
    assert spark.table(config.table).count() > 10
    index.layout.drop(template=True)
    spark.sql(f"DROP SCHEMA {schema} CASCADE")


def _cli(monkeypatch: pytest.MonkeyPatch, engine: Settings, config: ExportConfig, *args: str) -> int:
    """`sessionlake index ARGS` in-process, against the engine and index under test."""
    monkeypatch.setenv("SESSIONLAKE_HOME", str(engine.home))
    monkeypatch.setenv("SESSIONLAKE_SEARCH_URL", engine.search_url)
    monkeypatch.setenv("SESSIONLAKE_SEARCH_ENGINE", engine.search.engine)
    monkeypatch.setenv("SESSIONLAKE_EXPORT_INDEX", config.index)
    monkeypatch.setenv("SESSIONLAKE_EXPORT_TABLE", config.table)
    return main(["index", *args])
