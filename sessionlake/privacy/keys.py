"""Python twin of the dbt `pseudonymize` macro (macros/pii/pseudonymize.sql), for tests and tools."""

from __future__ import annotations

import hashlib
import hmac


def pseudonymize(value: str, secret: str) -> str:
    """HMAC-SHA-256 of the value's UTF-8 bytes keyed with the secret's, hex: equal to Spark SQL's
    `sessionlake_pseudonymize(value)` in a session whose spark.sessionlake.pii.hashkey is `secret`."""
    return hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()
