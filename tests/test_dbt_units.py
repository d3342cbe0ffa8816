"""Pure functions and the build lock of sessionlake.transform (no Spark)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
import time

import pytest

from sessionlake.core.intervals import parse_interval
from sessionlake.core.lock import BuildLocked, build_lock
from sessionlake.privacy.keys import pseudonymize
from sessionlake.transform import Checks
from sessionlake.transform.schedule import run_every


def test_pseudonymize_is_hmac_sha256():
    # RFC 4231, test case 2
    expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert pseudonymize("what do ya want for nothing?", "Jefe") == expected
    assert pseudonymize("u1", "k") != hashlib.sha256(b"k:u1").hexdigest()  # not the old concatenation
    assert pseudonymize("u1", "k") != pseudonymize("u1", "other")
    assert pseudonymize("u1", "k") != pseudonymize("u2", "k")


@pytest.mark.parametrize(("text", "seconds"), [("5m", 300), ("30s", 30), ("1h", 3600), ("90", 90), ("1.5m", 90)])
def test_parse_interval(text, seconds):
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["", "5x", "-1m", "0s", "m"])
def test_parse_interval_rejects_nonsense(text):
    with pytest.raises(ValueError):
        parse_interval(text)


def test_the_lock_excludes_a_second_holder_in_the_same_process(tmp_path):
    path = tmp_path / "build.lock"
    with build_lock(path), pytest.raises(BuildLocked), build_lock(path):
        pass
    with build_lock(path):  # released on exit
        pass


def _holder(path, seconds: float) -> subprocess.Popen:
    """Another process holding the lock for `seconds` (it prints `held` once it has it)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from sessionlake.core.lock import build_lock\n"
            f"with build_lock(Path({str(path)!r})):\n    print('held', flush=True); time.sleep({seconds})",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )


def test_the_lock_excludes_another_process_and_dies_with_it(tmp_path):
    path = tmp_path / "build.lock"
    holder = _holder(path, 60)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(BuildLocked), build_lock(path):
            pass
    finally:
        holder.kill()
        holder.wait()
    with build_lock(path):  # the kernel released the dead holder's lock
        pass


def test_a_waiting_holder_gets_the_lock_once_it_is_released_and_gives_up_after_its_wait(tmp_path):
    path = tmp_path / "build.lock"
    holder = _holder(path, 1.5)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(BuildLocked), build_lock(path, wait=0.2):
            pass
        started = time.monotonic()
        with build_lock(path, wait=30):
            assert holder.poll() is not None or time.monotonic() - started > 0.5
    finally:
        holder.kill()
        holder.wait()


def test_the_schedule_skips_ticks_while_another_build_holds_the_lock(tmp_path):
    from sessionlake.core.settings import Settings

    settings = Settings(home=tmp_path)
    with build_lock(settings.home / "dbt" / "build.lock"):
        results = run_every(settings, spark=None, interval_seconds=0.05, max_runs=3, stop=threading.Event())
    assert results == []


def _selected_checks(checks: Checks, tmp_path) -> list[str]:
    """What `dbt ls` selects of tests and unit tests with a build's `checks` (a parse, no warehouse)."""
    from sessionlake.core.dbt import invoke
    from sessionlake.core.settings import Settings

    settings = Settings(home=tmp_path)
    args = ["ls", "--resource-type", "test", "--resource-type", "unit_test", "--output", "name", *checks.dbt_args()]
    result = invoke(settings, args)
    assert result.success, result.exception
    return sorted(result.result)


def test_the_build_loop_runs_the_key_tests_and_every_check_runs_all(tmp_path, monkeypatch):
    monkeypatch.setenv("SESSIONLAKE_PII_SECRET", "s" * 32)
    loop = _selected_checks(Checks.EVERY_BUILD, tmp_path)
    assert loop == [
        "not_null_pii_player_keys_user_key",
        "not_null_pii_players_user_key",
        "not_null_sessions_session_id",
        "relationships_pii_players_user_key__user_key__ref_pii_player_keys_",
        "unique_pii_player_keys_user_key",
        "unique_pii_players_user_key",
        "unique_sessions_session_id",
    ]
    every = _selected_checks(Checks.ALL, tmp_path)
    assert set(loop) < set(every)
    assert len(every) >= 50 and any(name.startswith("sessions_") for name in every)  # unit tests included


def test_the_freshness_report_is_read_by_source_and_shown(tmp_path, capsys):
    from sessionlake.app.commands.status import _print_source_freshness
    from sessionlake.transform.freshness import checked_at_epoch, read_freshness

    assert read_freshness(tmp_path / "none.json") == []
    report = tmp_path / "sources.json"
    results = [
        {"unique_id": "source.sessionlake.streamer.stream_metrics", "status": "warn", "max_loaded_at":
         "2026-12-08T10:00:00+00:00", "max_loaded_at_time_ago_in_s": 905.0, "snapshotted_at": "2026-12-08T10:15:05Z"},
        {"unique_id": "source.sessionlake.billing.billing_logs", "status": "runtime error", "error": "no table",
         "max_loaded_at": None, "max_loaded_at_time_ago_in_s": None, "snapshotted_at": None},
    ]  # fmt: skip
    report.write_text(json.dumps({"results": results}))
    entries = read_freshness(report)
    assert [e.source for e in entries] == ["billing.billing_logs", "streamer.stream_metrics"]
    assert entries[0].status == "runtime error" and entries[0].error == "no table"
    assert checked_at_epoch(entries[1]) == 1796724905.0
    _print_source_freshness(entries, 1796724905.0 + 60)
    out = capsys.readouterr().out
    assert "source freshness (dbt, checked 1m ago)" in out
    assert "streamer.stream_metrics              warn   newest row 15m 5s old" in out
    assert "billing.billing_logs                 runtime error no rows: no table" in out
    empty = {"unique_id": "source.sessionlake.client.client_logs", "status": "pass", "max_loaded_at":
             "0001-01-01T00:00:00+00:00", "max_loaded_at_time_ago_in_s": 6.4e10, "snapshotted_at": None}  # fmt: skip
    report.write_text(json.dumps({"results": [empty]}))
    _print_source_freshness(read_freshness(report), 1796724905.0)
    assert (
        "source freshness (dbt, checked -)\n  client.client_logs                   pass   no rows"
        in capsys.readouterr().out
    )
