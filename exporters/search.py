"""The search side: client, index mapping, and bulk writes with external versions.

Every write carries the Delta commit version of the change as an external version, so the engine
keeps a document only if its version is newer than the stored one: re-exports are no-ops (409) and an
older state can never overwrite a newer one. Deletes carry a version too and leave a tombstone.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from pyspark.sql import types as T

from sessionlake.core.errors import ConfigurationError, SessionlakeError, TransientError
from sessionlake.core.settings import Settings
from sessionlake.exporters.cdf import Change, RawDocument
from sessionlake.exporters.config import ExportConfig, SearchConfig
from sessionlake.exporters.engines import engine_for
from sessionlake.exporters.layout import IndexLayout, Layout

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
MIN_CHUNK_SIZE = 10  # back-pressure never shrinks a bulk below this many documents
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


def classify(op_type: str, status: int, error_type: str = "") -> Outcome:
    if 200 <= status < 300:
        return Outcome.APPLIED
    if status == 409 or (status == 404 and op_type == "delete"):
        return Outcome.ALREADY_APPLIED
    if status in TRANSIENT_STATUSES:
        return Outcome.RETRY
    if status == 400 or (status == 403 and error_type == "cluster_block_exception"):
        return Outcome.REJECTED  # a bad document, or one in a read-only (cold) index: dead-lettered with the reason
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
        document = change.document
        if isinstance(document, RawDocument):  # sent as Spark wrote it: no parse, no re-serialisation
            action["_source"] = (
                document.text if exported_at is None else document.with_field("exported_at", json.dumps(exported_at))
            )
        else:
            action["_source"] = dict(document or {}) | ({} if exported_at is None else {"exported_at": exported_at})
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
    """The exporter's view of the documents behind one alias (sessionlake.exporters.layout)."""

    def __init__(self, config: ExportConfig, client: Any | None = None) -> None:
        self.config = config
        self.engine = engine_for(config.search.engine)
        self.name = config.index
        self.client = client or self.engine.connect(config.search)
        self.layout = IndexLayout(self.client, self.engine, self.name, config.search.replicas, config.search.policy)
        self._helpers = self.engine.helpers
        self._bulk_client = self.engine.connect(config.search, retry_429=False) if client is None else client
        # Back-pressure: a round with a 429 halves the bulks and sends them one at a time; clean rounds grow
        # them back, and the concurrent bulks return with the full size.
        self.chunk_size = config.bulk_chunk_size
        self.threads = config.bulk_threads
        self._lifecycle_checked = False

    def exists(self) -> bool:
        return self.layout.resolve().layout is not Layout.MISSING

    def check_lifecycle(self) -> None:
        """With a policy configured, refuse an engine that cannot run it (before any index names it)."""
        if self.config.search.policy and not self._lifecycle_checked:
            if not self.engine.has_lifecycle(self.client):
                raise ConfigurationError(
                    f"SESSIONLAKE_SEARCH_POLICY={self.config.search.policy} needs {self.engine.name}'s "
                    f"{self.engine.lifecycle_name} ({self.engine.lifecycle_feature}), which this cluster does not "
                    "have: install it, or unset the variable and roll over with `sessionlake index rollover`"
                )
            self._lifecycle_checked = True

    def ensure(self, schema: T.StructType) -> bool:
        """Make sure the template, the alias and its first index exist (True when the index was created now) and
        map the table's new columns on every index behind the alias. Unknown fields are kept in _source but not
        indexed (`dynamic: false`)."""
        properties = mapping_properties(schema)
        self.check_lifecycle()
        layout = self.layout.resolve().layout
        if layout is not Layout.PLAIN:  # a plain index (from before the alias, or a rebuild's) has no template
            self.layout.put_template(properties)
        if layout is Layout.MISSING:
            try:
                self.layout.create()
                return True
            except Exception as exc:  # another exporter created it first
                if "resource_already_exists_exception" not in str(exc):
                    raise
        for index, mapping in dict(self.client.indices.get_mapping(index=self.name)).items():
            current = mapping["mappings"].get("properties", {})
            missing = {name: spec for name, spec in properties.items() if name not in current}
            if missing:
                self.engine.indices_call(self.client, "put_mapping", index, {"properties": missing})
                log.info("index %s: mapped new fields %s", index, sorted(missing))
        return False

    def _bulk(self, actions: Iterable[dict[str, Any]]) -> Iterator[tuple[bool, dict[str, Any]]]:
        """The bulk helper's (ok, item) answers, `self.threads` bulks in flight. A whole bulk refused with 429 or
        5xx comes back as that status for each of its documents."""
        options: dict[str, Any] = {
            "chunk_size": self.chunk_size,
            "max_chunk_bytes": self.config.bulk_bytes,
            "raise_on_error": False,
            "raise_on_exception": True,
            "ignore_status": tuple(sorted(TRANSIENT_STATUSES)),  # retried per document, 429s with back-pressure
        }
        if self.threads > 1:
            return self._helpers.parallel_bulk(self._bulk_client, actions, thread_count=self.threads, **options)
        return self._helpers.streaming_bulk(self._bulk_client, actions, **options)

    def delete(self) -> None:
        """Delete every index behind the alias (the template stays)."""
        self.layout.drop()

    def refresh(self) -> None:
        self.client.indices.refresh(index=self.name)

    def apply(self, changes: Iterable[Change], tally: BulkTally) -> Iterator[Rejection]:
        """Write the changes, each to the index that holds its document (new ones through the alias, to the write
        index), retrying 429/5xx with backoff and smaller bulks; yield the documents rejected for good.

        Raises TransientSearchError when retries run out and SearchExportError on any other refusal, so
        the caller leaves its cursor where it was."""
        pending = {c.session_id: c for c in changes}
        where = self.layout.locate(pending)
        backoff = self.config.initial_backoff
        for attempt in range(self.config.item_retries + 1):
            retry: dict[str, Change] = {}
            exported_at = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
            actions = (to_action(c, where.get(c.session_id, self.name), exported_at) for c in pending.values())
            for _ok, item in self._bulk(actions):
                op_type, result = next(iter(item.items()))
                change = pending[result["_id"]]
                status = int(result.get("status", 500))
                error_type, reason = _error_text(result.get("error"))
                outcome = classify(op_type, status, error_type)
                if outcome is Outcome.APPLIED:
                    if change.is_delete:
                        tally.deleted += 1
                    else:
                        tally.upserted += 1
                elif outcome is Outcome.ALREADY_APPLIED:
                    tally.already_applied += 1
                elif outcome is Outcome.RETRY:
                    retry[change.session_id] = change
                elif outcome is Outcome.FATAL:
                    raise SearchExportError(
                        f"{self.engine.name} refused {op_type} in index {result.get('_index', self.name)} "
                        f"({status} {error_type}): {reason}"
                    )
                else:
                    yield Rejection(change, status, error_type, reason)
            if not retry:
                self.chunk_size = min(self.config.bulk_chunk_size, self.chunk_size * 2)
                if self.chunk_size == self.config.bulk_chunk_size:
                    self.threads = self.config.bulk_threads
                return
            self.chunk_size, self.threads = max(MIN_CHUNK_SIZE, self.chunk_size // 2), 1
            if attempt < self.config.item_retries:
                log.warning(
                    "%d document(s) got 429/5xx; retry %d/%d in %.1fs with bulks of %d",
                    len(retry),
                    attempt + 1,
                    self.config.item_retries,
                    backoff,
                    self.chunk_size,
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
            deleted += self._delete_documents(sorted(ids))
        self.refresh()
        left = self._player_ids(user_key, sessions)
        if left:
            raise TransientSearchError(
                f"{len(left)} document(s) of the player are still in {self.name} after "
                f"{self.config.item_retries} retries: run forget again"
            )
        return deleted

    def _delete_documents(self, documents: list[tuple[str, str]]) -> int:
        """Delete (index, id) documents, lifting a cold index's write block meanwhile: an erasure reaches every
        index, read-only or not. Returns how many were deleted; a refusal other than 429/5xx raises."""
        deleted = 0
        with self.layout.writable({index for index, _ in documents}):
            actions = ({"_op_type": "delete", "_index": index, "_id": doc_id} for index, doc_id in documents)
            for _ok, item in self._helpers.streaming_bulk(
                self.client, actions, raise_on_error=False, raise_on_exception=True, max_retries=0
            ):
                result = item["delete"]
                status = int(result.get("status", 500))
                error_type, reason = _error_text(result.get("error"))
                outcome = classify("delete", status, error_type)
                if outcome is Outcome.APPLIED:
                    deleted += 1
                elif outcome in (Outcome.REJECTED, Outcome.FATAL):
                    raise SearchExportError(
                        f"{self.engine.name} refused to delete a document of index {result.get('_index')} "
                        f"({status} {error_type}): {reason}"
                    )
        return deleted

    def _player_ids(self, user_key: str, sessions: list[str]) -> set[tuple[str, str]]:
        """(index, id) of every document of the player, in whichever index behind the alias it is."""
        should: list[dict[str, Any]] = [{"term": {"user_key": user_key}}]
        should += [
            {"terms": {"session_id": sessions[i : i + _TERMS_CHUNK]}} for i in range(0, len(sessions), _TERMS_CHUNK)
        ]
        query = {"query": {"bool": {"should": should, "minimum_should_match": 1}}, "_source": False}
        # The alias, and any index of its naming outside it (a reindex killed before its swap leaves one).
        where = f"{self.name},{self.layout.pattern}"
        return {(hit["_index"], hit["_id"]) for hit in self._helpers.scan(self.client, index=where, query=query)}
