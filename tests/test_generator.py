"""The workload generator: the plan (pure), the truth rules, and delivery to the real broker and moto server."""

from __future__ import annotations

import argparse
import gzip
import json
import re
import time
import urllib.parse
import uuid
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from confluent_kafka import Consumer

from sessionlake.app.commands import generate as generate_command
from sessionlake.core.domain import LOG_BUCKETS
from sessionlake.core.settings import Settings
from sessionlake.generator import (
    LATE,
    MAIN,
    SOURCES,
    DeliveryError,
    GeneratorConfig,
    KafkaMessage,
    LogFile,
    Record,
    Workload,
    deliver,
    plan,
    truth,
    write_truth,
)
from sessionlake.generator.malformed import KINDS
from sessionlake.generator.times import iso, parse_iso
from sessionlake.generator.truth import COLUMNS, percentile
from sessionlake.stack.aws import aws_client

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
KEY = re.compile(r"^(client|billing)/dt=\d{4}-\d\d-\d\d/hour=\d\d/[0-9a-f-]{36}\.json(\.gz)?$")
FIELDS = {
    "session-events": {
        "event_id",
        "event_type",
        "event_time",
        "session_id",
        "user_id",
        "email",
        "ip_address",
        "game_id",
        "region",
        "client_platform",
    },
    "stream-metrics": {
        "event_id",
        "event_time",
        "session_id",
        "fps",
        "bitrate_kbps",
        "rtt_ms",
        "packet_loss_pct",
        "resolution",
    },
    "client-logs": {
        "event_id",
        "log_time",
        "session_id",
        "level",
        "message",
        "device_model",
        "os_version",
        "ip_address",
        "crashed",
    },
    "billing-logs": {"event_id", "session_id", "user_id", "billed_minutes", "tier"},
}
RATIOS = GeneratorConfig(
    seed=11,
    sessions=40,
    duplicate_ratio=0.1,
    late_ratio=0.25,
    out_of_order_ratio=0.08,
    malformed_ratio=0.05,
    gzip_ratio=0.5,
)


@pytest.fixture(scope="module")
def workload() -> Workload:
    return plan(RATIOS)


def _valid(workload: Workload, source: str) -> list[Record]:
    return [r for r in workload.records_in([MAIN, LATE]) if r.source == source and r.event is not None]


# --- the plan -------------------------------------------------------------------------------------------


def test_plan_is_deterministic_from_the_seed(workload: Workload) -> None:
    assert plan(RATIOS) == workload
    other = plan(GeneratorConfig(seed=12, sessions=40))
    assert {s.session_id for s in other.sessions}.isdisjoint({s.session_id for s in workload.sessions})


def test_records_carry_exactly_the_domain_fields(workload: Workload) -> None:
    for source in SOURCES:
        records = _valid(workload, source)
        assert records, source
        for record in records:
            expected = set(FIELDS[source])
            if record.event.get("event_type") == "session_ended":
                expected.add("end_reason")
            assert set(record.event) == expected
            assert json.loads(record.raw) == record.event
            for name in ("event_time", "log_time"):
                if name in record.event:
                    assert TIME.match(record.event[name]), record.event[name]
    metrics = [r.event for r in _valid(workload, "stream-metrics")]
    assert all(isinstance(m["fps"], float) and isinstance(m["bitrate_kbps"], int) for m in metrics)
    assert all(isinstance(line.event["crashed"], bool) for line in _valid(workload, "client-logs"))


def test_session_shapes_follow_their_ratios(workload: Workload) -> None:
    shapes = Counter(s.shape for s in workload.sessions)
    assert shapes == {"active": 4, "no_logs": 4, "logs_only": 2, "no_metrics": 4, "complete": 26}
    sources = defaultdict(set)
    for record in workload.records_in([MAIN, LATE]):
        if record.event is not None:
            sources[record.session_id].add(record.source)
    for session in workload.sessions:
        got = sources[session.session_id]
        expected = {
            "complete": set(SOURCES),
            "active": {"session-events", "stream-metrics"},
            "no_logs": {"session-events", "stream-metrics"},
            "logs_only": {"client-logs", "billing-logs"},
            "no_metrics": {"session-events", "client-logs", "billing-logs"},
        }[session.shape]
        assert got == expected, session


