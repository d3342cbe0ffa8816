"""Privacy settings and secrets, from environment variables; a missing or malformed one fails clearly."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

MIN_SECRET_LENGTH = 16
MASTER_KEY_BYTES = (16, 24, 32)


class PrivacyConfigError(ValueError):
    """A privacy secret or setting is missing or malformed; the message names the variable, never the value."""


def hash_secret() -> str:
    """The keyed-hash secret (SESSIONLAKE_PII_SECRET), at least 16 characters."""
    secret = os.environ.get("SESSIONLAKE_PII_SECRET", "")
    if len(secret) < MIN_SECRET_LENGTH:
        raise PrivacyConfigError(f"SESSIONLAKE_PII_SECRET is missing or shorter than {MIN_SECRET_LENGTH} characters")
    return secret


def master_key() -> bytes:
    """The master key (SESSIONLAKE_PII_MASTER_KEY): hex of 16, 24 or 32 bytes."""
    text = os.environ.get("SESSIONLAKE_PII_MASTER_KEY", "")
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) not in MASTER_KEY_BYTES or len(text) != 2 * len(key):
        raise PrivacyConfigError("SESSIONLAKE_PII_MASTER_KEY is missing or malformed: the hex of 16, 24 or 32 bytes")
    return key


def _days(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise PrivacyConfigError(f"{name}={raw!r} is not a whole number of days >= 1")
    return int(raw)


@dataclass(frozen=True)
class PrivacyConfig:
    """How erasure and retention behave."""

    bronze_retention_days: int = field(default_factory=lambda: _days("SESSIONLAKE_BRONZE_RETENTION_DAYS", 7))
    lock_timeout_seconds: float = 900.0  # how long forget waits for a running dbt build to finish
    conflict_retries: int = 8  # Delta commit conflicts with concurrent writers, retried with backoff
