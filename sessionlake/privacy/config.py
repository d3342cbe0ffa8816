"""Privacy secrets and settings; a missing or malformed secret fails clearly, naming the variable, never the value."""

from __future__ import annotations

from dataclasses import dataclass

from sessionlake.core.errors import ConfigurationError
from sessionlake.core.settings import Settings, secret

MIN_SECRET_LENGTH = 16
MASTER_KEY_BYTES = (16, 24, 32)


class PrivacyConfigError(ConfigurationError):
    """A privacy secret or setting is missing or malformed; the message names the variable, never the value."""


def hash_secret() -> str:
    """The keyed-hash secret (SESSIONLAKE_PII_SECRET), at least 16 characters."""
    value = secret("SESSIONLAKE_PII_SECRET")
    if len(value) < MIN_SECRET_LENGTH:
        raise PrivacyConfigError(f"SESSIONLAKE_PII_SECRET is missing or shorter than {MIN_SECRET_LENGTH} characters")
    return value


def master_key(variable: str = "SESSIONLAKE_PII_MASTER_KEY") -> bytes:
    """A master key (default SESSIONLAKE_PII_MASTER_KEY; a rotation's next one: SESSIONLAKE_PII_NEXT_MASTER_KEY):
    hex of 16, 24 or 32 bytes."""
    text = secret(variable)
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) not in MASTER_KEY_BYTES or len(text) != 2 * len(key):
        raise PrivacyConfigError(f"{variable} is missing or malformed: the hex of 16, 24 or 32 bytes")
    return key


@dataclass(frozen=True)
class PrivacyConfig:
    """How erasure and retention behave."""

    bronze_retention_days: int = 7
    lock_timeout_seconds: float = 900.0  # how long forget waits for a running dbt build to finish
    conflict_retries: int = 8  # Delta commit conflicts with concurrent writers, retried with backoff

    @classmethod
    def from_settings(cls, settings: Settings) -> PrivacyConfig:
        return cls(bronze_retention_days=settings.privacy.bronze_retention_days)