def test_duplicates_repeat_identical_records_at_the_ratio(workload: Workload) -> None:
    for source in SOURCES:
        records = _valid(workload, source)
        distinct = {r.event["event_id"]: r.raw for r in records}
        assert len(records) - len(distinct) == round(RATIOS.duplicate_ratio * len(distinct)), source
        assert all(distinct[r.event["event_id"]] == r.raw for r in records)  # identical payloads


def test_malformed_records_are_extra_and_counted_per_source(workload: Workload) -> None:
    counts = workload.malformed_counts([MAIN, LATE])
    for source in SOURCES:
        distinct = {r.event["event_id"] for r in _valid(workload, source)}
        assert counts[source] == round(RATIOS.malformed_ratio * len(distinct)), source
    clean = plan(GeneratorConfig(**{**RATIOS.__dict__, "malformed_ratio": 0.0}))
    assert clean.malformed_counts([MAIN, LATE]) == dict.fromkeys(SOURCES, 0)
    for source in SOURCES:  # garbage comes on top of the real events, never instead of one
        assert {r.raw for r in _valid(clean, source)} == {r.raw for r in _valid(workload, source)}


def test_malformed_records_are_broken_as_their_kind_says() -> None:
    bad = [r for r in plan(GeneratorConfig(seed=3, sessions=30, malformed_ratio=0.2)).records_in([MAIN, LATE])]
    bad = [r for r in bad if r.malformed]
    assert {r.malformed for r in bad} == set(KINDS["session-events"])
    for record in bad:
        assert record.event is None and record.malformed in KINDS[record.source]
        if record.malformed == "invalid_json":
            with pytest.raises(json.JSONDecodeError):
                json.loads(record.raw)
            continue
        payload = json.loads(record.raw)
        if record.malformed == "missing_event_id":
            assert "event_id" not in payload and payload["session_id"] == record.session_id
        elif record.malformed == "missing_session_id":
            assert "session_id" not in payload and payload["event_id"]
        elif record.malformed == "unknown_event_type":
            assert payload["event_type"] not in ("session_started", "heartbeat", "session_ended")
        else:
            wrong = [k for k in ("event_time", "fps", "crashed", "billed_minutes") if isinstance(payload.get(k), str)]
            assert wrong and (wrong != ["event_time"] or not TIME.match(payload["event_time"]))


def test_out_of_order_messages_at_the_ratio(workload: Workload) -> None:
    for topic in ("session-events", "stream-metrics"):
        seen: set[str] = set()
        latest: dict[str, str] = {}
        out_of_order = 0
        for message in workload.messages:
            event = message.record.event
            if message.topic != topic or event is None or event["event_id"] in seen:
                continue  # first deliveries of valid events only
            seen.add(event["event_id"])
            if latest.get(message.key, "") > event["event_time"]:
                out_of_order += 1
            latest[message.key] = max(latest.get(message.key, ""), event["event_time"])
        assert out_of_order == round(RATIOS.out_of_order_ratio * len(seen)), topic


def test_log_files_keys_bodies_phases_and_gzip(workload: Workload) -> None:
    for bucket in ("client-logs", "billing-logs"):
        files = [f for f in workload.files if f.bucket == bucket]
        assert sum(f.phase == LATE for f in files) == round(RATIOS.late_ratio * len(files))
        assert sum(f.gzip for f in files) == round(RATIOS.gzip_ratio * len(files))
        per_session = Counter(f.records[0].session_id for f in files)
        assert set(per_session.values()) <= {1, 2}
    for log_file in workload.files:
        assert KEY.match(log_file.key) and log_file.key.endswith(".gz") == log_file.gzip
        assert log_file.key.startswith({b.bucket: b.service for b in LOG_BUCKETS}[log_file.bucket] + "/")
        assert f"dt={log_file.written_at:%Y-%m-%d}/hour={log_file.written_at:%H}/" in log_file.key
        body = gzip.decompress(log_file.body()) if log_file.gzip else log_file.body()
        assert body.decode().splitlines() == [r.raw for r in log_file.records]
        assert {r.session_id for r in log_file.records} == {log_file.records[0].session_id}
    client_lines = [len(f.records) for f in workload.files if f.bucket == "client-logs"]
    assert max(client_lines) >= 100 and sum(client_lines) / len(client_lines) >= 20


