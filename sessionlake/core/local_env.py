"""Environment for the embedded local stack only: moto's dummy AWS credentials, loopback Spark, secrets.

Production passes every secret through the environment. On the local stack (no endpoint
overrides) a missing secret is generated once into `<home>/secrets.env` (mode 0600, outside git)
so that pseudonymous keys stay stable across local runs. Values are never logged.
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sessionlake.core import storage
from sessionlake.core.settings import Settings, secret
from sessionlake.core.spark import SECRET_CONFS

log = logging.getLogger(__name__)


def prepare_local_env(settings: Settings) -> None:
    """Defaults for the local stack; outside it (any endpoint override) nothing is touched."""
    if not settings.is_local:
        return
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")  # moto accepts any credentials
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", settings.aws_region)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    _ensure_local_secrets(settings)


def _ensure_local_secrets(settings: Settings) -> None:
    """Fill missing secret env vars from (or into) the local secrets file.

    Concurrent starts (ingest and build started together) agree: the file is read and completed under an
    exclusive lock, and a new version is written to a temporary file created with mode 0600, synced, then
    renamed over the old one, so a reader or a crash never sees a truncated file.
    """
    missing = [name for name in SECRET_CONFS if not secret(name)]
    if not missing:
        return
    path = settings.home / "secrets.env"
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path.with_name(path.name + ".lock")):
        stored = _read_secrets(path)
        generated = [name for name in missing if name not in stored]
        for name in generated:
            stored[name] = secrets.token_hex(32)
            log.info("generated a local %s in %s (production sets it in the environment)", name, path)
        if generated:
            _write_atomically(path, "".join(f"{name}={value}\n" for name, value in sorted(stored.items())))
    for name in missing:
        os.environ[name] = stored[name]


def _read_secrets(path: Path) -> dict[str, str]:
    stored: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep and value:
                stored[name] = value
    return stored


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _write_atomically(path: Path, text: str) -> None:
    """Whole or not at all, mode 0600 from creation (mkstemp's temporary file is the user's only)."""
    storage.LocalFiles().replace_text(str(path), text)
