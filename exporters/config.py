"""Exporter configuration, built from the typed settings (sessionlake.core.settings).

Credentials come only from the environment, through the settings, and are kept out of every repr and log line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sessionlake.core import storage
from sessionlake.core.errors import ConfigurationError
from sessionlake.core.settings import Settings
from sessionlake.exporters.engines import engine_for


@dataclass(frozen=True)
class SearchConfig:
    """How to reach the search engine; `engine` names one of sessionlake.exporters.engines.ENGINES."""

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
    policy: str | None = None  # the lifecycle policy new indices get (sessionlake.exporters.lifecycle)

    def __post_init__(self) -> None:
        engine_for(self.engine).check(self)
        if bool(self.username) != bool(self.password):
            raise ConfigurationError("set both SESSIONLAKE_SEARCH_USERNAME and SESSIONLAKE_SEARCH_PASSWORD, or neither")

    @classmethod
    def from_settings(cls, settings: Settings) -> SearchConfig:
        search = settings.search
        return cls(
            url=settings.search_url,
            engine=search.engine,
            api_key=search.api_key,
            username=search.username,
            password=search.password,
            ca_certs=search.ca_certs,
            verify_certs=search.verify_certs,
            replicas=search.replicas,
            policy=search.policy,
        )


@dataclass(frozen=True)
class ExportConfig:
    """What to export where, and how hard to try."""

    search: SearchConfig
    cursor_dir: str  # URI of the cursors' folder
    table: str = "gold.sessions"
    index: str = "sessions"
    dead_letter_table: str = "gold.export_dead_letters"
    max_versions_per_batch: int = 100  # the cursor advances at least this often
    bulk_chunk_size: int = 500  # documents per bulk request at most
    bulk_bytes: int = 10 * 1024 * 1024  # bytes per bulk request at most
    bulk_threads: int = 2  # bulk requests in flight at once
    item_retries: int = 8  # 429/5xx answers for single documents
    initial_backoff: float = 1.0
    max_backoff: float = 60.0
    build_lock: Path | None = None  # held while dead letters are appended (sessionlake.core.lock)
    # The erasure deny-lists (docs/pii.md): a change of a forgotten session or player is exported as a delete,
    # so an exporter behind a `forget` never writes back a document the erasure removed.
    forgotten_sessions: str = "pii.forgotten_sessions"
    forgotten_players: str = "pii.forgotten_players"
    lock_wait_seconds: float = 900.0  # how long an append of dead letters waits for a build or a forget

    @classmethod
    def from_settings(cls, settings: Settings) -> ExportConfig:
        export = settings.export
        return cls(
            search=SearchConfig.from_settings(settings),
            cursor_dir=storage.join(settings.checkpoints, "export"),
            table=export.table,
            index=export.index,
            dead_letter_table=export.dead_letter_table,
            max_versions_per_batch=export.max_versions_per_batch,
            bulk_chunk_size=export.bulk_docs,
            bulk_bytes=export.bulk_bytes,
            bulk_threads=export.bulk_threads,
            build_lock=settings.build_lock,
        )
