"""Idempotent Delta appends: each micro-batch is committed once per table, however often it runs."""

from __future__ import annotations

from pyspark.sql import DataFrame


def append_once(frame: DataFrame, path: str, app_id: str, batch_id: int) -> None:
    """Append unless this (app_id, batch_id) is already committed to the table.

    Delta records `txnAppId`/`txnVersion` in the same commit as the data and skips a write whose
    version is not above the last one recorded for the app id, so a batch replayed after a crash
    lands once.
    """
    (
        frame.write.format("delta")
        .mode("append")
        .option("txnAppId", app_id)
        .option("txnVersion", batch_id)
        .save(str(path))
    )
