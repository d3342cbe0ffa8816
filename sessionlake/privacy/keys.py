"""Python twin of the dbt `pseudonymize` macro (macros/pii/pseudonymize.sql), for tests and tools."""

from __future__ import annotations

import hashlib


def pseudonymize(value: str, secret: str) -> str:
    """Keyed SHA-256 of a PII value, hex: equal to `sha2(concat(secret, ':', value), 256)` in Spark SQL."""
    return hashlib.sha256(f"{secret}:{value}".encode()).hexdigest()
