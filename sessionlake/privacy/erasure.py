"""The right to erasure: `forget(user_id)` removes a player from every layer, destroys their data key,
purges old table versions and the search index, and records an audit row without PII.

Idempotent and crash-safe: every step can run again. Tables that link rows to the player (user_key,
user_id) are emptied last, so a run killed half-way still finds the player's sessions on the next run.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from sessionlake.privacy import audit
from sessionlake.privacy.config import PrivacyConfig, hash_secret
from sessionlake.privacy.delta import Table, delta_tables, merge_delete, purge_history
from sessionlake.privacy.search import delete_player_documents
from sessionlake.settings import Settings
from sessionlake.transform.lock import BuildLocked, build_lock
from sessionlake.transform.pii import pseudonymize

log = logging.getLogger(__name__)

KEYS_TABLE = "pii.pii_player_keys"
_VICTIMS = "_sessionlake_forget_victims"
_LINKS = ("user_key", "user_id")


@dataclass(frozen=True)
class ErasureReport:
    request_id: str
    rows_deleted: dict[str, int] = field(default_factory=dict)  # table -> rows deleted by this run
    documents_deleted: int = 0
    keys_destroyed: int = 0
    history_purged: bool = True  # False: some old files wait for the next vacuum (see docs/pii.md)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


@contextmanager
def _wait_for_build_lock(settings: Settings, timeout: float) -> Iterator[None]:
    """Hold the dbt build lock (no build runs meanwhile), waiting up to `timeout` for a running build."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with build_lock(settings.home / "dbt" / "build.lock"):
                yield
            return
        except BuildLocked:
            if time.monotonic() > deadline:
                raise
            time.sleep(2.0)


def _condition(table: Table) -> str | None:
    """How a row of `table` belongs to the player (over t = table, v = victims), or None if it cannot."""
    parts = [f"t.{column} = v.{column}" for column in ("session_id", *_LINKS) if column in table.columns]
    if not parts and "_raw" in table.columns:  # quarantine: the raw record names the player or a session
        parts = [f"instr(cast(t._raw as string), v.{column}) > 0" for column in ("session_id", "user_id")]
    return " or ".join(parts) or None


def _order(table: Table) -> tuple[int, int, str]:
    """Unlinked tables first, then link tables from gold down to bronze, then the vault, the keys last."""
    linked = any(column in table.columns for column in _LINKS) or "session_id" not in table.columns
    layer = {"gold": 0, "silver": 1, "bronze": 2, "pii": 3}.get(table.schema, 1)
    return (int(linked), 4 if table.name == KEYS_TABLE else layer, table.name)


def player_sessions(spark: SparkSession, tables: list[Table], user_id: str, user_key: str) -> set[str]:
    """Ids of every session any table links to the player (through user_key or the raw user_id)."""
    frames: list[DataFrame] = []
    for table in tables:
        if "session_id" not in table.columns:
            continue
        link = next((column for column in _LINKS if column in table.columns), None)
        if link is not None:
            value = user_key if link == "user_key" else user_id
            frames.append(spark.table(table.name).where(F.col(link) == value).select("session_id"))
    if not frames:
        return set()
    union = frames[0]
    for frame in frames[1:]:
        union = union.union(frame)
    return {row[0] for row in union.where("session_id is not null").distinct().collect()}


def forget(
    settings: Settings,
    spark: SparkSession,
    user_id: str,
    request_id: str | None = None,
    config: PrivacyConfig | None = None,
) -> ErasureReport:
    """Erase the player `user_id` everywhere; safe to re-run, and while ingest, builds and exports run."""
    config = config or PrivacyConfig()
    if not user_id:
        raise ValueError("forget needs a user id")
    user_key = pseudonymize(user_id, hash_secret())
    request_id = request_id or str(uuid.uuid4())
    requested_at = _now()
    with _wait_for_build_lock(settings, config.lock_timeout_seconds):
        tables = [t for schema in config.schemas for t in delta_tables(spark, schema) if t.name != config.audit_table]
        sessions = player_sessions(spark, tables, user_id, user_key)
        log.info("forget %s: %d session(s) across %d table(s)", request_id, len(sessions), len(tables))
        victims = [(s, None, None) for s in sorted(sessions)] + [(None, user_key, user_id)]
        spark.createDataFrame(victims, "session_id string, user_key string, user_id string").createOrReplaceTempView(
            _VICTIMS
        )
        rows: dict[str, int] = {}
        purged = True
        try:
            for table in sorted(tables, key=_order):
                condition = _condition(table)
                if condition is None:
                    continue
                rows[table.name] = merge_delete(spark, table.name, _VICTIMS, condition, config.conflict_retries)
            for table in tables:
                writers_paused = table.schema != "bronze"  # ingest appends to bronze at any time
                purged &= purge_history(spark, table.name, writers_paused, config.conflict_retries)
        finally:
            spark.catalog.dropTempView(_VICTIMS)
    documents = delete_player_documents(settings, user_key, sessions)
    report = ErasureReport(
        request_id=request_id,
        rows_deleted=rows,
        documents_deleted=documents,
        keys_destroyed=rows.get(KEYS_TABLE, 0),
        history_purged=purged,
    )
    audit.record(
        spark,
        config.audit_table,
        audit.AuditRow(
            request_id=request_id,
            requested_at=requested_at,
            completed_at=_now(),
            rows_deleted=rows,
            documents_deleted=documents,
            keys_destroyed=report.keys_destroyed,
            tables_purged=sorted(t.name for t in tables),
            history_purged=purged,
        ),
    )
    log.info("forget %s: done, %d row(s), %d document(s)", request_id, sum(rows.values()), documents)
    return report
