"""Environment for the embedded local stack only: moto's dummy AWS credentials, loopback Spark, secrets.

Production passes every secret through the environment. On the local stack (no endpoint
overrides) a missing secret is generated once into `<home>/secrets.env` (mode 0600, outside git)
so that pseudonymous keys stay stable across local runs. Values are never logged.
"""

from __future__ import annotations

import logging
import os
import secrets

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
    """Fill missing secret env vars from (or into) the local secrets file."""
    missing = [name for name in SECRET_CONFS if not secret(name)]
    if not missing:
        return
    path = settings.home / "secrets.env"
    stored: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, _, value = line.partition("=")
            stored[name] = value
    for name in missing:
        if name not in stored:
            stored[name] = secrets.token_hex(32)
            log.info("generated a local %s in %s (production sets it in the environment)", name, path)
        os.environ[name] = stored[name]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.writelines(f"{name}={value}\n" for name, value in sorted(stored.items()))
