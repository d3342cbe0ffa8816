"""The supervised pipeline's parts that need no stack: backoff, source isolation and restart, the build
loop's retry, the state file and what `sessionlake status` prints of it (without Spark)."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from sessionlake.app.cli import main
from sessionlake.app.commands.status import human_duration
from sessionlake.app.state import StateWriter, read_state
from sessionlake.core.backoff import Backoff
from sessionlake.core.settings import Settings
from sessionlake.ingest.runner import _Supervisor
from sessionlake.transform.runner import BuildResult
from sessionlake.transform.schedule import run_every


def test_backoff_doubles_up_to_its_maximum_and_resets():
    backoff = Backoff(initial=5, maximum=30)
    assert [backoff.next_delay() for _ in range(5)] == [5, 10, 20, 30, 30]
    backoff.reset()
    assert backoff.next_delay() == 5


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (0.25, "250ms"), (42, "42s"), (200, "3m 20s"), (180, "3m"), (7500, "2h 5m"), (273600, "3d 4h")],
)
def test_durations_read_in_human_units(seconds, text):
    assert human_duration(seconds) == text


class FakeQuery:
    """A StreamingQuery's surface the supervisor uses: active until it fails."""

    def __init__(self, name: str) -> None:
        self.name, self.isActive, self._error = name, True, None

    def fail(self, error: str) -> None:
        self.isActive, self._error = False, error

    def exception(self) -> str | None:
        return self._error


def test_a_failed_source_is_restarted_after_its_backoff_while_the_others_keep_running():
    started: list[FakeQuery] = []
    failures: list[tuple[str, str]] = []
    refuse_start = {"s3-logs": 1}  # its first restart fails too (the queue is still missing)

    def start(name: str) -> FakeQuery:
        if len([q for q in started if q.name == name]) >= 1 and refuse_start.get(name):
            refuse_start[name] -= 1
            raise RuntimeError("QueueDoesNotExist: the queue 'logs;\"x' is gone")
        query = FakeQuery(name)
        started.append(query)
        return query

    def failed(name: str, error: str) -> float:
        failures.append((name, error))
        return 0.2

    supervisor = _Supervisor(start, failed, {"kafka-events": "kafka", "s3-logs": "s3-sqs"})
    supervisor.start("kafka-events")
    supervisor.start("s3-logs")
    stop = threading.Event()
    watcher = threading.Thread(target=supervisor.watch, args=(stop, lambda: None))
    watcher.start()
    try:
        first_s3 = next(q for q in started if q.name == "s3-logs")
        first_s3.fail("software.amazon.awssdk.services.sqs.model.QueueDoesNotExistException: gone\n\tat ...")
        deadline = time.monotonic() + 20
        while len([q for q in started if q.name == "s3-logs"]) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        watcher.join()
    assert [q.name for q in started] == ["kafka-events", "s3-logs", "s3-logs"]  # restarted once it could start
    assert started[0].isActive  # the other source never stopped
    assert failures[0] == ("s3-logs", "software.amazon.awssdk.services.sqs.model.QueueDoesNotExistException: gone")
    assert failures[1][0] == "s3-logs" and "QueueDoesNotExist" in failures[1][1]  # the failed restart, reported


def test_once_a_failed_source_is_reported_and_the_run_ends_when_the_others_are_done():
    queries = {}

    def start(name: str) -> FakeQuery:
        queries[name] = FakeQuery(name)
        return queries[name]

    failures = []
    supervisor = _Supervisor(start, lambda name, error: failures.append(name), {"a": "kafka", "b": "kafka"})
    supervisor.start("a")
    supervisor.start("b")
    queries["a"].fail("boom")
    queries["b"].isActive = False  # finished (availableNow), no error
    supervisor.watch(threading.Event(), lambda: None)
    assert failures == ["a"]


