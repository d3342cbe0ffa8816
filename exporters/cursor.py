"""The durable cursor: the last Delta commit version whose every change the search engine acknowledged."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from sessionlake.core import storage
from sessionlake.core.errors import SessionlakeError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


class CursorError(SessionlakeError):
    """The cursor file is unreadable or belongs to another table."""


@dataclass(frozen=True)
class Cursor:
    table: str
    table_id: str  # Delta table id: new after CREATE OR REPLACE, or a drop and re-create
    index: str
    version: int
    commit_millis: int  # commit timestamp of `version`: tells a continued history from a restarted one


class CursorStore:
    """One JSON file per (table, index) under the checkpoint location, replaced atomically (a local folder:
    write, fsync, rename, fsync dir; object storage: one whole-object PUT)."""

    def __init__(self, directory: str, table: str, index: str, spark: SparkSession | None = None) -> None:
        self.table = table
        self.index = index
        self.path = storage.join(str(directory), f"{table}--{index}.json")
        self.files = storage.files(self.path, spark)

    def load(self) -> Cursor | None:
        text = self.files.read_text(self.path)
        if text is None:
            return None
        try:
            raw = json.loads(text)
            cursor = Cursor(
                table=raw["table"],
                table_id=raw["table_id"],
                index=raw["index"],
                version=int(raw["version"]),
                commit_millis=int(raw["commit_millis"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise CursorError(f"export cursor {self.path} is unreadable ({exc}); delete it to re-export") from exc
        if (cursor.table, cursor.index) != (self.table, self.index):
            raise CursorError(f"export cursor {self.path} is for {cursor.table} -> {cursor.index}")
        return cursor

    def save(self, cursor: Cursor) -> None:
        body = asdict(cursor) | {"saved_at": datetime.now(timezone.utc).isoformat()}
        self.files.replace_text(self.path, json.dumps(body))

    def clear(self) -> None:
        self.files.delete(self.path)
