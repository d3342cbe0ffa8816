"""The interface of a reader kind: how a source of that `kind:` is read, and what its progress reports."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from sessionlake.core.errors import SessionlakeError
from sessionlake.core.settings import Settings
from sessionlake.ingest.config import SourceConfig

# The per-batch source figures of ops.ingest_metrics; a reader fills those it has, the rest stay null.
PROGRESS_COLUMNS = (
    "kafka_lag",
    "sqs_backlog",
    "s3_files",
    "s3_bytes",
    "discovery_latency_p50_ms",
    "discovery_latency_max_ms",
)


class PurgeError(SessionlakeError):
    """A committed raw copy could not be deleted from a source's own storage (its topic, its bucket)."""


class Reader(ABC):
    """One reader kind. Its stream is the common envelope: `_value` (the record's text), `_raw_bytes`,
    `_coordinates` (JSON of where the record came from) and the kind's `metadata` columns, which every
    bronze table of such a source keeps (docs/contracts.md)."""

    kind: ClassVar[str]
    metadata: ClassVar[StructType]

    @abstractmethod
    def read(self, spark: SparkSession, settings: Settings, source: SourceConfig) -> DataFrame:
        """The source's stream as the common envelope."""

    @abstractmethod
    def progress(self, sources: list[dict[str, Any]]) -> dict[str, int | float | None]:
        """PROGRESS_COLUMNS from a batch's progress (`StreamingQueryProgress.sources`, as JSON)."""

    def file_ledger(self, spark: SparkSession, checkpoint: str) -> DataFrame | None:
        """What a source of this kind read and skipped, file by file, from its checkpoint `checkpoint`;
        None for a kind that reads no files."""
        return None

    def register_views(self, spark: SparkSession, source: str, checkpoint: str) -> None:
        """Register the kind's views of a source in the metastore when ingest prepares it (none by default)."""
        return None

    @abstractmethod
    def raw_locations(self, source: SourceConfig) -> list[str]:
        """Where the source's records sit before ingest reads them (its topics, its landing bucket)."""

    @abstractmethod
    def purge_committed(
        self, spark: SparkSession, settings: Settings, source: SourceConfig, sources: list[SourceConfig]
    ) -> str | None:
        """Delete from the source's own storage what ingest has committed to bronze (`forget`, docs/pii.md,
        "Raw copies outside the lake"), and no more than what every other source of `sources` reading the same
        storage has committed too: what was deleted, or None when nothing was committed yet."""

    def restart_safely(self, error: str) -> bool:
        """True when the query failed with `error` after its batch had committed, so starting it again
        is safe (a known engine bug); the runner restarts it a few times."""
        return False


def empty_progress() -> dict[str, int | float | None]:
    return dict.fromkeys(PROGRESS_COLUMNS)
