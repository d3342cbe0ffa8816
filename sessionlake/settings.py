"""Runtime settings, all from environment variables with local defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _port(name: str, default: int) -> int:
    return int(_env(name, str(default)))


@dataclass(frozen=True)
class Ports:
    kafka: int = field(default_factory=lambda: _port("SESSIONLAKE_KAFKA_PORT", 19092))
    kafka_controller: int = field(default_factory=lambda: _port("SESSIONLAKE_KAFKA_CONTROLLER_PORT", 19093))
    moto: int = field(default_factory=lambda: _port("SESSIONLAKE_MOTO_PORT", 15000))
    search: int = field(default_factory=lambda: _port("SESSIONLAKE_SEARCH_PORT", 19200))
    derby: int = field(default_factory=lambda: _port("SESSIONLAKE_DERBY_PORT", 11527))


@dataclass(frozen=True)
class Settings:
    """Where things live and how to reach them; production overrides these through the environment."""

    home: Path = field(default_factory=lambda: Path(_env("SESSIONLAKE_HOME", str(REPO_ROOT / ".sessionlake"))))
    jars_dir: Path = field(default_factory=lambda: Path(_env("SESSIONLAKE_JARS", str(REPO_ROOT / ".cache" / "jars"))))
    ports: Ports = field(default_factory=Ports)
    spark_master: str = field(default_factory=lambda: _env("SESSIONLAKE_SPARK_MASTER", "local[2]"))
    shuffle_partitions: int = field(default_factory=lambda: _port("SESSIONLAKE_SHUFFLE_PARTITIONS", 4))
    aws_region: str = field(default_factory=lambda: _env("AWS_DEFAULT_REGION", "us-east-1"))
    # Endpoints: None means "the local stack on loopback".
    kafka_bootstrap_override: str | None = field(default_factory=lambda: os.environ.get("SESSIONLAKE_KAFKA_BOOTSTRAP"))
    aws_endpoint_override: str | None = field(default_factory=lambda: os.environ.get("SESSIONLAKE_AWS_ENDPOINT"))
    search_url_override: str | None = field(default_factory=lambda: os.environ.get("SESSIONLAKE_SEARCH_URL"))
    metastore_url_override: str | None = field(default_factory=lambda: os.environ.get("SESSIONLAKE_METASTORE_URL"))

    @property
    def lake(self) -> Path:
        return self.home / "lake"

    @property
    def warehouse(self) -> Path:
        return self.lake / "warehouse"

    @property
    def checkpoints(self) -> Path:
        return self.home / "checkpoints"

    @property
    def stack_dir(self) -> Path:
        return self.home / "stack"

    @property
    def kafka_bootstrap(self) -> str:
        return self.kafka_bootstrap_override or f"127.0.0.1:{self.ports.kafka}"

    @property
    def aws_endpoint(self) -> str:
        return self.aws_endpoint_override or f"http://127.0.0.1:{self.ports.moto}"

    @property
    def search_url(self) -> str:
        return self.search_url_override or f"http://127.0.0.1:{self.ports.search}"

    @property
    def metastore_url(self) -> str:
        return self.metastore_url_override or (f"jdbc:derby://127.0.0.1:{self.ports.derby}/metastore_db;create=true")

    def bronze_path(self, table: str) -> Path:
        return self.lake / "bronze" / table


def load() -> Settings:
    return Settings()
