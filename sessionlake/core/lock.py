"""A build lock: one dbt build at a time, across threads and processes (an flock on a file)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sessionlake.core.errors import TransientError


class BuildLocked(TransientError):
    """Another build holds the lock."""


@contextmanager
def build_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive, non-blocking lock on `path` for the duration; raise BuildLocked if taken.

    The kernel releases an flock when its holder dies, so a crashed build never leaves a stale lock.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BuildLocked(f"another sessionlake build holds {path}") from exc
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)
