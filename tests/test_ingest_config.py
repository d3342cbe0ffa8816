"""Source configuration: the shipped sources load; bad files are rejected naming file, key and problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from sessionlake.core.settings import load
from sessionlake.ingest.config import SourceConfigError, load_sources
from sessionlake.ingest.readers import kafka
from sessionlake.ingest.readers.kafka import kafka_lag

GOOD = """
kind: kafka
kafka:
  topics: [t]
schema: event_id string, session_id string
targets: [events]
"""


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(exist_ok=True)
    path = directory / f"{name}.yml"
    path.write_text(text)
    return path


def problems(directory: Path) -> list[str]:
    with pytest.raises(SourceConfigError) as error:
        load_sources(directory)
    return error.value.problems


def test_the_reference_sources_load_with_their_options() -> None:
    sources = {s.name: s for s in load_sources()}
    assert set(sources) == {"session_events", "stream_metrics", "client_logs", "billing_logs"}
    events = sources["session_events"]
    assert events.kind == "kafka" and events.kafka.topics == ("session-events",)
    assert events.accepted_values["event_type"] == ("session_started", "heartbeat", "session_ended")
    assert events.tables == ("session_events",)
    logs = sources["client_logs"]
    assert logs.kind == "s3-sqs" and logs.s3_sqs.queue == "client-logs-events" and logs.json_schema is not None
    assert sources["billing_logs"].s3_sqs.queue == "billing-logs-events"


def test_a_minimal_file_gets_defaults(tmp_path: Path) -> None:
    write(tmp_path, "svc", GOOD)
    [source] = load_sources(tmp_path)
    assert source.name == "svc"  # from the file name
    assert source.kafka.starting_offsets == "earliest" and source.kafka.fail_on_data_loss is True
    assert source.targets[0].table == "events" and source.targets[0].where is None
    assert source.trigger == "30 seconds"


def test_errors_name_the_file_the_key_and_the_problem(tmp_path: Path) -> None:
    bad = write(
        tmp_path,
        "bad",
        """
kind: kafka
kafka:
  topics: [t]
  starting_offsets: yesterday
  max_offsets_per_trigger: -5
  include_headers: "yes"
schema: event_id string
trigger: sometimes
targets:
  - table: Bad-Name
colour: blue
""",
    )
    found = problems(tmp_path)
    expected = [
        f"{bad}: kafka.starting_offsets: expected earliest, latest or a mapping, got 'yesterday'",
        f"{bad}: kafka.max_offsets_per_trigger: must be a positive integer, got -5",
        f"{bad}: kafka.include_headers: expected bool, got str 'yes'",
        f"{bad}: trigger: expected an interval such as '30 seconds' or '500 ms', got 'sometimes'",
        f"{bad}: targets[0].table: expected a table name like `stream_metrics`, got 'Bad-Name'",
    ]
    for line in expected:
        assert line in found
    assert any(p.startswith(f"{bad}: colour: unknown key") for p in found)


def test_kind_specific_sections_are_required_and_exclusive(tmp_path: Path) -> None:
    write(tmp_path, "a", "kind: s3-sqs\nschema: x string\ntargets: [a]\n")
    write(tmp_path, "b", "kind: kafka\nkafka: {topics: [t], topic_pattern: 't.*'}\nschema: x string\ntargets: [b]\n")
    write(tmp_path, "c", "kind: ftp\nschema: x string\ntargets: [c]\n")
    found = "\n".join(problems(tmp_path))
    assert "a.yml: s3_sqs.queue: kind s3-sqs needs an `s3_sqs:` mapping" in found
    assert "b.yml: kafka.topics: give exactly one of `topics` (a list) or `topic_pattern`" in found
    assert "c.yml: kind: expected one of kafka, s3-sqs, got 'ftp'" in found


def test_two_sources_may_not_share_a_name_or_a_table(tmp_path: Path) -> None:
    write(tmp_path, "one", GOOD)
    write(tmp_path, "two", GOOD + "name: one\n")
    found = "\n".join(problems(tmp_path))
    assert "two.yml: name: source 'one' is already defined in" in found
    assert "two.yml: targets: table 'events' is already written by" in found


def test_unknown_source_names_are_rejected_listing_the_configured_ones(tmp_path: Path) -> None:
    write(tmp_path, "svc", GOOD)
    with pytest.raises(SourceConfigError, match=r"--source nope: no such source; configured: svc"):
        load_sources(tmp_path, ["nope"])


def test_secrets_in_options_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = GOOD.replace("topics: [t]", "topics: [t]\n  options: {kafka.sasl.jaas.config: '${env:TEST_JAAS}'}")
    write(tmp_path, "svc", text)
    found = problems(tmp_path)
    assert found == [f"{tmp_path / 'svc.yml'}: kafka.options.kafka.sasl.jaas.config: environment variable "
                     "TEST_JAAS is not set"]  # fmt: skip
    monkeypatch.setenv("TEST_JAAS", "secret-value")
    [source] = load_sources(tmp_path)
    assert source.kafka.extra["kafka.sasl.jaas.config"] == "secret-value"


def test_invalid_yaml_is_reported_with_its_file(tmp_path: Path) -> None:
    bad = write(tmp_path, "broken", "kind: [kafka\n")
    [problem] = problems(tmp_path)
    assert problem.startswith(f"{bad}: <document>: not valid YAML")


def test_kafka_lag_sums_latest_minus_processed_offsets() -> None:
    end = {"t": {"0": 10, "1": 5}}
    latest = {"t": {"0": 12, "1": 5, "2": 3}}
    assert kafka_lag(end, latest) == 2 + 0 + 3
    assert kafka_lag(None, latest) is None


def test_kafka_fetch_defaults_apply_unless_a_source_sets_them(tmp_path: Path) -> None:
    write(tmp_path, "plain", GOOD)
    write(
        tmp_path,
        "tuned",
        GOOD.replace("  topics: [t]", "  topics: [u]\n  options: {KAFKA.max.partition.fetch.bytes: '1048576'}").replace(
            "[events]", "[tuned_events]"
        ),
    )
    settings = load()
    plain, tuned = (kafka.options(settings, s) for s in sorted(load_sources(tmp_path), key=lambda s: s.name))
    for key, value in kafka.FETCH_DEFAULTS.items():
        assert plain[key] == value
    assert tuned["KAFKA.max.partition.fetch.bytes"] == "1048576"
    assert "kafka.max.partition.fetch.bytes" not in tuned  # one value per option, whatever its case
    assert tuned["kafka.receive.buffer.bytes"] == kafka.FETCH_DEFAULTS["kafka.receive.buffer.bytes"]