def test_late_files_are_written_hours_after_their_lines(workload: Workload) -> None:
    for log_file in workload.files:
        if log_file.bucket != "client-logs":
            continue
        last_line = max(parse_iso(r.event["log_time"]) for r in log_file.records if r.event)
        delay = log_file.written_at - last_line
        assert delay > timedelta(hours=2) if log_file.phase == LATE else delay < timedelta(hours=1)


def test_config_rejects_impossible_ratios() -> None:
    with pytest.raises(ValueError, match="late_ratio"):
        GeneratorConfig(late_ratio=1.5)
    with pytest.raises(ValueError, match="session-shape"):
        GeneratorConfig(active_ratio=0.6, no_logs_ratio=0.6)


# --- the truth rules, on hand-built workloads -------------------------------------------------------------

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


def _at(seconds: float) -> str:
    return iso(T0 + timedelta(seconds=seconds))


def _session_event(event_id: str, event_type: str, seconds: float, session_id: str = "s1", **fields) -> Record:
    event = {"event_id": event_id, "event_type": event_type, "event_time": _at(seconds), "session_id": session_id}
    base = {"user_id": "u1", "email": "a@example.com", "ip_address": "10.0.0.1", "game_id": "g1", "region": "r1"}
    return Record.of("session-events", base | {"client_platform": "p1"} | event | fields)


def _metric(event_id: str, seconds: float, fps: float, rtt: float, loss: float = 0.1, kbps: int = 1000) -> Record:
    event = {"event_id": event_id, "event_time": _at(seconds), "session_id": "s1", "fps": fps}
    return Record.of(
        "stream-metrics", event | {"bitrate_kbps": kbps, "rtt_ms": rtt, "packet_loss_pct": loss, "resolution": "4k"}
    )


def _log(event_id: str, seconds: float, session_id: str = "s1", level: str = "INFO", **fields) -> Record:
    event = {"event_id": event_id, "log_time": _at(seconds), "session_id": session_id, "level": level}
    base = {"message": "m", "device_model": "d1", "os_version": "1", "ip_address": "10.0.0.1", "crashed": False}
    return Record.of("client-logs", event | base | fields)


def _bill(event_id: str, minutes: int, tier: str, session_id: str = "s1", user_id: str = "u1") -> Record:
    event = {"event_id": event_id, "session_id": session_id, "user_id": user_id, "billed_minutes": minutes}
    return Record.of("billing-logs", event | {"tier": tier})


def _workload(messages: list[Record], files: list[tuple[str, list[Record]]] = ()) -> Workload:
    return Workload(
        messages=tuple(KafkaMessage(record=r, send_at=T0) for r in messages),
        files=tuple(
            LogFile(
                bucket=records[0].source,
                key=f"k{i}",
                records=tuple(records),
                gzip=False,
                phase=phase,
                written_at=T0,
            )
            for i, (phase, records) in enumerate(files)
        ),
    )


def test_truth_of_an_ended_session_counts_each_event_once() -> None:
    started = _session_event("e1", "session_started", 0)
    metrics = [
        _metric(f"m{i}", 10 + i, fps=float(60 - i), rtt=float(i + 1), loss=i / 10, kbps=1000 * i) for i in range(20)
    ]
    workload = _workload(
        [
            _session_event("e3", "session_ended", 600, end_reason="user_quit", game_id=None, region=None),
            started,
            _session_event("e2", "heartbeat", 60, region="r2", client_platform=None),
            started,  # duplicate
            *metrics,
            metrics[0],  # duplicate
            Record(source="stream-metrics", session_id="s1", raw='{"fps": "fast"', malformed="invalid_json"),
        ],
        [(MAIN, [_log("l1", 30), _log("l2", 700, level="ERROR"), _log("l2", 700, level="ERROR")])],
    )
    [row] = truth(workload, [MAIN])
    assert tuple(row) == COLUMNS
    assert row["started_at"] == T0 and row["ended_at"] == T0 + timedelta(seconds=600)
    assert row["status"] == "ended" and row["end_reason"] == "user_quit" and row["duration_seconds"] == 600.0
    # latest non-null by event time: the ended event lacks game_id and region, the heartbeat the platform
    assert (row["user_id"], row["game_id"], row["region"], row["client_platform"]) == ("u1", "g1", "r2", "p1")
    assert row["metric_samples"] == 20
    assert row["avg_fps"] == pytest.approx(50.5) and row["min_fps"] == 41.0
    assert row["avg_bitrate_kbps"] == pytest.approx(9500.0) and row["max_packet_loss_pct"] == pytest.approx(1.9)
    assert row["p95_rtt_ms"] == pytest.approx(19.05)
    assert (row["log_lines"], row["error_lines"], row["crashed"]) == (2, 1, False)
    assert row["first_event_at"] == T0 and row["last_event_at"] == T0 + timedelta(seconds=700)
    assert row["billed_minutes"] is None and row["tier"] is None


