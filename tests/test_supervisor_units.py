"""The supervised pipeline's parts that need no stack: backoff, source isolation and restart, the build
loop's retry, the state file and what `sessionlake status` prints of it (without Spark)."""

from __future__ import annotations

import json
import os
import re
import threading
import time

import pytest

from sessionlake.app.cli import main
from sessionlake.app.state import StateWriter, read_state
from sessionlake.app.supervisor import ExportStage
from sessionlake.core.backoff import Backoff
from sessionlake.core.durations import human_duration
from sessionlake.core.settings import Settings
from sessionlake.exporters import runner as export_runner
from sessionlake.exporters.cdf import TableMissingError
from sessionlake.ingest.runner import _Supervisor
from sessionlake.transform.inputs import InputVersions
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


class Ticks:
    """An observer of the build loop that records what each tick did."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def build_started(self) -> None:
        pass

    def build_finished(self, result, error, next_in) -> None:
        self.events.append(("built", result.success if result else None, error))

    def build_skipped(self, reason, next_in, waiting) -> None:
        self.events.append(("skipped", reason, waiting))


def test_the_build_loop_waits_for_bronze_and_builds_only_when_a_bronze_table_has_a_new_version(tmp_path):
    reads = [
        InputVersions({"session_events": 3}, missing=("client_logs",)),  # ingest has not created it yet
        InputVersions({"session_events": 0, "client_logs": 0}, empty=("client_logs", "session_events")),  # no data
        InputVersions({"session_events": 3, "client_logs": 0}, empty=("client_logs",)),  # first build
        InputVersions({"session_events": 3, "client_logs": 0}),  # nothing new: no build
        InputVersions({"session_events": 4, "client_logs": 0}),  # a batch landed: build
        OSError("s3a: connection refused"),  # the lake unreachable: a failed attempt, retried
        InputVersions({"session_events": 4, "client_logs": 0}),  # the last good build saw these: no build
    ]
    stop = threading.Event()

    class Inputs:
        def read(self) -> InputVersions:
            outcome = reads.pop(0)
            if not reads:
                stop.set()
            if isinstance(outcome, Exception):
                raise outcome
            return outcome

    built = []
    ticks = Ticks()
    run_every(
        Settings(home=tmp_path),
        spark=None,
        interval_seconds=0.01,
        stop=stop,
        observer=ticks,
        backoff=Backoff(initial=0.01, maximum=0.01),
        build_once=lambda *_a, **_k: built.append(1) or BuildResult(True, 0.1),
        inputs=Inputs(),
    )
    assert ticks.events == [
        ("skipped", "waiting for bronze tables ingest has not created yet: client_logs", True),
        ("skipped", "waiting for the first bronze data (every bronze table is empty)", True),
        ("built", True, None),
        ("skipped", "no new bronze data since the last build", False),
        ("built", True, None),
        ("built", None, "OSError: s3a: connection refused"),
        ("skipped", "no new bronze data since the last build", False),
    ]
    assert len(built) == 2


def test_the_export_loop_waits_for_the_table_without_counting_failures(tmp_path, monkeypatch):
    ticks = [TableMissingError("table gold.sessions does not exist"), TableMissingError("still not")]
    ticks += [export_runner.ExportReport(upserted=2), ConnectionError("search down")]
    stop = threading.Event()

    class FakeExporter:
        def __init__(self, spark, config) -> None:
            pass

        def run_once(self) -> export_runner.ExportReport:
            outcome = ticks.pop(0)
            if not ticks:
                stop.set()
            if isinstance(outcome, Exception):
                raise outcome
            return outcome

    monkeypatch.setattr(export_runner, "Exporter", FakeExporter)
    writer = StateWriter(tmp_path)
    seen = []

    class Observer(ExportStage):
        def export_waiting(self, reason: str) -> None:
            super().export_waiting(reason)
            seen.append(vars(read_state(tmp_path).stages["export"]).copy())

    total = export_runner.export(
        Settings(home=tmp_path), None, once=False, every=0.01, config=object(), stop=stop, observer=Observer(writer, 1)
    )
    assert total.upserted == 2
    assert [(s["state"], s["failures"], s["note"]) for s in seen] == [
        ("waiting", 0, "table gold.sessions does not exist"),
        ("waiting", 0, "still not"),
    ]
    export = read_state(tmp_path).stages["export"]
    assert export.state == "retrying" and export.failures == 1 and export.note is None
    assert export.summary.startswith("upserted 2")


def test_status_shows_the_pipeline_from_its_state_file_without_spark(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SESSIONLAKE_HOME", str(tmp_path))
    writer = StateWriter(tmp_path)
    writer.succeeded("ingest session_events", "batch 7: 40 rows, 2 quarantined")
    writer.succeeded("build", "120 rows merged into 7 tables", seconds=38.2, next_in=262)
    writer.failed("export", "ConnectionError: 127.0.0.1:9200 refused; id 'x\";", retry_in=30)
    writer.skipped("ingest stream_metrics", "waiting for the topic", next_in=5, waiting=True)

    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "pipeline  running for" in out and f"(pid {os.getpid()})" in out
    assert "batch 7: 40 rows, 2 quarantined" in out
    assert "38s" in out and "in 4m 2" in out  # took, next run: human units
    assert "retrying" in out and "last error just now (1x): ConnectionError: 127.0.0.1:9200 refused" in out
    assert re.search(r"ingest stream_metrics +waiting .*\n +waiting for the topic\n", out)

    assert main(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["pipeline"]["running"] is True
    assert status["pipeline"]["stages"]["export"]["state"] == "retrying"
    assert {c["name"] for c in status["stack"]} >= {"kafka", "moto", "metastore", "search"}

    # A standalone loop (`export --every`) keeps its own file, shown beside the pipeline's.
    loop = StateWriter(tmp_path, "export")
    loop.failed("export", "ConnectionError: 127.0.0.1:9200 refused", retry_in=5)
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"export --every  running for .*\n.*\n  export +retrying .*\n.*last error just now \(1x\)", out)
    assert main(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["loops"]["export"]["stages"]["export"]["failures"] == 1

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
