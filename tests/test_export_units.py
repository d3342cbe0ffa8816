"""Pure parts of the search exporter: outcome classification, bulk actions, mapping, cursor, config."""

from __future__ import annotations

import argparse
import json
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from pyspark.sql import types as T

from sessionlake.app.commands.export import interval
from sessionlake.core.errors import ConfigurationError
from sessionlake.core.settings import Settings
from sessionlake.exporters.cdf import Change, RawDocument, RawPiiError, check_no_raw_pii, is_cdf_unavailable
from sessionlake.exporters.config import ExportConfig, SearchConfig
from sessionlake.exporters.cursor import Cursor, CursorError, CursorStore
from sessionlake.exporters.engines import ENGINES, policy_digest
from sessionlake.exporters.layout import IndexLayout
from sessionlake.exporters.lifecycle import LifecyclePlan, ilm_policy, ism_policy, validate_ilm, validate_ism
from sessionlake.exporters.runner import ExportReport, _read_ahead
from sessionlake.exporters.search import Outcome, classify, mapping_properties, to_action


@pytest.mark.parametrize(
    ("op", "status", "outcome"),
    [
        ("index", 201, Outcome.APPLIED),
        ("index", 200, Outcome.APPLIED),
        ("delete", 200, Outcome.APPLIED),
        ("index", 409, Outcome.ALREADY_APPLIED),
        ("delete", 409, Outcome.ALREADY_APPLIED),
        ("delete", 404, Outcome.ALREADY_APPLIED),
        ("index", 404, Outcome.FATAL),  # index missing: not the document's fault
        ("index", 429, Outcome.RETRY),
        ("index", 503, Outcome.RETRY),
        ("index", 500, Outcome.RETRY),
        ("index", 400, Outcome.REJECTED),
        ("index", 403, Outcome.FATAL),
        ("index", 401, Outcome.FATAL),
    ],
)
def test_classify(op: str, status: int, outcome: Outcome) -> None:
    assert classify(op, status) is outcome


def test_actions_carry_the_commit_version_as_external_version() -> None:
    change = Change("s1", "update_postimage", 7, {"session_id": "s1", "status": "ended"})
    upsert = to_action(change, "sessions", exported_at="2026-12-07T10:00:00.000000Z")
    assert upsert == {
        "_op_type": "index",
        "_index": "sessions",
        "_id": "s1",
        "version": 7,
        "version_type": "external",
        "_source": {"session_id": "s1", "status": "ended", "exported_at": "2026-12-07T10:00:00.000000Z"},
    }
    assert change.document == {"session_id": "s1", "status": "ended"}  # the change itself is not altered
    delete = to_action(Change("s2", "delete", 9, None), "sessions")
    assert delete == {"_op_type": "delete", "_index": "sessions", "_id": "s2", "version": 9, "version_type": "external"}


def test_mapping_uses_contract_types_then_the_tables_own() -> None:
    schema = T.StructType(
        [
            T.StructField("session_id", T.StringType()),
            T.StructField("avg_fps", T.StringType()),  # drifted column keeps the contract's type
            T.StructField("new_counter", T.IntegerType()),
            T.StructField("new_time", T.TimestampType()),
            T.StructField("new_ratio", T.DecimalType(10, 2)),
            T.StructField("tags", T.ArrayType(T.StringType())),
        ]
    )
    props = mapping_properties(schema)
    assert props["session_id"] == {"type": "keyword"}
    assert props["avg_fps"] == {"type": "double"}
    assert props["started_at"] == {"type": "date"}
    assert props["metric_samples"] == {"type": "long"}
    assert props["crashed"] == {"type": "boolean"}
    assert props["exported_at"] == {"type": "date"}  # added by the exporter to every document
    assert props["new_counter"] == {"type": "long"}
    assert props["new_time"] == {"type": "date"}
    assert props["new_ratio"] == {"type": "double"}
    assert "tags" not in props


def test_raw_pii_columns_are_refused() -> None:
    check_no_raw_pii("gold.sessions", T.StructType([T.StructField("user_key", T.StringType())]))
    with pytest.raises(RawPiiError, match=r"\['email', 'user_id'\]"):
        check_no_raw_pii(
            "gold.sessions",
            T.StructType([T.StructField("Email", T.StringType()), T.StructField("user_id", T.StringType())]),
        )


def test_cdf_unavailable_errors_are_recognised() -> None:
    assert is_cdf_unavailable(RuntimeError("[DELTA_MISSING_CHANGE_DATA] Error getting change data for range"))
    assert is_cdf_unavailable(RuntimeError("SparkException: [FAILED_READ_FILE.FILE_NOT_EXIST] Encountered error"))
    assert not is_cdf_unavailable(RuntimeError("[TABLE_OR_VIEW_NOT_FOUND] gold.sessions"))