def test_truth_of_a_session_with_logs_but_no_session_events() -> None:
    workload = _workload(
        [],
        [
            (MAIN, [_bill("0000000000300-a", 2, "ultimate", user_id="u9"), _bill("0000000000100-b", 3, "free")]),
            (MAIN, [_log("l2", 50, device_model="later", crashed=True, level="FATAL"), _log("l1", 10)]),
            (MAIN, [_log("l3", 20, device_model="middle")]),
        ],
    )
    [row] = truth(workload, [MAIN])
    assert row["user_id"] == "u9"  # from the billing line with the greatest event_id
    assert (row["billed_minutes"], row["tier"]) == (5, "ultimate")
    assert row["device_model"] == "later"  # latest by log_time, whatever the file order
    assert (row["log_lines"], row["error_lines"], row["crashed"]) == (3, 1, True)
    assert row["status"] == "active"
    assert [row[c] for c in ("game_id", "started_at", "ended_at", "duration_seconds", "avg_fps")] == [None] * 5
    assert row["metric_samples"] == 0
    assert (row["first_event_at"], row["last_event_at"]) == (T0 + timedelta(seconds=10), T0 + timedelta(seconds=50))


def test_truth_follows_the_delivered_phases() -> None:
    workload = _workload(
        [_session_event("e1", "session_started", 0)],
        [
            (MAIN, [_log("l1", 10)]),
            (LATE, [_log("l2", 3600, device_model="late one"), _bill("0000000000100-a", 7, "priority")]),
            (LATE, [_bill("0000000000200-a", 1, "free", session_id="s2", user_id="u2")]),
        ],
    )
    main = truth(workload, [MAIN])
    assert [r["session_id"] for r in main] == ["s1"]
    assert (main[0]["log_lines"], main[0]["device_model"], main[0]["billed_minutes"]) == (1, "d1", None)
    both = {r["session_id"]: r for r in truth(workload, [MAIN, LATE])}
    assert set(both) == {"s1", "s2"}
    assert (both["s1"]["log_lines"], both["s1"]["device_model"], both["s1"]["billed_minutes"]) == (2, "late one", 7)
    assert both["s1"]["last_event_at"] == T0 + timedelta(hours=1)
    only_billing = both["s2"]
    assert (only_billing["user_id"], only_billing["tier"], only_billing["crashed"]) == ("u2", "free", None)
    assert only_billing["first_event_at"] is None and only_billing["log_lines"] == 0


def test_malformed_records_never_make_a_session() -> None:
    bad = Record(source="session-events", session_id="s7", raw="{}", malformed="missing_event_id")
    assert truth(_workload([bad]), [MAIN]) == []


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([float(v) for v in range(1, 21)], 0.95) == pytest.approx(19.05)
    assert percentile([5.0], 0.95) == 5.0
    assert percentile([3.0, 1.0], 0.5) == 2.0


def test_truth_of_a_planned_workload(workload: Workload, tmp_path: Path) -> None:
    rows = {r["session_id"]: r for r in truth(workload, [MAIN, LATE])}
    shapes = {s.session_id: s.shape for s in workload.sessions}
    assert set(rows) == set(shapes)
    assert sum(r["log_lines"] for r in rows.values()) == len(
        {r.event["event_id"] for r in _valid(workload, "client-logs")}
    )
    for session_id, row in rows.items():
        shape = shapes[session_id]
        assert row["status"] == ("active" if shape in ("active", "logs_only") else "ended")
        assert (row["game_id"] is None) == (shape == "logs_only")
        assert (row["metric_samples"] == 0) == (shape in ("logs_only", "no_metrics"))
        assert (row["crashed"] is None) == (shape in ("active", "no_logs"))
        assert row["user_id"] == next(s.user_id for s in workload.sessions if s.session_id == session_id)
        assert row["first_event_at"] <= row["last_event_at"]
        if row["crashed"]:
            assert row["error_lines"] >= 1
    main = {r["session_id"]: r for r in truth(workload, [MAIN])}
    late_lines = sum(len(f.records) for f in workload.files_in(LATE) if f.bucket == "client-logs")
    assert late_lines and sum(r["log_lines"] for r in main.values()) < sum(r["log_lines"] for r in rows.values())
    path = tmp_path / "truth.jsonl"
    write_truth(list(rows.values()), path)
    written = [json.loads(line) for line in path.read_text().splitlines()]
    assert [w["session_id"] for w in written] == list(rows)
    assert all(TIME.match(w["last_event_at"]) for w in written)
    assert written[0]["last_event_at"] == iso(rows[written[0]["session_id"]]["last_event_at"])


