"""`sessionlake forget` takes the raw user id from a file or standard input (the documented way: it stays out
of `ps` and the shell history), or as the positional argument; exactly one, one line, not blank."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from sessionlake.app.cli import main
from sessionlake.app.commands.forget import read_user_id
from sessionlake.core.errors import ExitCode, InputError
from sessionlake.privacy.erasure import check_request_id

ADVERSARIAL = "ä'; drop table x; -- \\\" 玩家 42 "  # quotes, backslash, semicolon, non-ASCII, trailing space


def test_the_id_comes_from_stdin_a_file_or_the_argument(tmp_path: Path) -> None:
    assert read_user_id(None, "-", io.StringIO(ADVERSARIAL + "\n")) == ADVERSARIAL
    path = tmp_path / "id.txt"
    path.write_bytes((ADVERSARIAL + "\r\n").encode())
    assert read_user_id(None, str(path)) == ADVERSARIAL
    path.write_bytes(ADVERSARIAL.encode())  # no line ending
    assert read_user_id(None, str(path)) == ADVERSARIAL
    assert read_user_id(ADVERSARIAL, None) == ADVERSARIAL


@pytest.mark.parametrize(
    ("positional", "source", "stdin", "message"),
    [
        (None, None, "", "exactly one"),
        ("alice", "-", "bob\n", "exactly one"),
        (None, "-", "", "empty or blank"),
        (None, "-", " \t\n", "empty or blank"),
        (None, "-", "alice\nbob\n", "one line"),
        ("", None, "", "empty or blank"),
    ],
)
def test_missing_ambiguous_blank_or_several_ids_are_refused(positional, source, stdin, message) -> None:
    with pytest.raises(InputError, match=message):
        read_user_id(positional, source, io.StringIO(stdin))


def test_the_cli_names_an_unreadable_file_and_exits_with_the_input_code(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("SESSIONLAKE_HOME", str(tmp_path / "home"))
    missing = tmp_path / "no such file"
    assert main(["forget", "--user-id-from", str(missing)]) == ExitCode.INPUT
    error = capsys.readouterr().err
    assert str(missing) in error and "cannot read" in error
    not_text = tmp_path / "binary"
    not_text.write_bytes(b"\xff\xfe\x00")
    assert main(["forget", "--user-id-from", str(not_text)]) == ExitCode.INPUT
    assert "not UTF-8" in capsys.readouterr().err


@pytest.mark.parametrize(
    "request_id",
    ["${spark.sessionlake.pii.masterkey}", "t'1", "a b", "", "x" * 129, "ticket\n1", "_leading"],
)
def test_a_request_id_that_sql_could_substitute_or_break_is_refused_before_spark(
    request_id: str, tmp_path: Path, monkeypatch, capsys
) -> None:
    """The request id is stored in the audit table through SQL: `${...}` would be a secret's value there."""
    monkeypatch.setenv("SESSIONLAKE_HOME", str(tmp_path / "home"))
    assert main(["forget", "player-1", "--request-id", request_id]) == ExitCode.INPUT
    assert "--request-id must be" in capsys.readouterr().err


def test_ticket_references_are_accepted() -> None:
    for request_id in ("JIRA-1234", "gdpr/2026/12/07:7", "0b5f4c1e-2d3a-4b5c-8d9e-0f1a2b3c4d5e"):
        assert check_request_id(request_id) == request_id


def test_the_report_names_the_raw_copies_outside_the_lake_and_when_they_expire() -> None:
    from datetime import UTC, datetime

    from sessionlake.app.raw_copies import unpurged
    from sessionlake.ingest.config import load_sources

    now = datetime(2026, 12, 7, 10, 30, 15, 123456, tzinfo=UTC)
    copies = [copy.as_dict() for copy in unpurged(load_sources(), 7, now)]
    assert {c["where"] for c in copies} == {
        "kafka topic session-events",
        "kafka topic stream-metrics",
        "s3://billing-logs/",
        "s3://client-logs/",
    }
    assert {c["expires_by"] for c in copies} == {"2026-12-14T10:30:15+00:00"}
    assert not any("purged" in c for c in copies)  # SESSIONLAKE_FORGET_PURGE_RAW=false: nothing deleted