def test_cursor_round_trip_and_atomic_replace(tmp_path: Path) -> None:
    store = CursorStore(str(tmp_path / "export"), "gold.sessions", "sessions")
    assert store.load() is None
    store.save(Cursor("gold.sessions", "id-1", "sessions", 3, 1_700_000_000_000))
    store.save(Cursor("gold.sessions", "id-1", "sessions", 5, 1_700_000_001_000))
    assert store.load() == Cursor("gold.sessions", "id-1", "sessions", 5, 1_700_000_001_000)
    assert [p.name for p in (tmp_path / "export").iterdir()] == ["gold.sessions--sessions.json"]  # no temp files
    store.clear()
    assert store.load() is None


def test_cursor_errors_name_the_file(tmp_path: Path) -> None:
    store = CursorStore(str(tmp_path), "gold.sessions", "sessions")
    path = tmp_path / "gold.sessions--sessions.json"
    path.write_text("{not json")
    with pytest.raises(CursorError, match="unreadable"):
        store.load()
    path.write_text(
        json.dumps({"table": "gold.other", "table_id": "x", "index": "sessions", "version": 1, "commit_millis": 1})
    )
    with pytest.raises(CursorError, match="gold.other"):
        store.load()


def test_config_from_env_and_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SESSIONLAKE_SEARCH_ENGINE", "opensearch")
    monkeypatch.setenv("SESSIONLAKE_SEARCH_USERNAME", "exporter")
    monkeypatch.setenv("SESSIONLAKE_SEARCH_PASSWORD", "hunter2-secret")
    monkeypatch.setenv("SESSIONLAKE_EXPORT_TABLE", "gold.other")
    monkeypatch.setenv("SESSIONLAKE_EXPORT_MAX_VERSIONS", "7")
    config = ExportConfig.from_settings(Settings(home=tmp_path))
    assert (config.search.engine, config.table, config.max_versions_per_batch) == ("opensearch", "gold.other", 7)
    assert config.cursor_dir == str(tmp_path / "checkpoints" / "export")
    assert "hunter2-secret" not in repr(config)
    monkeypatch.setenv("SESSIONLAKE_EXPORT_MAX_VERSIONS", "zero")
    with pytest.raises(ConfigurationError, match="SESSIONLAKE_EXPORT_MAX_VERSIONS"):
        Settings(home=tmp_path)
    with pytest.raises(ConfigurationError, match="solr"):
        SearchConfig(url="http://x", engine="solr")
    with pytest.raises(ConfigurationError, match="API_KEY"):
        SearchConfig(url="http://x", engine="opensearch", api_key="k")
    with pytest.raises(ConfigurationError, match="PASSWORD"):
        SearchConfig(url="http://x", username="u")


def test_reports_add_up() -> None:
    total = ExportReport(versions_read=2, upserted=3, last_version=4) + ExportReport(deleted=1, last_version=6)
    assert (total.versions_read, total.upserted, total.deleted, total.last_version) == (2, 3, 1, 6)
    assert (ExportReport(last_version=4) + ExportReport()).last_version == 4


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("5m", 300), ("1h", 3600), ("45", 45), ("0.5s", 0.5)])
def test_interval(text: str, seconds: float) -> None:
    assert interval(text) == seconds


@pytest.mark.parametrize("text", ["0s", "soon", "-5s", "5d"])
def test_interval_rejects(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=text):
        interval(text)


def test_a_write_blocked_index_rejects_the_document_and_a_forbidden_one_stops_the_export() -> None:
    assert classify("index", 403, "cluster_block_exception") is Outcome.REJECTED  # a cold index: dead-lettered
    assert classify("index", 403, "security_exception") is Outcome.FATAL


@pytest.mark.parametrize("engine", sorted(ENGINES))
@pytest.mark.parametrize("plan", [LifecyclePlan(), LifecyclePlan("12h", "10gb", "1d", "90d", "400d")])
def test_the_policies_are_valid_for_their_engine(engine: str, plan: LifecyclePlan) -> None:
    layout = IndexLayout(None, ENGINES[engine], "sessions")
    document = ENGINES[engine].policy_document(plan, layout.pattern, layout.priority)
    assert ENGINES[engine].validate_policy(document) == []
    digest = policy_digest(document["policy"])
    assert digest and len(digest) == 64  # what `index policy` compares with the stored policy
    other = ENGINES[engine].policy_document(replace(plan, cold_after="99d"), layout.pattern, layout.priority)
    assert policy_digest(other["policy"]) != digest
    text = json.dumps(document)
    assert plan.cold_after in text and (plan.delete_after is None or plan.delete_after in text)


def test_the_ilm_policy_keeps_warm_indices_writable_and_makes_cold_ones_read_only() -> None:
    phases = ilm_policy(LifecyclePlan())["policy"]["phases"]
    assert phases["hot"]["actions"]["rollover"] == {"max_age": "1d", "max_primary_shard_size": "50gb"}
    assert not {"readonly", "forcemerge", "shrink"} & set(phases["warm"]["actions"])  # late upserts still land
    assert "readonly" in phases["cold"]["actions"] and phases["cold"]["min_age"] == "30d"
    assert "delete" not in phases


