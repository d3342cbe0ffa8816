"""The build lock: one writer of dbt's tables at a time, across threads and processes (an flock on a file).
dbt builds, `forget`, `retention` and maintenance hold it; so does the exporter while it appends dead
letters, since forget's VACUUM RETAIN 0 HOURS would delete the files of an append in flight."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sessionlake.core.errors import TransientError


class BuildLocked(TransientError):
    """Another build holds the lock."""


@contextmanager
def build_lock(path: Path, wait: float = 0.0) -> Iterator[None]:
    """Hold an exclusive lock on `path` for the duration, waiting up to `wait` seconds for its holder;
    raise BuildLocked if it is still taken then.

    The kernel releases an flock when its holder dies, so a crashed build never leaves a stale lock.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError as exc:
                if time.monotonic() >= deadline:
                    raise BuildLocked(f"another sessionlake writer holds {path}") from exc
                time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)
