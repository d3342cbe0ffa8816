"""The durable cursor: the last Delta commit version whose every change the search engine acknowledged."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from sessionlake.core.errors import SessionlakeError


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
    """One JSON file per (table, index), replaced atomically (write, fsync, rename, fsync dir)."""

    def __init__(self, directory: Path, table: str, index: str) -> None:
        self.table = table
        self.index = index
        self.path = directory / f"{table}--{index}.json"

    def load(self) -> Cursor | None:
        if not self.path.exists():
            return None
        try:
            raw = json.loads(self.path.read_text())
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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = asdict(cursor) | {"saved_at": datetime.now(timezone.utc).isoformat()}
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(body, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
