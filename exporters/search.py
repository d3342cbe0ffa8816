"""The search side: client, index mapping, and bulk writes with external versions.

Every write carries the Delta commit version of the change as an external version, so the engine
keeps a document only if its version is newer than the stored one: re-exports are no-ops (409) and an
older state can never overwrite a newer one. Deletes carry a version too and leave a tombstone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from pyspark.sql import types as T

from sessionlake.core.errors import SessionlakeError, TransientError
from sessionlake.core.settings import Settings
from sessionlake.exporters.cdf import Change
from sessionlake.exporters.config import ExportConfig, SearchConfig
from sessionlake.exporters.engines import engine_for

log = logging.getLogger(__name__)

# The binding gold.sessions contract (docs/contracts.md); other columns get a type from their Spark type.
CONTRACT_FIELDS: dict[str, str] = {
    **dict.fromkeys(
        ("session_id", "user_key", "game_id", "region", "client_platform", "end_reason", "status"), "keyword"
    ),
    **dict.fromkeys(("device_model", "tier"), "keyword"),
    **dict.fromkeys(
        ("started_at", "ended_at", "first_event_at", "last_event_at", "last_ingested_at", "updated_at"), "date"
    ),
    **dict.fromkeys(
        ("duration_seconds", "avg_fps", "min_fps", "avg_bitrate_kbps", "max_packet_loss_pct", "p95_rtt_ms"),
        "double",
    ),
    **dict.fromkeys(("metric_samples", "log_lines", "error_lines", "billed_minutes"), "long"),
    "crashed": "boolean",
}
# Fields the exporter adds to every document: when it sent it (freshness: gold updated_at -> index).
EXPORT_FIELDS: dict[str, str] = {"exported_at": "date"}
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
_TERMS_CHUNK = 10_000  # session ids per terms query


class SearchExportError(SessionlakeError):
    """The engine refused the export as a whole (auth, missing index, …): nothing is dead-lettered."""


class TransientSearchError(SearchExportError, TransientError):
    """The engine kept answering 429/5xx past the retries; the next run resumes from the cursor."""


def field_type(data_type: T.DataType) -> str | None:
    """The mapping type for a Spark column type (None: left unindexed, kept in _source)."""
    if isinstance(data_type, T.StringType):
        return "keyword"
    if isinstance(data_type, (T.TimestampType, T.TimestampNTZType, T.DateType)):
        return "date"
    if isinstance(data_type, (T.ByteType, T.ShortType, T.IntegerType, T.LongType)):
        return "long"
    if isinstance(data_type, (T.FloatType, T.DoubleType, T.DecimalType)):
        return "double"
    if isinstance(data_type, T.BooleanType):
        return "boolean"
    return None


def mapping_properties(schema: T.StructType) -> dict[str, dict[str, str]]:
    """Explicit field mappings: the contract's types first, then the table's own for extra columns."""
    properties = {name: {"type": kind} for name, kind in (CONTRACT_FIELDS | EXPORT_FIELDS).items()}
    for f in schema.fields:
        kind = field_type(f.dataType)
        if f.name not in properties and kind:
            properties[f.name] = {"type": kind}
    return properties


class Outcome(Enum):
    APPLIED = "applied"  # written, or deleted
    ALREADY_APPLIED = "already_applied"  # 409: the stored version is this one or newer; 404 on delete
    RETRY = "retry"
    REJECTED = "rejected"  # the document itself is bad: dead-letter it
    FATAL = "fatal"


def classify(op_type: str, status: int) -> Outcome:
    if 200 <= status < 300:
        return Outcome.APPLIED
    if status == 409 or (status == 404 and op_type == "delete"):
        return Outcome.ALREADY_APPLIED
    if status in TRANSIENT_STATUSES:
        return Outcome.RETRY
    if status == 400:
        return Outcome.REJECTED
    return Outcome.FATAL


def to_action(change: Change, index: str, exported_at: str | None = None) -> dict[str, Any]:
    """The bulk action of a change; a document gets `exported_at` (ISO-8601 UTC) when given."""
    action: dict[str, Any] = {
        "_op_type": "delete" if change.is_delete else "index",
        "_index": index,
        "_id": change.session_id,
        "version": change.version,
        "version_type": "external",
    }
    if not change.is_delete:
        action["_source"] = change.document if exported_at is None else {**change.document, "exported_at": exported_at}
    return action


@dataclass(frozen=True)
class Rejection:
    change: Change
    status: int
    error_type: str
    reason: str


@dataclass
class BulkTally:
    upserted: int = 0
    deleted: int = 0
    already_applied: int = 0


def _error_text(error: Any) -> tuple[str, str]:
    if isinstance(error, dict):
        reason = error.get("reason") or str(error)
        caused = error.get("caused_by")
        if isinstance(caused, dict) and caused.get("reason"):
            reason = f"{reason}: {caused['reason']}"
        return str(error.get("type", "unknown")), str(reason)
    return "unknown", str(error)


def connect(config: SearchConfig) -> Any:
    """A client for the configured engine; credentials come only from the config (the environment)."""
    return engine_for(config.engine).connect(config)


def search_client(settings: Settings) -> Any:
    """A client for the configured engine (the SESSIONLAKE_SEARCH_* settings), for callers outside the exporter."""
    return connect(SearchConfig.from_settings(settings))


class SearchIndex:
    """The exporter's view of one index."""

    def __init__(self, config: ExportConfig, client: Any | None = None) -> None:
        self.config = config
        self.engine = engine_for(config.search.engine)
        self.name = config.index
        self.client = client or self.engine.connect(config.search)
        self._helpers = self.engine.helpers

    def exists(self) -> bool:
        return bool(self.client.indices.exists(index=self.name))

    def ensure(self, schema: T.StructType) -> bool:
        """Create the index with its explicit mapping if missing (True), else add mappings for new
        columns (False). Unknown fields are kept in _source but not indexed (`dynamic: false`)."""
        properties = mapping_properties(schema)
        if not self.exists():
            body = {
                "settings": {"number_of_replicas": self.config.search.replicas},
                "mappings": {"dynamic": False, "properties": properties},
            }
            try:
                self._call("create", body)
                log.info("created index %s with %d mapped fields", self.name, len(properties))
                return True
            except Exception as exc:  # another exporter created it first
                if "resource_already_exists_exception" not in str(exc):
                    raise
        current = self.client.indices.get_mapping(index=self.name)[self.name]["mappings"].get("properties", {})
        missing = {name: spec for name, spec in properties.items() if name not in current}
        if missing:
            self._call("put_mapping", {"properties": missing})
            log.info("index %s: mapped new fields %s", self.name, sorted(missing))
        return False

    def _call(self, api: str, body: dict[str, Any]) -> None:
        self.engine.indices_call(self.client, api, self.name, body)

    def delete(self) -> None:
        self.client.indices.delete(index=self.name, ignore_unavailable=True)

    def refresh(self) -> None:
        self.client.indices.refresh(index=self.name)

    def apply(self, changes: Iterable[Change], tally: BulkTally) -> Iterator[Rejection]:
        """Write the changes, retrying 429/5xx with backoff; yield the documents rejected for good.

        Raises TransientSearchError when retries run out and SearchExportError on any other refusal, so
        the caller leaves its cursor where it was."""
        pending = {c.session_id: c for c in changes}
        backoff = self.config.initial_backoff
        for attempt in range(self.config.item_retries + 1):
            retry: dict[str, Change] = {}
            exported_at = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
            for _ok, item in self._helpers.streaming_bulk(
                self.client,
                (to_action(c, self.name, exported_at) for c in pending.values()),
                chunk_size=self.config.bulk_chunk_size,
                raise_on_error=False,
                raise_on_exception=True,
                max_retries=0,
            ):
                op_type, result = next(iter(item.items()))
                change = pending[result["_id"]]
                status = int(result.get("status", 500))
                outcome = classify(op_type, status)
                if outcome is Outcome.APPLIED:
                    if change.is_delete:
                        tally.deleted += 1
                    else:
                        tally.upserted += 1
                elif outcome is Outcome.ALREADY_APPLIED:
                    tally.already_applied += 1
                elif outcome is Outcome.RETRY:
                    retry[change.session_id] = change
                else:
                    error_type, reason = _error_text(result.get("error"))
                    if outcome is Outcome.FATAL:
                        raise SearchExportError(
                            f"{self.engine.name} refused {op_type} in index {self.name} "
                            f"({status} {error_type}): {reason}"
                        )
                    yield Rejection(change, status, error_type, reason)
            if not retry:
                return
            if attempt < self.config.item_retries:
                log.warning(
                    "%d document(s) got 429/5xx; retry %d/%d in %.1fs",
                    len(retry),
                    attempt + 1,
                    self.config.item_retries,
                    backoff,
                )
                time.sleep(backoff)
                backoff = min(backoff * 2, self.config.max_backoff)
            pending = retry
        raise TransientSearchError(
            f"{len(pending)} document(s) still refused with 429/5xx after {self.config.item_retries} retries"
        )

    def ids_older_than(self, version: int) -> Iterator[str]:
        """Ids of documents whose external version is below `version` (refresh first)."""
        for hit in self._helpers.scan(
            self.client, index=self.name, query={"query": {"match_all": {}}, "_source": False, "version": True}
        ):
            if int(hit["_version"]) < version:
                yield hit["_id"]

    def delete_player(self, user_key: str, session_ids: Iterable[str]) -> int:
        """Delete every document of a player, by user_key and by session id, until none is left; returns how
        many were deleted. A missing index holds nothing to delete. 429/5xx answers are retried with backoff
        and the index is searched again after each round; any other refusal raises SearchExportError, and
        documents still there after the retries raise TransientSearchError, so the caller never reports an
        erasure whose documents are still searchable. Ids are found with a scroll and deleted in bulk (no
        `_delete_by_query`: it lives in the optional reindex module, which minimal distributions lack)."""
        if not self.exists():
            return 0
        sessions = sorted(set(session_ids))
        deleted = 0
        backoff = self.config.initial_backoff
        for attempt in range(self.config.item_retries + 1):
            self.refresh()
            ids = self._player_ids(user_key, sessions)
            if not ids:
                return deleted
            if attempt:
                log.warning("%d document(s) of the player still in %s; retry %d/%d", len(ids), self.name, attempt,
                            self.config.item_retries)  # fmt: skip
                time.sleep(backoff)
                backoff = min(backoff * 2, self.config.max_backoff)
            actions = ({"_op_type": "delete", "_index": self.name, "_id": doc_id} for doc_id in sorted(ids))
            for _ok, item in self._helpers.streaming_bulk(
                self.client, actions, raise_on_error=False, raise_on_exception=True, max_retries=0
            ):
                result = item["delete"]
                status = int(result.get("status", 500))
                outcome = classify("delete", status)
                if outcome is Outcome.APPLIED:
                    deleted += 1
                elif outcome in (Outcome.REJECTED, Outcome.FATAL):
                    error_type, reason = _error_text(result.get("error"))
                    raise SearchExportError(
                        f"{self.engine.name} refused to delete a document of index {self.name} "
                        f"({status} {error_type}): {reason}"
                    )
        self.refresh()
        left = self._player_ids(user_key, sessions)
        if left:
            raise TransientSearchError(
                f"{len(left)} document(s) of the player are still in {self.name} after "
                f"{self.config.item_retries} retries: run forget again"
            )
        return deleted

    def _player_ids(self, user_key: str, sessions: list[str]) -> set[str]:
        should: list[dict[str, Any]] = [{"term": {"user_key": user_key}}]
        should += [
            {"terms": {"session_id": sessions[i : i + _TERMS_CHUNK]}} for i in range(0, len(sessions), _TERMS_CHUNK)
        ]
        query = {"query": {"bool": {"should": should, "minimum_should_match": 1}}, "_source": False}
        return {hit["_id"] for hit in self._helpers.scan(self.client, index=self.name, query=query)}
