"""The whole pipeline on the real local stack: generator -> Kafka + S3/SQS -> bronze -> dbt -> gold -> search.

The generator knows the truth; gold `sessions` must equal it column by column, and the search index must
hold the same documents. Bad records must be in quarantine, not lost.
"""

from __future__ import annotations

import math
import os
from datetime import datetime

import pytest
from pyspark.sql import functions as F

from sessionlake.generator import LATE, MAIN, GeneratorConfig, deliver, plan, truth
from sessionlake.pipeline import run_cycle
from sessionlake.transform.pii import pseudonymize

pytestmark = pytest.mark.stack

TIME_COLUMNS = ("started_at", "ended_at", "first_event_at", "last_event_at")
EXACT_COLUMNS = (
    "game_id",
    "region",
    "client_platform",
    "end_reason",
    "status",
    "metric_samples",
    "log_lines",
    "error_lines",
    "crashed",
    "device_model",
    "billed_minutes",
    "tier",
)
FLOAT_COLUMNS = ("duration_seconds", "avg_fps", "min_fps", "avg_bitrate_kbps", "max_packet_loss_pct")
CONFIG = GeneratorConfig(
    seed=11, sessions=40, duplicate_ratio=0.1, late_ratio=0.3, out_of_order_ratio=0.1, malformed_ratio=0.05
)


def _millis(value: datetime | None) -> int | None:
    return None if value is None else round(value.timestamp() * 1000)


def _gold(spark) -> dict[str, dict]:
    frame = spark.table("gold.sessions")
    for column in (*TIME_COLUMNS, "updated_at"):
        frame = frame.withColumn(column, F.unix_millis(column))
    return {row["session_id"]: row.asDict() for row in frame.collect()}


def _close(actual: float | None, expected: float | None, rel: float) -> bool:
    if actual is None or expected is None:
        return actual is expected
    return math.isclose(actual, expected, rel_tol=rel, abs_tol=1e-9)


def _mismatches(gold: dict[str, dict], expected: list[dict], secret: str) -> list[str]:
    problems = []
    for want in expected:
        got = gold.get(want["session_id"])
        if got is None:
            problems.append(f"{want['session_id']}: missing from gold")
            continue
        user_key = pseudonymize(want["user_id"], secret) if want["user_id"] is not None else None
        checks = [("user_key", got["user_key"] == user_key, got["user_key"], user_key)]
        checks += [(c, got[c] == want[c], got[c], want[c]) for c in EXACT_COLUMNS]
        checks += [(c, got[c] == _millis(want[c]), got[c], _millis(want[c])) for c in TIME_COLUMNS]
        checks += [(c, _close(got[c], want[c], 1e-9), got[c], want[c]) for c in FLOAT_COLUMNS]
        checks += [("p95_rtt_ms", _close(got["p95_rtt_ms"], want["p95_rtt_ms"], 0.01), got["p95_rtt_ms"], None)]
        problems += [f"{want['session_id']}.{c}: gold {g!r} != truth {w!r}" for c, ok, g, w in checks if not ok]
    extra = set(gold) - {row["session_id"] for row in expected}
    problems += [f"{session_id}: in gold but not in the truth" for session_id in sorted(extra)]
    return problems


def _index_documents(settings) -> dict[str, dict]:
    from exporters.search import search_client

    client = search_client(settings)
    client.indices.refresh(index="sessions")
    hits = client.search(index="sessions", size=10_000, query={"match_all": {}})["hits"]["hits"]
    return {hit["_id"]: hit["_source"] for hit in hits}


def test_pipeline_matches_the_generators_truth(settings, kafka, moto, search, spark):
    secret = os.environ["SESSIONLAKE_PII_SECRET"]
    workload = plan(CONFIG)

    deliver(workload, settings, MAIN)
    run_cycle(settings, spark)
    after_main = _gold(spark)
    assert _mismatches(after_main, truth(workload, [MAIN]), secret) == []

    deliver(workload, settings, LATE)
    run_cycle(settings, spark)
    gold = _gold(spark)
    expected = truth(workload, [MAIN, LATE])
    assert _mismatches(gold, expected, secret) == []

    # Late logs changed exactly the sessions they belong to, and only those got a new updated_at.
    late_sessions = {record.session_id for f in workload.files_in(LATE) for record in f.records}
    changed = {s for s, row in gold.items() if after_main.get(s) != row}
    assert changed and changed <= late_sessions

    # Bad records are quarantined with a reason, one row per malformed record delivered.
    quarantined = {
        row["_source"]: row["count"] for row in spark.table("bronze.quarantine").groupBy("_source").count().collect()
    }
    assert sum(quarantined.values()) == sum(workload.malformed_counts([MAIN, LATE]).values())
    assert spark.table("bronze.quarantine").where("_reason is null or _reason = ''").count() == 0

    # The search index holds one document per gold session, with the same values and no raw PII.
    documents = _index_documents(settings)
    assert set(documents) == set(gold)
    for session_id, doc in documents.items():
        row = gold[session_id]
        assert doc["user_key"] == row["user_key"]
        assert doc["status"] == row["status"]
        assert doc["metric_samples"] == row["metric_samples"]
        assert doc["log_lines"] == row["log_lines"]
        assert not {"user_id", "email", "ip_address"} & set(doc)