def test_command_line_knobs_reach_the_config() -> None:
    parser = argparse.ArgumentParser()
    generate_command.add_parser(parser.add_subparsers())
    args = parser.parse_args(
        [
            "generate",
            "--sessions",
            "7",
            "--seed",
            "5",
            "--rate",
            "100",
            "--duplicate-ratio",
            "0.2",
            "--late-ratio",
            "0.3",
        ]
        + [
            "--out-of-order-ratio",
            "0.1",
            "--malformed-ratio",
            "0.02",
            "--gzip-ratio",
            "1",
            "--start",
            "2024-02-03T04:05:06Z",
        ]
        + ["--phase", "main", "--truth", "t.jsonl"]
    )
    assert generate_command.config_from_args(args) == GeneratorConfig(
        seed=5,
        sessions=7,
        rate=100.0,
        duplicate_ratio=0.2,
        late_ratio=0.3,
        out_of_order_ratio=0.1,
        malformed_ratio=0.02,
        gzip_ratio=1.0,
        start=datetime(2024, 2, 3, 4, 5, 6, tzinfo=timezone.utc),
    )
    assert (args.phase, args.truth) == ("main", Path("t.jsonl"))


# --- delivery to the real broker and moto server ------------------------------------------------------------


def _consume(bootstrap: str, workload: Workload, timeout: float = 60.0) -> dict[str, list[tuple[str, str]]]:
    """(key, value) per topic of the messages of this workload's sessions, in partition order per key."""
    sessions = {m.key for m in workload.messages}
    expected = len(workload.messages)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-generator-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe(["session-events", "stream-metrics"])
    got: dict[str, list[tuple[str, str]]] = defaultdict(list)
    deadline = time.monotonic() + timeout
    try:
        while sum(map(len, got.values())) < expected and time.monotonic() < deadline:
            for message in consumer.consume(num_messages=1000, timeout=1.0):
                assert message.error() is None, message.error()
                key = message.key().decode()
                if key in sessions:
                    got[message.topic()].append((key, message.value().decode()))
    finally:
        consumer.close()
    return got


def _notified_keys(settings: Settings, wanted: set[tuple[str, str]], timeout: float = 30.0) -> set[tuple[str, str]]:
    """(bucket, key) of the S3 notifications for `wanted` objects; deletes them, releases the others."""
    sqs = aws_client(settings, "sqs")
    seen: set[tuple[str, str]] = set()
    deadline = time.monotonic() + timeout
    while seen < wanted and time.monotonic() < deadline:
        for bucket in LOG_BUCKETS:
            url = sqs.get_queue_url(QueueName=bucket.queue)["QueueUrl"]
            for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                "Messages", []
            ):
                body = json.loads(message["Body"])
                event = json.loads(body["Message"]) if body.get("Type") == "Notification" else body
                keys = {
                    (r["s3"]["bucket"]["name"], urllib.parse.unquote_plus(r["s3"]["object"]["key"]))
                    for r in event.get("Records", [])
                }
                if keys and keys <= wanted:
                    seen |= keys
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                else:
                    sqs.change_message_visibility(
                        QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                    )
    return seen


def _check_objects(settings: Settings, files: tuple[LogFile, ...]) -> None:
    s3 = aws_client(settings, "s3")
    for log_file in files:
        body = s3.get_object(Bucket=log_file.bucket, Key=log_file.key)["Body"].read()
        text = gzip.decompress(body) if log_file.key.endswith(".gz") else body
        assert text.decode().splitlines() == [r.raw for r in log_file.records], log_file.key


