"""Typed settings from one place, documented in docs/configuration.md; errors as one line and an exit code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sessionlake.app.cli import main
from sessionlake.core.errors import ConfigurationError, ExitCode, InputError, SessionlakeError, TransientError
from sessionlake.core.settings import REPO_ROOT, SECRETS, VARIABLES, Settings, reference_markdown


def test_the_configuration_page_is_generated_from_the_code() -> None:
    page = (REPO_ROOT / "docs" / "configuration.md").read_text()
    assert page == reference_markdown(), "regenerate: python -m sessionlake.core.settings > docs/configuration.md"
    for code in ExitCode:
        assert f"| {int(code)} |" in page


def test_every_variable_dbt_reads_is_declared() -> None:
    texts = [(REPO_ROOT / "dbt_project.yml").read_text(), (REPO_ROOT / "profiles" / "profiles.yml").read_text()]
    texts += [p.read_text() for p in (REPO_ROOT / "models").rglob("*.sql")]
    texts += [p.read_text() for p in (REPO_ROOT / "macros").rglob("*.sql")]
    named = {m for text in texts for m in re.findall(r"env_var\(\s*['\"]([A-Z0-9_]+)['\"]", text)}
    assert named, "the dbt profiles read their connection settings with env_var()"
    assert named - set(VARIABLES) == set()


def test_defaults_are_the_local_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.home == REPO_ROOT / ".sessionlake"
    assert (settings.spark_master, settings.shuffle_partitions, settings.dbt_target) == ("local[2]", 4, "local")
    assert settings.kafka_bootstrap == "127.0.0.1:19092" and settings.aws_endpoint == "http://127.0.0.1:15000"
    assert (settings.search.engine, settings.export.index, settings.privacy.bronze_retention_days) == (
        "elasticsearch",
        "sessions",
        7,
    )
    assert settings.is_local


def test_values_are_typed_and_empty_counts_as_unset(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SESSIONLAKE_HOME", str(tmp_path))
    monkeypatch.setenv("SESSIONLAKE_SHUFFLE_PARTITIONS", "32")
    monkeypatch.setenv("SESSIONLAKE_SPARK_UI", "TRUE")
    monkeypatch.setenv("SESSIONLAKE_KAFKA_BOOTSTRAP", "")
    monkeypatch.setenv("SESSIONLAKE_REAL_AWS", "yes")
    settings = Settings()
    assert settings.home == tmp_path and settings.shuffle_partitions == 32 and settings.spark.ui is True
    assert settings.kafka_bootstrap_override is None
    assert settings.aws_endpoint is None and not settings.is_local  # AWS's own endpoints


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SESSIONLAKE_SHUFFLE_PARTITIONS", "zero"),
        ("SESSIONLAKE_SHUFFLE_PARTITIONS", "0"),
        ("SESSIONLAKE_KAFKA_PORT", "19092; rm -rf /"),
        ("SESSIONLAKE_SPARK_UI", "maybe"),
        ("SESSIONLAKE_SEARCH_REPLICAS", "-1"),
        ("SESSIONLAKE_BRONZE_RETENTION_DAYS", "7.5"),
    ],
)
def test_a_malformed_value_names_its_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=re.escape(name)):
        Settings()


def test_secrets_are_declared_and_kept_out_of_reprs(monkeypatch: pytest.MonkeyPatch) -> None:
    assert {"SESSIONLAKE_PII_SECRET", "SESSIONLAKE_PII_MASTER_KEY", "SESSIONLAKE_SEARCH_PASSWORD"} <= SECRETS
    monkeypatch.setenv("SESSIONLAKE_SEARCH_USERNAME", "exporter")
    monkeypatch.setenv("SESSIONLAKE_SEARCH_PASSWORD", "pa'ss\\word")
    monkeypatch.setenv("SESSIONLAKE_SEARCH_API_KEY", "key-abc")
    text = repr(Settings())
    assert "pa'ss" not in text and "key-abc" not in text and "exporter" in text


def test_the_kinds_give_their_exit_codes() -> None:
    assert ConfigurationError("x").exit_code == ExitCode.CONFIGURATION == 2
    assert InputError("x").exit_code == ExitCode.INPUT
    assert TransientError("x").exit_code == ExitCode.TRANSIENT
    assert SessionlakeError("x").exit_code == ExitCode.FAILED
    from sessionlake.core.lock import BuildLocked
    from sessionlake.exporters.search import SearchExportError, TransientSearchError
    from sessionlake.ingest.config import SourceConfigError

    assert BuildLocked("x").exit_code == ExitCode.TRANSIENT
    assert TransientSearchError("x").exit_code == ExitCode.TRANSIENT
    assert SearchExportError("x").exit_code == ExitCode.FAILED
    assert SourceConfigError(["f.yml: kind: bad"]).exit_code == ExitCode.CONFIGURATION


def test_the_cli_prints_one_line_and_the_exit_code(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SESSIONLAKE_HOME", str(tmp_path))
    monkeypatch.setenv("SESSIONLAKE_EXPORT_MAX_VERSIONS", "many")
    assert main(["status"]) == ExitCode.CONFIGURATION
    err = capsys.readouterr().err
    assert err == "sessionlake status: error: SESSIONLAKE_EXPORT_MAX_VERSIONS='many' is not a whole number\n"
    monkeypatch.delenv("SESSIONLAKE_EXPORT_MAX_VERSIONS")
    assert main(["build", "--restore", "sessions"]) == ExitCode.CONFIGURATION
    assert "--restore needs --to-version" in capsys.readouterr().err
    config_dir = tmp_path / "sources"
    config_dir.mkdir()
    (config_dir / "svc.yml").write_text("kind: carrier-pigeon\n")
    assert main(["ingest", "--once", "--config-dir", str(config_dir)]) == ExitCode.CONFIGURATION
    err = capsys.readouterr().err
    assert "svc.yml: kind: expected one of kafka, s3-sqs, got 'carrier-pigeon'" in err
    assert "Traceback" not in err
