"""The right to erasure: `forget(user_id)` removes a player from every layer, destroys their data key,
purges old table versions and the search index, and records an audit row without PII.

The table side is the dbt run-operation `forget_player` (macros/privacy/), run in-process on this
SparkSession under the build lock: one implementation and one declaration of where a player's rows live,
whether erasure starts here or from dbt. Idempotent and crash-safe: the player's key and sessions go on
the deny-lists first, so every run (and every later build) finds what an interrupted run left.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from pyspark.sql import SparkSession

from sessionlake.core.errors import InputError
from sessionlake.core.lock import build_lock
from sessionlake.core.settings import Settings
from sessionlake.privacy import audit
from sessionlake.privacy.config import PrivacyConfig, hash_secret
from sessionlake.privacy.keys import pseudonymize
from sessionlake.privacy.operations import OperationError, run_operation

log = logging.getLogger(__name__)

FORGOTTEN_SESSIONS = "pii.forgotten_sessions"


class PlayerDocuments(Protocol):
    """Where a player's documents are searchable (the exporter's index: sessionlake.exporters.search)."""

    def delete_player(self, user_key: str, session_ids: Iterable[str]) -> int:
        """Delete every document of the player (by user_key and by session id); how many were deleted."""


@dataclass(frozen=True)
class ErasureReport:
    request_id: str
    rows_deleted: dict[str, int] = field(default_factory=dict)  # table -> rows deleted by this run
    documents_deleted: int = 0
    keys_destroyed: int = 0
    history_purged: bool = True  # False: some old files wait for the next vacuum (see docs/pii.md)


# A ticket reference: it is written into the audit table through SQL, where `${...}` would be substituted
# (a conf's value, a secret) and a quote would end the literal.
REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}")


def check_request_id(request_id: str) -> str:
    if not REQUEST_ID.fullmatch(request_id):
        raise InputError(
            "--request-id must be 1-128 characters of letters, digits and . _ : / - (starting with a letter or"
            " digit): it is stored in the audit table"
        )
    return request_id


def forget(
    settings: Settings,
    spark: SparkSession,
    user_id: str,
    index: PlayerDocuments,
    request_id: str | None = None,
    config: PrivacyConfig | None = None,
) -> ErasureReport:
    """Erase the player `user_id` everywhere, `index` included; safe to re-run, and while ingest, builds
    and exports run."""
    config = config or PrivacyConfig.from_settings(settings)
    if not user_id or not user_id.strip():
        raise InputError("forget needs a user id (it is empty or blank)")
    request_id = check_request_id(request_id or str(uuid.uuid4()))
    user_key = pseudonymize(user_id, hash_secret())
    args = {"user_key": user_key, "request_id": request_id, "writers_paused": True, "index_pending": True}
    with build_lock(settings.build_lock, wait=config.lock_timeout_seconds):
        table_side = run_operation(settings, spark, "forget_player", args, config.conflict_retries)
    if table_side is None:
        raise OperationError(f"forget {request_id}: forget_player logged no report")
    sessions = [r[0] for r in spark.table(FORGOTTEN_SESSIONS).select("session_id").collect()]
    documents = index.delete_player(user_key, sessions)
    audit.complete(spark, request_id, documents, table_side["rows_deleted"])
    report = ErasureReport(
        request_id=request_id,
        rows_deleted=table_side["rows_deleted"],
        documents_deleted=documents,
        keys_destroyed=table_side["rows_deleted"].get(audit.KEYS_TABLE, 0),
        history_purged=table_side["history_purged"],
    )
    log.info("forget %s: done, %d row(s), %d document(s)", request_id, sum(report.rows_deleted.values()), documents)
    return report
