"""Exporter configuration, from environment variables with local defaults.

Credentials are read only from the environment and are kept out of every repr and log line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from sessionlake.domain import SEARCH_INDEX
from sessionlake.settings import Settings

ENGINES = ("elasticsearch", "opensearch")


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the environment variable."""


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value else None


def _int(name: str, default: int, minimum: int) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise ConfigError(f"{name}={raw!r} must be at least {minimum}")
    return value


@dataclass(frozen=True)
class SearchConfig:
    """How to reach the search engine."""

    url: str
    engine: str = "elasticsearch"
    api_key: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_certs: str | None = None
    verify_certs: bool = True
    request_timeout: float = 30.0
    max_retries: int = 5  # per HTTP request: connection errors, timeouts, 429/502/503/504
    replicas: int = 0

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ConfigError(f"SESSIONLAKE_SEARCH_ENGINE={self.engine!r} is not one of {list(ENGINES)}")
        if self.api_key and self.engine == "opensearch":
            raise ConfigError(
                "SESSIONLAKE_SEARCH_API_KEY is an Elasticsearch feature; "
                "for OpenSearch set SESSIONLAKE_SEARCH_USERNAME and SESSIONLAKE_SEARCH_PASSWORD"
            )
        if bool(self.username) != bool(self.password):
            raise ConfigError("set both SESSIONLAKE_SEARCH_USERNAME and SESSIONLAKE_SEARCH_PASSWORD, or neither")

    @classmethod
    def from_env(cls, settings: Settings) -> SearchConfig:
        return cls(
            url=settings.search_url,
            engine=_env("SESSIONLAKE_SEARCH_ENGINE") or "elasticsearch",
            api_key=_env("SESSIONLAKE_SEARCH_API_KEY"),
            username=_env("SESSIONLAKE_SEARCH_USERNAME"),
            password=_env("SESSIONLAKE_SEARCH_PASSWORD"),
            ca_certs=_env("SESSIONLAKE_SEARCH_CA_CERTS"),
            verify_certs=(_env("SESSIONLAKE_SEARCH_VERIFY_CERTS") or "true").lower() != "false",
            replicas=_int("SESSIONLAKE_SEARCH_REPLICAS", 0, minimum=0),
        )


@dataclass(frozen=True)
class ExportConfig:
    """What to export where, and how hard to try."""

    search: SearchConfig
    cursor_dir: Path
    table: str = "gold.sessions"
    index: str = SEARCH_INDEX
    dead_letter_table: str = "gold.export_dead_letters"
    max_versions_per_batch: int = 100  # the cursor advances at least this often
    bulk_chunk_size: int = 500
    item_retries: int = 8  # 429/5xx answers for single documents
    initial_backoff: float = 1.0
    max_backoff: float = 60.0

    @classmethod
    def from_env(cls, settings: Settings) -> ExportConfig:
        return cls(
            search=SearchConfig.from_env(settings),
            cursor_dir=settings.checkpoints / "export",
            table=_env("SESSIONLAKE_EXPORT_TABLE") or "gold.sessions",
            index=_env("SESSIONLAKE_EXPORT_INDEX") or SEARCH_INDEX,
            dead_letter_table=_env("SESSIONLAKE_EXPORT_DEAD_LETTER_TABLE") or "gold.export_dead_letters",
            max_versions_per_batch=_int("SESSIONLAKE_EXPORT_MAX_VERSIONS", 100, minimum=1),
        )
