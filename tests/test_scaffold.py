"""`sessionlake add-source`: a sample of a service's records becomes its ingest YAML, dbt source, staging model
and session aggregate, with PII candidates declared; an existing source's new fields become a diff. Run
against a copy of the project, so nothing here touches the checkout."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from sessionlake.app.cli import main
from sessionlake.core.errors import ExitCode
from sessionlake.core.settings import REPO_ROOT
from sessionlake.ingest.config import load_sources
from sessionlake.ingest.schema import from_json_schema
from sessionlake.scaffold import ScaffoldError, SourceSpec, new_source, read_sample, schema_change
from sessionlake.scaffold.pii import pii_candidates
from sessionlake.scaffold.sample import SampleError, infer, spark_type

RECORDS = [
    {"event_id": "m1", "session_id": "s1", "event_time": "2026-12-01T10:00:00Z", "user_id": "u-1",
     "queue_seconds": 12, "mode": "ranked", "client_ip": "10.1.2.3", "party": {"size": 2}, "order": 1,
     "map": "Ærø; 'north'"},
    {"event_id": "m2", "session_id": "s2", "event_time": "2026-12-01T10:01:00.5+01:00", "user_id": "u-2",
     "queue_seconds": 30.5, "mode": "casual", "client_ip": "2001:db8::1", "party": {"size": 1, "leader": True},
     "order": None, "contact": "a.b@example.org", "played_on": "2026-12-01"},
]  # fmt: skip


def write_sample(path: Path, records: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n\n")
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The parts of the project add-source reads and writes, copied."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(REPO_ROOT / "dbt_project.yml", root)
    for folder in ("ingest/sources", "models"):
        shutil.copytree(REPO_ROOT / folder, root / folder)
    return root


def spec(tmp_path: Path, **overrides) -> SourceSpec:
    sample = read_sample(write_sample(tmp_path / "sample.ndjson", RECORDS))
    pii = tuple(pii_candidates(sample.fields))
    values = dict(name="matchmaking_events", service="matchmaking", kind="kafka", sample=sample,
                  sample_name="sample.ndjson", pii=pii, location="matchmaking-events")  # fmt: skip
    return SourceSpec(**(values | overrides))


def test_types_are_inferred_over_every_record() -> None:
    sample = infer(RECORDS)
    types = {f.name: spark_type(f.schema) for f in sample.fields}
    assert types == {
        "event_id": "string", "session_id": "string", "event_time": "timestamp", "user_id": "string",
        "queue_seconds": "double", "mode": "string", "client_ip": "string",
        "party": "struct<size: bigint, leader: boolean>", "order": "bigint", "map": "string",
        "contact": "string", "played_on": "date",
    }  # fmt: skip
    assert sample.get("order").present == 1 and sample.records == 2
    mixed = infer([{"v": 1}, {"v": "1"}, {"w": None}, {"t": "2026-01-01T00:00:00Z"}, {"t": "soon"}])
    assert spark_type(mixed.get("v").schema) == "string" and "mixed types" in mixed.get("v").notes[0]
    assert spark_type(mixed.get("w").schema) == "string" and "always null" in mixed.get("w").notes[0]
    assert spark_type(mixed.get("t").schema) == "string"  # one value is not a time


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": 1}\n[1, 2]\n', "sample.ndjson:2: expected a JSON object, got list"),
        ('{"a": 1}\n{"a": \n', "sample.ndjson:2: not JSON"),
        ("\n  \n", "no records"),
        ('{"a b": 1}\n', "field name 'a b' is not a valid column name"),
        ('{"Mode": 1, "mode": 2}\n', "differ only in case"),
    ],
)
def test_a_bad_sample_is_refused_naming_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "sample.ndjson"
    path.write_text(text)
    with pytest.raises(SampleError, match=message.replace("[", r"\[")):
        read_sample(path)


def test_pii_candidates_by_name_and_by_value() -> None:
    sample = infer([
        {"event_id": "e", "session_id": "s", "player_id": "p", "email": "x", "lastName": "L", "ip_address": "x",
         "note": "n@example.com", "peer": "192.168.0.1", "region": "eu", "ship_id": "a", "zipper": "z",
         "device_id": "d", "score": 3},
    ])  # fmt: skip
    found = {c.field: c.pseudonym for c in pii_candidates(sample.fields)}
    assert found["player_id"] == "user_key" and found["ip_address"] == "ip_key" and found["email"] == "email_key"
    assert found["lastName"] == "lastname_key" and found["device_id"] == "device_id_key"
    # An e-mail address in a field not named like one: by its values; a second email_key gets its own name.
    assert found["note"] == "note_key" and found["peer"] == "peer_key"
    assert not {"event_id", "session_id", "region", "ship_id", "zipper", "score"} & set(found)


def test_a_new_source_gets_every_file_and_they_load(project: Path, tmp_path: Path) -> None:
    plan = new_source(project, spec(tmp_path, session_metrics=True))
    written = plan.apply(project)
    assert set(written) == {
        "ingest/sources/matchmaking_events.yml",
        "models/staging/matchmaking/_matchmaking__sources.yml",
        "models/staging/matchmaking/_matchmaking__models.yml",
        "models/staging/matchmaking/stg_matchmaking__matchmaking_events.sql",
        "models/intermediate/int_matchmaking__session_metrics.sql",
        "models/intermediate/_int_matchmaking__models.yml",
        "dbt_project.yml",
        "models/marts/_marts__models.yml",
    }
    # The ingest YAML passes ingest's own validation, with the inferred types and the candidates' list.
    source = next(s for s in load_sources(project / "ingest" / "sources") if s.name == "matchmaking_events")
    assert source.kafka.topics == ("matchmaking-events",) and source.event_time == "event_time"
    rules = from_json_schema(source.json_schema)
    assert set(source.pii) == {"user_id", "client_ip", "contact"} and rules.required == ("event_id", "session_id")
    assert rules.schema["party"].dataType.simpleString() == "struct<size:bigint,leader:boolean>"
    assert rules.schema["played_on"].dataType.simpleString() == "date"
    # The dbt source: every sample field documented; the candidates declared for protect_pii.
    folder = project / "models" / "staging" / "matchmaking"
    table = yaml.safe_load((folder / "_matchmaking__sources.yml").read_text())["sources"][0]["tables"][0]
    columns = {c["name"]: c for c in table["columns"]}
    assert {f.name for f in read_sample(tmp_path / "sample.ndjson").fields} <= set(columns)
    assert all(c["description"] for c in columns.values())
    assert columns["client_ip"]["meta"] == {"pii": {"method": "hash", "as": "ip_key"}}
    assert "meta" not in columns["mode"]
    # The staging model selects every field, PII through protect_pii, a reserved word quoted; its YAML
    # documents each column it outputs.
    sql = (folder / "stg_matchmaking__matchmaking_events.sql").read_text()
    assert "{{ protect_pii('contact', 'matchmaking', 'matchmaking_events') }}" in sql and "`order`," in sql
    assert "        user_id," not in sql
    model = yaml.safe_load((folder / "_matchmaking__models.yml").read_text())["models"][0]
    names = [c["name"] for c in model["columns"]]
    assert {"user_key", "ip_key", "email_key", "map", "_loaded_at"} <= set(names) and "contact" not in names
    # The aggregate is registered where gold reads it; dbt_project.yml keeps its comments.
    project_yml = (project / "dbt_project.yml").read_text()
    entries = yaml.safe_load(project_yml)["vars"]["session_metrics"]
    assert entries[-1] == {"model": "int_matchmaking__session_metrics", "silver": "stg_matchmaking__matchmaking_events"}
    assert len(entries) == 5 and "# The one place per-service session aggregates are registered" in project_yml
    metrics = yaml.safe_load((project / "models/intermediate/_int_matchmaking__models.yml").read_text())
    typed = {c["name"]: c.get("data_type") for c in metrics["models"][0]["columns"]}
    assert typed["matchmaking_events"] == "bigint" and typed["avg_queue_seconds"] == "double"
    assert "avg_user_id" not in typed  # no aggregate of a PII field
    # Gold's contract gains the new columns, typed, before updated_at; the shared ones are not repeated.
    sessions = yaml.safe_load((project / "models/marts/_marts__models.yml").read_text())["models"][0]
    gold = [(c["name"], c.get("data_type")) for c in sessions["columns"]]
    assert gold[-4:] == [("matchmaking_events", "bigint"), ("avg_queue_seconds", "double"), ("avg_order", "double"),
                         ("updated_at", "timestamp")]  # fmt: skip
    assert [name for name, _ in gold].count("first_event_at") == 1


def test_it_never_overwrites_and_writes_nothing_when_refusing(project: Path, tmp_path: Path) -> None:
    taken = project / "models" / "staging" / "matchmaking" / "_matchmaking__models.yml"
    taken.parent.mkdir(parents=True)
    taken.write_text("version: 2\n")
    with pytest.raises(ScaffoldError, match="never overwrites.*_matchmaking__models.yml"):
        new_source(project, spec(tmp_path))
    assert not (project / "ingest" / "sources" / "matchmaking_events.yml").exists()
    plan = new_source(project.parent / "project", spec(tmp_path, service="other"))
    (project / "ingest" / "sources" / "matchmaking_events.yml").write_text("# someone was faster\n")
    with pytest.raises(ScaffoldError, match="exists"):
        plan.apply(project)
    assert not (project / "models" / "staging" / "other").exists()


def test_names_and_the_sample_are_checked(project: Path, tmp_path: Path) -> None:
    with pytest.raises(ScaffoldError, match="lower_snake_case"):
        new_source(project, spec(tmp_path, name="Match-Making"))
    sample = infer([{"event_id": "e1", "when": "2026-01-01T00:00:00Z"}])
    with pytest.raises(Exception, match="no `session_id` field"):
        new_source(project, spec(tmp_path, sample=sample, pii=()))


def test_an_s3_source_reads_its_bucket_and_queue(project: Path, tmp_path: Path) -> None:
    new_source(project, spec(tmp_path, kind="s3-sqs", location="mm-logs")).apply(project)
    source = next(s for s in load_sources(project / "ingest" / "sources") if s.name == "matchmaking_events")
    assert (
        source.s3_sqs.bucket == "mm-logs" and source.s3_sqs.queue == "mm-logs-events" and source.trigger == "1 minute"
    )
    text = (project / "models/staging/matchmaking/_matchmaking__sources.yml").read_text()
    assert "version_order: [_file_modification_time]" in text


def test_new_fields_of_an_existing_source_are_proposed_as_a_diff(project: Path, tmp_path: Path) -> None:
    records = [{"event_id": "e", "session_id": "s", "fps": "fast", "resolution": "720p", "select": 3,
                "viewer_email": "v@example.com", "codec": "av1"}]  # fmt: skip
    sample = read_sample(write_sample(tmp_path / "more.ndjson", records))
    plan = schema_change(project, "stream_metrics", sample, "more.ndjson")
    assert any("fps: the sample has string, the source declares double" in n for n in plan.notes)
    diff = plan.diff()
    assert (
        "+  rtt_ms double, packet_loss_pct double, resolution string, `select` bigint, viewer_email string,"
        " codec string" in diff
    )
    assert "+        {{ protect_pii('viewer_email', 'streamer', 'stream_metrics') }}," in diff
    assert "+        codec," in diff and "+      - name: viewer_email_key" not in diff
    assert "+      - name: email_key" in diff  # its pseudonym, documented in the model
    before = (project / "ingest/sources/stream_metrics.yml").read_text()
    assert "viewer_email" not in before  # a proposal until applied
    plan.apply(project)
    [source] = load_sources(project / "ingest" / "sources", ["stream_metrics"])
    assert "viewer_email" in source.schema_ddl and source.pii == ("viewer_email",)
    models = yaml.safe_load((project / "models/staging/streamer/_streamer__models.yml").read_text())
    assert "codec" in {c["name"] for c in models["models"][0]["columns"]}
    assert schema_change(project, "stream_metrics", sample, "more.ndjson").changes == ()  # nothing new now


def test_the_command_writes_then_proposes(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    sample = write_sample(tmp_path / "sample.ndjson", RECORDS)
    args = ["add-source", "matchmaking_events", "--sample", str(sample), "--project-dir", str(project)]
    assert main([*args[:2], "--sample", str(sample), "--project-dir", str(project)]) == ExitCode.CONFIGURATION
    assert "--kind kafka or --kind s3-sqs is required" in capsys.readouterr().err
    assert main([*args, "--kind", "kafka", "--session-metrics"]) == 0
    out = capsys.readouterr().out
    assert "wrote ingest/sources/matchmaking_events.yml" in out and "changed dbt_project.yml" in out
    assert "PII candidate: contact (its values are e-mail addresses) -> hashed as email_key" in out
    assert main([*args, "--kind", "kafka"]) == 0  # exists now: a schema proposal, with nothing new
    assert "no field the source does not declare" in capsys.readouterr().out
    write_sample(sample, [*RECORDS, {"event_id": "m3", "session_id": "s3", "skill": 1500}])
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "+    skill: {type: integer}" in out and "--write applies it" in out
    assert "skill" not in (project / "ingest/sources/matchmaking_events.yml").read_text()
    assert main([*args, "--write"]) == 0
    assert "skill" in (project / "ingest/sources/matchmaking_events.yml").read_text()
    assert main([*args[:2], "--sample", str(tmp_path / "missing.ndjson")]) == ExitCode.INPUT


def test_pseudonyms_never_collide_and_a_numeric_player_id_is_pii(project: Path, tmp_path: Path) -> None:
    sample = infer([{"event_id": "e", "session_id": "s", "contact_email": "a@b.org", "email": "c@d.org",
                     "client_ip": "10.0.0.1", "ip": "10.0.0.2", "user_id": 42}])  # fmt: skip
    found = {c.field: c.pseudonym for c in pii_candidates(sample.fields)}
    assert found["contact_email"] == "email_key" and found["client_ip"] == "ip_key" and found["user_id"] == "user_key"
    assert found["email"] == "email_key_2" and found["ip"] == "ip_key_2"  # the names taken, their own
    assert len(set(found.values())) == len(found)
    with pytest.raises(SampleError, match="ingest's metadata columns"):
        infer([{"event_id": "e", "_ingested_at": "x"}])
    # An existing source: the new fields' pseudonyms avoid what its dbt source already declares.
    records = [{"event_id": "e", "session_id": "s", "contact_email": "x@y.org"}]
    plan = schema_change(project, "session_events", read_sample(write_sample(tmp_path / "s.ndjson", records)), "s")
    assert [c.pseudonym for c in plan.pii] == ["contact_email_key"]  # email_key is session_events' own
    records = [{"event_id": "e", "session_id": "s", "Email": "x@y.org"}]
    with pytest.raises(ScaffoldError, match="differ from declared ones only in case"):
        schema_change(project, "session_events", read_sample(write_sample(tmp_path / "t.ndjson", records)), "t")
