"""Privacy: the keys of the PII vault, the right to erasure (forget) and bronze retention of raw PII."""

from sessionlake.privacy.config import PrivacyConfig, PrivacyConfigError
from sessionlake.privacy.erasure import ErasureReport, forget
from sessionlake.privacy.retention import RetentionReport, apply_retention

__all__ = [
    "ErasureReport",
    "PrivacyConfig",
    "PrivacyConfigError",
    "RetentionReport",
    "apply_retention",
    "forget",
]