def test_a_failed_build_is_retried_after_a_backoff_shorter_than_the_interval(tmp_path):
    outcomes = [RuntimeError("metastore unreachable"), BuildResult(False, 1.0, failures=["gold.sessions: x"])]
    outcomes.append(BuildResult(True, 1.0, rows_merged={"gold.sessions": 3}))
    finished = []

    class Observer:
        def build_started(self) -> None:
            pass

        def build_finished(self, result, error, next_in) -> None:
            finished.append((result.success if result else None, error, next_in))

    def build_once(*_args, **_kwargs) -> BuildResult:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    started = time.monotonic()
    results = run_every(
        Settings(home=tmp_path),
        spark=None,
        interval_seconds=60,
        max_runs=3,
        observer=Observer(),
        backoff=Backoff(initial=0.1, maximum=60),
        build_once=build_once,
    )
    assert time.monotonic() - started < 5  # the retries did not wait for the next 60 s tick
    assert [r.success for r in results] == [False, True]
    assert finished[0][:2] == (None, "RuntimeError: metastore unreachable") and finished[0][2] == pytest.approx(0.1)
    assert finished[1][:2] == (False, None) and finished[1][2] == pytest.approx(0.2)
    assert finished[2][:2] == (True, None) and finished[2][2] > 50  # success: back to the ticks


def test_status_shows_the_pipeline_from_its_state_file_without_spark(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SESSIONLAKE_HOME", str(tmp_path))
    writer = StateWriter(tmp_path)
    writer.succeeded("ingest session_events", "batch 7: 40 rows, 2 quarantined")
    writer.succeeded("build", "120 rows merged into 7 tables", seconds=38.2, next_in=262)
    writer.failed("export", "ConnectionError: 127.0.0.1:9200 refused; id 'x\";", retry_in=30)

    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "pipeline  running for" in out and f"(pid {os.getpid()})" in out
    assert "batch 7: 40 rows, 2 quarantined" in out
    assert "38s" in out and "in 4m 2" in out  # took, next run: human units
    assert "retrying" in out and "last error just now (1x): ConnectionError: 127.0.0.1:9200 refused" in out

    assert main(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["pipeline"]["running"] is True
    assert status["pipeline"]["stages"]["export"]["state"] == "retrying"
    assert {c["name"] for c in status["stack"]} >= {"kafka", "moto", "metastore", "search"}

    writer.stopped()
    assert read_state(tmp_path).stages["build"].state == "stopped"
    assert main(["status"]) == 0
    assert "pipeline  stopped just now" in capsys.readouterr().out


def test_status_without_a_pipeline_says_how_to_start_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SESSIONLAKE_HOME", str(tmp_path))
    assert main(["status"]) == 0
    assert "never started here (`sessionlake up`)" in capsys.readouterr().out


def test_a_stage_error_is_kept_as_one_line_without_the_plan_or_any_secret(tmp_path, monkeypatch):
    secret = "k3y'with\"quotes\\and;semicolons-é"
    monkeypatch.setenv("SESSIONLAKE_PII_SECRET", secret)
    error = (
        "model.sessionlake.stg_x: Runtime Error in model stg_x (models/stg_x.sql)\n  Runtime Error\n"
        "    [TABLE_OR_VIEW_NOT_FOUND] The table `bronze`.`x` cannot be found.\n    More advice.\n"
        f"    'Project ['sha2('concat({secret}, :, 'user_id), 256) AS user_key#665]\n    +- 'SubqueryAlias x\n"
    )
    writer = StateWriter(tmp_path)
    writer.failed("build", error + f" and {secret} again", retry_in=15)
    stored = read_state(tmp_path).stages["build"].last_error
    assert stored == (
        "model.sessionlake.stg_x: Runtime Error in model stg_x (models/stg_x.sql) / Runtime Error / "
        "[TABLE_OR_VIEW_NOT_FOUND] The table `bronze`.`x` cannot be found."
    )
    writer.failed("export", f"ConnectionError: token={secret}", retry_in=5)
    assert secret not in (tmp_path / "pipeline" / "state.json").read_text()
    assert read_state(tmp_path).stages["export"].last_error == "ConnectionError: token=*****"
