"""`sessionlake check` on a copy of the project with the mistakes a pull request brings: a lint error, a raw
PII column, a source's PII left undeclared, a Python error, a broken YAML. Each is reported with its file
and line, and the command fails. (`make lint` runs the check on the project itself.)"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from sessionlake.app.commands.check import changed_files
from sessionlake.check import Scope, default_steps, run_steps
from sessionlake.core.settings import REPO_ROOT

STAGING = "models/staging/session_manager/stg_session_manager__session_events.sql"
STREAM = "models/staging/streamer/stg_streamer__stream_metrics.sql"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    for name in ("dbt_project.yml", ".sqlfluff", "pyproject.toml"):
        shutil.copy(REPO_ROOT / name, root)
    for folder in ("models", "macros", "seeds", "profiles", "ingest/sources"):
        shutil.copytree(REPO_ROOT / folder, root / folder)
    return root


def edit(root: Path, path: str, old: str, new: str) -> int:
    """Replace `old` in the file; the line number of the edit."""
    text = (root / path).read_text()
    assert old in text, (path, old)
    (root / path).write_text(text.replace(old, new, 1))
    return text[: text.index(old)].count("\n") + 1


def check(root: Path, tmp_path: Path, changed: set[str] | None) -> list[str]:
    scope = Scope(root=root, work_dir=tmp_path / "work", changed=None if changed is None else frozenset(changed))
    return [str(p) for r in run_steps(default_steps(), scope, lambda _: None) for p in r.problems]


def test_a_pull_requests_mistakes_are_named_by_file_and_line(project: Path, tmp_path: Path) -> None:
    raw = edit(project, STAGING, "{{ protect_pii('email', 'session_manager', 'session_events') }},", "email,")
    billing = "models/staging/billing/stg_billing__billing_logs.sql"
    qualified = edit(project, billing, "{{ protect_pii('user_id', 'billing', 'billing_logs') }},",
                     "new_events.`USER_ID` as user_key,  -- 'not protect_pii'")  # fmt: skip
    upper = edit(project, STREAM, "        fps,\n", "        FPS,\n")
    client = "ingest/sources/client_logs.yml"
    edit(project, client, "pii: [ip_address]", "pii: [ip_address, device_model]")
    (project / "helper.py").write_text("import os\n\n\ndef f() -> int:\n    return 1\n")

    problems = check(project, tmp_path, {STAGING, STREAM, client, "helper.py", billing})

    assert f"{STAGING}:{raw}: raw PII column `email` outside protect_pii: use" in "\n".join(problems)
    assert any(p.startswith(f"{STREAM}:{upper}: CP02") for p in problems), problems
    assert any(p.startswith("helper.py:1: F401") for p in problems), problems
    assert any(
        p.startswith("models/staging/client/_client__sources.yml:")
        and "client.client_logs.device_model: PII in client_logs.yml" in p
        for p in problems
    ), problems
    assert f"{billing}:{qualified}: raw PII column `user_id` outside protect_pii" in "\n".join(problems)
    # (sqlfluff also has its say on the billing edit's style; every other file has exactly the one problem)
    assert len([p for p in problems if not p.startswith(billing) or "raw PII" in p]) == 5, problems


def test_a_broken_yaml_and_a_broken_source_are_named(project: Path, tmp_path: Path) -> None:
    edit(project, "models/staging/billing/_billing__models.yml", "  - name: stg_billing__billing_logs", "  - name: [")
    edit(project, "ingest/sources/stream_metrics.yml", "trigger: 30 seconds", "trigger: soon")
    problems = check(project, tmp_path, {"ingest/sources/stream_metrics.yml"})
    assert "ingest/sources/stream_metrics.yml: trigger: expected an interval" in "\n".join(problems), problems
    assert any(p.startswith("models/staging/billing/_billing__models.yml") for p in problems), problems


def test_changed_files_are_those_since_the_merge_base(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("config", "user.email", "t@example.org")
    git("config", "user.name", "t")
    (tmp_path / "a.sql").write_text("select 1\n")
    (tmp_path / "b.sql").write_text("select 2\n")
    git("add", ".")
    git("commit", "-qm", "base")
    git("checkout", "-qb", "feature")
    (tmp_path / "a.sql").write_text("select 10\n")
    git("commit", "-qam", "change a")
    (tmp_path / "c dir").mkdir()
    (tmp_path / "c dir" / "new.yml").write_text("x: 1\n")  # untracked, a space in its path
    assert changed_files(tmp_path, "main") == {"a.sql", "c dir/new.yml"}
    assert changed_files(tmp_path, "") == {"a.sql", "c dir/new.yml"}  # main found by itself


def test_a_broken_contract_fails_unless_the_model_gets_a_new_version(project: Path, tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=project, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("-c", "user.email=t@example.org", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "root")
    git("add", "models")
    git("-c", "user.email=t@example.org", "-c", "user.name=t", "commit", "-qm", "main")
    git("checkout", "-qb", "feature")
    marts = "models/marts/_marts__models.yml"
    tier = "      - name: tier\n        description: Tier of the billing record with the greatest event_id.\n"
    edit(project, marts, tier + "        data_type: string\n", "")
    line = edit(project, marts, "      - name: billed_minutes", "      - name: billed_minutes")
    edit(project, marts, "over distinct billing records; null without billing.\n        data_type: bigint",
         "over distinct billing records; null without billing.\n        data_type: double")  # fmt: skip
    step = next(s for s in default_steps() if s.name.startswith("contracts"))
    problems = [str(p) for p in step.run(Scope(project, tmp_path / "work"))]
    assert problems == [
        f"{marts}:{line}: sessions.billed_minutes: contract type bigint changed to double",
        f"{marts}:4: sessions: contract column `tier` removed",
    ]
    edit(project, marts, "  - name: sessions\n", "  - name: sessions\n    latest_version: 2\n")
    assert step.run(Scope(project, tmp_path / "work")) == []  # a new version: readers of v1 keep it


def test_a_scaffolded_service_passes_the_check(project: Path, tmp_path: Path) -> None:
    """What `add-source` writes is clean as written: its YAML loads, dbt parses it, sqlfluff finds nothing."""
    from sessionlake.scaffold import SourceSpec, new_source, read_sample
    from sessionlake.scaffold.pii import pii_candidates

    sample = tmp_path / "sample.ndjson"
    sample.write_text(
        '{"event_id": "m1", "session_id": "s1", "event_time": "2026-12-01T10:00:00Z", "player_id": "p1",'
        ' "queue_seconds": 12.5, "mode": "ranked", "order": 3, "peer_ip": "10.0.0.7"}\n'
    )
    fields = read_sample(sample)
    spec = SourceSpec(name="matchmaking_events", service="matchmaking", kind="kafka", sample=fields,
                      sample_name="sample.ndjson", pii=tuple(pii_candidates(fields.fields)),
                      location="matchmaking-events", session_metrics=True)  # fmt: skip
    written = new_source(project, spec).apply(project)
    assert check(project, tmp_path, set(written)) == []