@pytest.mark.stack
def test_deliver_sends_the_plan_to_kafka_and_s3_phase_by_phase(kafka: str, moto: str, settings: Settings) -> None:
    workload = plan(GeneratorConfig(seed=101, sessions=12, late_ratio=0.3, malformed_ratio=0.05, duplicate_ratio=0.1))
    report = deliver(workload, settings, MAIN)

    assert report.messages == dict(Counter(m.topic for m in workload.messages))
    main_files = workload.files_in(MAIN)
    assert report.objects == dict(Counter(f.bucket for f in main_files))
    assert report.malformed == workload.malformed_counts([MAIN]) and sum(report.malformed.values()) > 0
    consumed = _consume(kafka, workload)
    for topic in ("session-events", "stream-metrics"):
        planned = [(m.key, m.record.raw) for m in workload.messages if m.topic == topic]
        assert sorted(consumed[topic]) == sorted(planned), topic
        for session_id in {key for key, _ in planned}:  # one key, one partition: the planned order holds
            assert [v for k, v in consumed[topic] if k == session_id] == [v for k, v in planned if k == session_id]
    _check_objects(settings, main_files)
    main_keys = {(f.bucket, f.key) for f in main_files}
    assert _notified_keys(settings, main_keys) == main_keys

    s3 = aws_client(settings, "s3")
    late_files = workload.files_in(LATE)
    assert late_files
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=late_files[0].bucket, Key=late_files[0].key)
    late = deliver(workload, settings, LATE)
    assert late.messages == {} and late.objects == dict(Counter(f.bucket for f in late_files))
    assert late.malformed == workload.malformed_counts([LATE])
    _check_objects(settings, late_files)
    late_keys = {(f.bucket, f.key) for f in late_files}
    assert _notified_keys(settings, late_keys) == late_keys


@pytest.mark.stack
def test_deliver_keeps_the_requested_pace(kafka: str, moto: str, settings: Settings) -> None:
    shape = {"active_ratio": 1.0, "no_logs_ratio": 0.0, "logs_only_ratio": 0.0, "no_metrics_ratio": 0.0}
    workload = plan(GeneratorConfig(seed=102, sessions=1, duplicate_ratio=0, malformed_ratio=0, **shape))
    records = len(workload.messages)
    started = time.monotonic()
    deliver(workload, settings, MAIN, rate=records / 2.0)
    assert 1.9 <= time.monotonic() - started < 10


@pytest.mark.stack
def test_generate_command_delivers_and_writes_the_truth(
    kafka: str, moto: str, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    generate_command.add_parser(parser.add_subparsers())
    truth_path = tmp_path / "truth.jsonl"
    args = parser.parse_args(
        ["generate", "--seed", "103", "--sessions", "5", "--phase", "all", "--truth", str(truth_path)]
    )
    assert args.func(args, settings) == 0
    out = capsys.readouterr().out
    assert "phase main" in out and "phase late" in out and "kafka session-events" in out
    workload = plan(generate_command.config_from_args(args))
    rows = [json.loads(line) for line in truth_path.read_text().splitlines()]
    assert [r["session_id"] for r in rows] == [r["session_id"] for r in truth(workload, [MAIN, LATE])]
    _check_objects(settings, workload.files)
    keys = {(f.bucket, f.key) for f in workload.files}
    assert _notified_keys(settings, keys) == keys


@pytest.mark.stack
def test_deliver_fails_loudly_on_a_missing_bucket(kafka: str, moto: str, settings: Settings) -> None:
    lost = LogFile(
        bucket="no-such-bucket", key="client/x.json", records=(_log("l1", 0),), gzip=False, phase=MAIN, written_at=T0
    )
    with pytest.raises(DeliveryError, match="no-such-bucket"):
        deliver(Workload(messages=(), files=(lost,)), settings, MAIN)


def test_the_demo_workload_lies_in_the_recent_past() -> None:
    """The demo plans near now, so the freshness `status` shows after it measures that run."""
    from sessionlake.app.commands.demo import recent_start

    workload = plan(GeneratorConfig(seed=3, sessions=30, start=recent_start()))
    now = datetime.now(timezone.utc)
    times = [
        parse_iso(r.event[field])
        for r in workload.records_in([MAIN, LATE])
        if r.event is not None
        for field in ("event_time", "log_time")
        if r.event.get(field)
    ]
    assert times and max(times) <= now and min(times) >= now - timedelta(hours=2)