def test_the_ism_policy_states_follow_the_same_plan() -> None:
    policy = ism_policy(LifecyclePlan(delete_after="365d"), "sessions-*", 108)["policy"]
    states = {s["name"]: s for s in policy["states"]}
    assert list(states) == ["hot", "warm", "cold", "delete"] and policy["default_state"] == "hot"
    assert states["warm"]["transitions"] == [{"state_name": "cold", "conditions": {"min_rollover_age": "30d"}}]
    assert {"read_only": {}} in states["cold"]["actions"]
    assert policy["ism_template"] == [{"index_patterns": ["sessions-*"], "priority": 108}]


def test_the_validators_name_what_is_wrong() -> None:
    ilm = ilm_policy(LifecyclePlan())
    ilm["policy"]["phases"]["warm"]["actions"]["rollover"] = {"max_age": "1d"}  # rollover is hot-only
    ilm["policy"]["phases"]["cold"]["min_age"] = "1d"  # before warm
    ilm["policy"]["phases"]["hot"]["actions"]["rollover"] = {"max_age": "one day"}
    problems = validate_ilm(ilm)
    assert "warm: action 'rollover' is not allowed in this phase" in problems
    assert "hot.rollover.max_age: 'one day' is not a time value" in problems
    assert validate_ilm({"policy": {}}) == ["policy.phases: missing or empty"]

    ism = ism_policy(LifecyclePlan(), "sessions-*", 108)
    ism["policy"]["default_state"] = "lukewarm"
    ism["policy"]["states"][1]["transitions"] = [{"state_name": "frozen", "conditions": {"min_age": "2d"}}]
    ism["policy"]["states"][2]["actions"].append({"readonly": {}})  # ILM's name, not ISM's
    problems = validate_ism(ism)
    assert "policy.default_state: 'lukewarm' is not one of the states ['hot', 'warm', 'cold']" in problems
    assert "state 'warm': transition to unknown state 'frozen'" in problems
    assert "state 'warm': unknown transition condition 'min_age'" in problems
    assert "state 'cold': unknown action 'readonly'" in problems


def test_the_plan_refuses_phases_out_of_order(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="SESSIONLAKE_SEARCH_COLD_AFTER=2d must be later than"):
        LifecyclePlan(warm_after="2d", cold_after="2d")
    with pytest.raises(ConfigurationError, match="SESSIONLAKE_SEARCH_DELETE_AFTER=7d"):
        LifecyclePlan(delete_after="7d")
    monkeypatch.setenv("SESSIONLAKE_SEARCH_COLD_AFTER", "30 days")
    with pytest.raises(ConfigurationError, match="SESSIONLAKE_SEARCH_COLD_AFTER='30 days' is not a time value"):
        Settings()
    monkeypatch.setenv("SESSIONLAKE_SEARCH_COLD_AFTER", "30d")
    monkeypatch.setenv("SESSIONLAKE_EXPORT_BULK_BYTES", "5 MB")
    with pytest.raises(ConfigurationError, match="SESSIONLAKE_EXPORT_BULK_BYTES='5 MB' is not a size"):
        Settings()
    monkeypatch.setenv("SESSIONLAKE_EXPORT_BULK_BYTES", "5mb")
    assert ExportConfig.from_settings(Settings()).bulk_bytes == 5 * 1024 * 1024


@pytest.mark.parametrize(("alias", "longer"), [("sessions", "sessions-eu"), ("s", "s-1")])
def test_a_more_specific_alias_template_wins(alias: str, longer: str) -> None:
    engine = ENGINES["elasticsearch"]
    assert IndexLayout(None, engine, longer).priority > IndexLayout(None, engine, alias).priority


def test_a_raw_document_is_sent_as_written_and_a_field_is_spliced_in() -> None:
    document = RawDocument('{"session_id":"s\\"1","n":1} ')
    assert json.loads(document.with_field("exported_at", '"2026-12-07T00:00:00Z"')) == {
        "session_id": 's"1',
        "n": 1,
        "exported_at": "2026-12-07T00:00:00Z",
    }
    assert RawDocument("{}").with_field("x", "1") == '{"x":1}'
    # A field of that name already there is replaced, never duplicated.
    assert json.loads(RawDocument('{"exported_at":"old","n":2}').with_field("exported_at", '"new"')) == {
        "exported_at": "new",
        "n": 2,
    }
    assert dict(document) == {"session_id": 's"1', "n": 1} and document.get("missing") is None


def test_read_ahead_hands_over_errors_and_stops_with_its_consumer() -> None:
    def failing():
        yield [1]
        raise RuntimeError("spark went away")

    with pytest.raises(RuntimeError, match="spark went away"):
        list(_read_ahead(failing()))

    produced: list[int] = []

    def endless():
        for i in range(10_000):
            produced.append(i)
            yield [i]

    batches = _read_ahead(endless(), depth=2)
    assert next(batches) == [0]
    batches.close()  # the consumer stops early (a failed bulk): the reader gives up instead of blocking
    time.sleep(1.5)
    settled = len(produced)
    time.sleep(1.0)
    assert len(produced) == settled < 10
    assert not [t for t in threading.enumerate() if t.name == "export-read-ahead"]
