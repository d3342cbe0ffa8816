"""Master-key rotation: every player's data key re-wrapped with the next master key, and the table's older
versions purged, so a backup of the old wrapped keys plus the old master key cannot undo an erasure made
after the rotation (docs/pii.md, "Rotating the master key")."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import SparkSession

from sessionlake.core.lock import build_lock
from sessionlake.core.settings import Settings
from sessionlake.privacy.config import PrivacyConfig, PrivacyConfigError, master_key
from sessionlake.privacy.operations import OperationError, run_operation

NEXT_KEY_VARIABLE = "SESSIONLAKE_PII_NEXT_MASTER_KEY"
NEXT_KEY_CONF = "spark.sessionlake.pii.masterkey.next"  # read by sessionlake_master_key('next')


@dataclass(frozen=True)
class RotationReport:
    keys_rewrapped: int
    history_purged: bool


def rotate_master_key(settings: Settings, spark: SparkSession, config: PrivacyConfig | None = None) -> RotationReport:
    """Re-wrap every data key from SESSIONLAKE_PII_MASTER_KEY to SESSIONLAKE_PII_NEXT_MASTER_KEY under the
    build lock (no build writes the vault meanwhile); safe to run again after a failure."""
    config = config or PrivacyConfig.from_settings(settings)
    current, upcoming = master_key(), master_key(NEXT_KEY_VARIABLE)
    if current == upcoming:
        raise PrivacyConfigError(f"{NEXT_KEY_VARIABLE} equals SESSIONLAKE_PII_MASTER_KEY: nothing to rotate to")
    spark.conf.set(NEXT_KEY_CONF, upcoming.hex())
    try:
        with build_lock(settings.build_lock, wait=config.lock_timeout_seconds):
            report = run_operation(
                settings, spark, "rotate_master_key", {"writers_paused": True}, config.conflict_retries
            )
    finally:
        spark.conf.unset(NEXT_KEY_CONF)
    if report is None:
        raise OperationError("rotate_master_key logged no report")
    return RotationReport(keys_rewrapped=report["keys_rewrapped"], history_purged=report["history_purged"])
